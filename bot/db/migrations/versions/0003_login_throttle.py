"""The login_throttle table: console login failures counted per keyed user name and client
address, atomically (security review, issue 13). Handover references need no schema change.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_end", sa.DateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_login_throttle"),
    )
    op.create_index("ix_login_throttle_window_end", "login_throttle", ["window_end"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_window_end", table_name="login_throttle")
    op.drop_table("login_throttle")
