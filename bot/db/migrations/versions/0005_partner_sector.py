"""The sectoral route (issue 14): a partner of type `sectorfonds` (a sector's O&O/A&O fund or
career portal) has a sector key and the words people use for that sector and its jobs.

Two nullable columns on `partner`, so the administrator's export and import carry them like the
other partner fields. The sector funds themselves come with the seed (`gids routing seed`, or
`gids routing seed --if-empty` on a table filled before they existed).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, no constraint) works the same on SQLite and PostgreSQL.
    op.add_column("partner", sa.Column("sector", sa.String(40), nullable=True))
    op.add_column("partner", sa.Column("sector_words", sa.Text, nullable=True))


def downgrade() -> None:
    # The sector funds stay as partners (with their services); only their sector words go.
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+) rather than batch mode, whose copy-and-drop of
    # `partner` would cascade to its services (as in 0004).
    for column in ("sector_words", "sector"):
        op.execute(f"ALTER TABLE partner DROP COLUMN {column}")
