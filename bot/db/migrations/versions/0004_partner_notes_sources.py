"""Reachable partners (issue 14): a partner's administrator note apart from its name, who verified
the row and when, and where each contact detail comes from (with a doubt that keeps it from
people until the row is verified).

The seed's regional partners had such notes glued into their names ("Huis naar Werk (Eindhoven,
Stadhuisplein) - één loket; …"). Rows that still carry exactly such a seeded name get the clean
name and the note; a name an administrator changed is left alone. Ids do not change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (partner id, name as the seed of 2026-11-22 wrote it, name a person sees, note for administrators)
SEEDED_NAMES = (
    ("werkcentrum", "Werkcentrum.nl", "Werkcentrum.nl", "landelijke basiswebsite, verwijst naar de regio"),
    ("werkcentrum-AM01-werkcentrum-groningen-noord-drenthe-harm",
     "Werkcentrum Groningen Noord-Drenthe (Harm Buiterplein, Groningen)",
     "Werkcentrum Groningen Noord-Drenthe", "locatie Harm Buiterplein, Groningen"),
    ("werkcentrum-AM34-regionaal-werkcentrum-rwc-zuid-holland-c",
     "Regionaal Werkcentrum (RWC) Zuid-Holland Centraal (intentie 7 sep 2023)",
     "Regionaal Werkcentrum Zuid-Holland Centraal", "intentie 7 sep 2023; bestaan niet bevestigd"),
    ("werkcentrum-AM37-regionaal-werkcentrum-zuid-kennemerland-",
     "Regionaal werkcentrum Zuid-Kennemerland en IJmond (intentie 10 mei 2023; voortbouwend op RMT ZKIJ)",
     "Regionaal Werkcentrum Zuid-Kennemerland en IJmond",
     "intentie 10 mei 2023, voortbouwend op RMT ZKIJ; bestaan niet bevestigd"),
    ("werkcentrum-AM28-huis-naar-werk-eindhoven-stadhuisplein-n",
     "Huis naar Werk (Eindhoven, Stadhuisplein) - één loket; status als officieel Werkcentrum niet bevestigd",
     "Huis naar Werk", "Eindhoven, Stadhuisplein; één loket; status als officieel Werkcentrum niet bevestigd"),
    ("wsp-AM13-wsp-midden-utrecht-tot-2021-wsp-utrecht-",
     "WSP Midden-Utrecht (tot 2021: WSP Utrecht-Midden)", "WSP Midden-Utrecht", "tot 2021: WSP Utrecht-Midden"),
    ("wsp-AM30-werkgeversdienstverlening-zuid-limburg-s",
     "Werkgeversdienstverlening Zuid-Limburg (samenwerking Podium24, WSP Parkstad, UWV, Westelijke Mijnstreek)",
     "Werkgeversdienstverlening Zuid-Limburg",
     "samenwerking van Podium24, WSP Parkstad, UWV en Westelijke Mijnstreek"),
    ("wsp-AM30-podium24-werkgeversservicepunt-maastrich",
     "Podium24 (werkgeversservicepunt Maastricht-Heuvelland)", "Podium24",
     "werkgeversservicepunt Maastricht-Heuvelland"),
    ("wsp-AM09-werkgeversservicepunt-wsp-achterhoek", "Werkgeversservicepunt (WSP) Achterhoek",
     "Werkgeversservicepunt Achterhoek", None),
)


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, no constraint) works the same on SQLite and PostgreSQL.
    op.add_column("partner", sa.Column("note", sa.Text, nullable=True))
    op.add_column("partner", sa.Column("verified_at", sa.DateTime, nullable=True))
    op.add_column("partner", sa.Column("verified_by", sa.String(200), nullable=True))
    op.create_table(
        "partner_field_source",
        sa.Column("partner_id", sa.String(80), nullable=False),
        sa.Column("field", sa.String(20), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("checked_on", sa.Date, nullable=True),
        sa.Column("doubt", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(["partner_id"], ["partner.id"], ondelete="CASCADE",
                                name="fk_partner_field_source_partner_id_partner"),
        sa.PrimaryKeyConstraint("partner_id", "field", name="pk_partner_field_source"),
    )
    fix = sa.text("UPDATE partner SET name = :name, note = :note WHERE id = :id AND name = :old")
    for pid, old, name, note in SEEDED_NAMES:
        op.get_bind().execute(fix, {"id": pid, "old": old, "name": name, "note": note})


def downgrade() -> None:
    # Names stay clean; the notes go with their column. ALTER TABLE … DROP COLUMN (SQLite 3.35+)
    # rather than batch mode, whose copy-and-drop of `partner` would cascade to its services.
    op.drop_table("partner_field_source")
    for column in ("verified_by", "verified_at", "note"):
        op.execute(f"ALTER TABLE partner DROP COLUMN {column}")
