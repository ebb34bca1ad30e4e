"""The routing table: regions, gemeenten, woonplaatsen, postcodes, aliases, partners, services.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def provenance():
    return [sa.Column("source", sa.Text(), nullable=False, server_default=""),
            sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false())]


def upgrade() -> None:
    op.create_table(
        "arbeidsmarktregio",
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        *provenance(),
    )
    op.create_table(
        "gemeente",
        sa.Column("code", sa.String(8), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("province", sa.String(60), nullable=False),
        sa.Column("region_code", sa.String(8), sa.ForeignKey("arbeidsmarktregio.code", name="fk_gemeente_region_code_arbeidsmarktregio"), nullable=False),
        *provenance(),
    )
    op.create_index("ix_gemeente_region_code", "gemeente", ["region_code"])
    op.create_table(
        "woonplaats",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("basename", sa.String(120), nullable=False),
        sa.Column("gemeente_code", sa.String(8), sa.ForeignKey("gemeente.code", name="fk_woonplaats_gemeente_code_gemeente"), nullable=False),
        *provenance(),
        sa.UniqueConstraint("code", name="uq_woonplaats_code"),
    )
    op.create_index("ix_woonplaats_basename", "woonplaats", ["basename"])
    op.create_index("ix_woonplaats_gemeente_code", "woonplaats", ["gemeente_code"])
    op.create_table(
        "postcode",
        sa.Column("pc4", sa.String(4), primary_key=True),
        sa.Column("gemeente_code", sa.String(8), sa.ForeignKey("gemeente.code", name="fk_postcode_gemeente_code_gemeente"), primary_key=True),
        sa.Column("share", sa.Float(), nullable=False, server_default="1"),
        *provenance(),
    )
    op.create_table(
        "place_alias",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("alias", sa.String(120), nullable=False),
        sa.Column("gemeente_code", sa.String(8), sa.ForeignKey("gemeente.code", name="fk_place_alias_gemeente_code_gemeente"), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False, server_default=""),
        *provenance(),
        sa.UniqueConstraint("alias", "gemeente_code", name="uq_place_alias_alias"),
    )
    op.create_index("ix_place_alias_alias", "place_alias", ["alias"])
    op.create_table(
        "partner",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("website", sa.String(300)),
        sa.Column("phone", sa.String(60)),
        sa.Column("phone_hours", sa.String(200)),
        sa.Column("email", sa.String(200)),
        sa.Column("address", sa.String(300)),
        sa.Column("opening_hours", sa.String(200)),
        sa.Column("handover_email", sa.String(200)),
        sa.Column("handover_webhook", sa.String(300)),
        sa.Column("region_code", sa.String(8), sa.ForeignKey("arbeidsmarktregio.code", name="fk_partner_region_code_arbeidsmarktregio")),
        sa.Column("gemeente_code", sa.String(8), sa.ForeignKey("gemeente.code", name="fk_partner_gemeente_code_gemeente")),
        sa.Column("checked_on", sa.Date()),
        *provenance(),
    )
    op.create_index("ix_partner_type", "partner", ["type"])
    op.create_index("ix_partner_region_code", "partner", ["region_code"])
    op.create_index("ix_partner_gemeente_code", "partner", ["gemeente_code"])
    op.create_table(
        "service",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("partner_id", sa.String(80), sa.ForeignKey("partner.id", ondelete="CASCADE", name="fk_service_partner_id_partner"), nullable=False),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("region_code", sa.String(8), sa.ForeignKey("arbeidsmarktregio.code", name="fk_service_region_code_arbeidsmarktregio")),
        sa.Column("gemeente_code", sa.String(8), sa.ForeignKey("gemeente.code", name="fk_service_gemeente_code_gemeente")),
        sa.Column("audience", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False, server_default=""),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="50"),
        sa.Column("valid_from", sa.Date()),
        sa.Column("valid_until", sa.Date()),
        *provenance(),
        sa.CheckConstraint("scope IN ('national', 'region', 'gemeente')", name="ck_service_scope"),
        sa.CheckConstraint("audience IN ('werkzoekende', 'werkende', 'werkgever')", name="ck_service_audience"),
        sa.CheckConstraint(
            "(scope = 'national' AND region_code IS NULL AND gemeente_code IS NULL) OR "
            "(scope = 'region' AND region_code IS NOT NULL AND gemeente_code IS NULL) OR "
            "(scope = 'gemeente' AND gemeente_code IS NOT NULL)", name="ck_service_scope_target"),
    )
    op.create_index("ix_service_partner_id", "service", ["partner_id"])
    op.create_index("ix_service_lookup", "service", ["topic", "audience", "scope"])


def downgrade() -> None:
    for table in ("service", "partner", "place_alias", "postcode", "woonplaats", "gemeente",
                  "arbeidsmarktregio"):
        op.drop_table(table)
