"""Partners keep their own card current (issue 14): a partner's staff propose a change to their
organisation's contact details in the console; the Werkcentrum of the region or an administrator
approves or rejects it (bot/routing/changes.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copy of the naming convention in bot/db/models.py: constraint names must not change.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def upgrade() -> None:
    md = sa.MetaData(naming_convention=NAMING)
    # Stubs of the tables it refers to, so the foreign keys resolve.
    sa.Table("partner", md, sa.Column("id", sa.String(80), primary_key=True))
    sa.Table("staff_user", md, sa.Column("id", sa.Integer, primary_key=True))
    C, FK = sa.Column, sa.ForeignKey
    table = sa.Table(
        "partner_change_request", md,
        C("id", sa.Integer, primary_key=True),
        C("partner_id", sa.String(80), FK("partner.id", ondelete="CASCADE"), nullable=False, index=True),
        C("status", sa.String(10), nullable=False, index=True),
        C("new_values", sa.Text, nullable=False),
        C("old_values", sa.Text, nullable=False),
        C("proposed_by", sa.String(200), nullable=False),
        C("proposed_by_user_id", sa.Integer, FK("staff_user.id", ondelete="SET NULL")),
        C("proposed_at", sa.DateTime, nullable=False),
        C("decided_by", sa.String(200)),
        C("decided_by_user_id", sa.Integer, FK("staff_user.id", ondelete="SET NULL")),
        C("decided_at", sa.DateTime),
        C("reason", sa.Text),
        sa.CheckConstraint("status IN ('proposed', 'approved', 'rejected', 'withdrawn')", name="status"),
    )
    table.create(op.get_bind())


def downgrade() -> None:
    op.drop_table("partner_change_request")
