"""Live chat with the Werkcentrum (issue 16): chats, their messages, staff presence and office
hours per region (bot/live).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
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
    # Stubs of the tables they refer to, so the foreign keys resolve.
    sa.Table("arbeidsmarktregio", md, sa.Column("code", sa.String(8), primary_key=True))
    sa.Table("gemeente", md, sa.Column("code", sa.String(8), primary_key=True))
    sa.Table("staff_user", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("handover", md, sa.Column("id", sa.Integer, primary_key=True))
    C, FK = sa.Column, sa.ForeignKey
    chat = sa.Table(
        "live_chat", md,
        C("id", sa.Integer, primary_key=True),
        C("conversation_id", sa.String(200), nullable=False, index=True),
        C("channel", sa.String(20), nullable=False),
        C("status", sa.String(10), nullable=False, index=True),
        C("region_code", sa.String(8), FK("arbeidsmarktregio.code"), index=True),
        C("gemeente_code", sa.String(8), FK("gemeente.code")),
        C("topics", sa.Text, nullable=False),
        C("before", sa.Text, nullable=False),
        C("consented_at", sa.DateTime, nullable=False),
        C("requested_at", sa.DateTime, nullable=False, index=True),
        C("updated_at", sa.DateTime, nullable=False),
        C("picked_up_at", sa.DateTime),
        C("picked_up_by", sa.Integer, FK("staff_user.id", ondelete="SET NULL")),
        C("staff_name", sa.String(200), nullable=False),
        C("ended_at", sa.DateTime),
        C("ended_by", sa.Integer, FK("staff_user.id", ondelete="SET NULL")),
        C("handover_id", sa.Integer, FK("handover.id", ondelete="SET NULL")),
        C("resume", sa.String(12)),
        C("resume_claimed_at", sa.DateTime),
        C("staff_typing_at", sa.DateTime),
        C("crisis", sa.Boolean, nullable=False),
        sa.CheckConstraint("status IN ('waiting', 'active', 'returned', 'ended', 'handover')", name="status"),
    )
    message = sa.Table(
        "live_message", md,
        C("id", sa.Integer, primary_key=True),
        C("chat_id", sa.Integer, FK("live_chat.id", ondelete="CASCADE"), nullable=False, index=True),
        C("created_at", sa.DateTime, nullable=False),
        C("author", sa.String(8), nullable=False),
        C("user_id", sa.Integer, FK("staff_user.id", ondelete="SET NULL")),
        C("text", sa.Text, nullable=False),
        C("payload", sa.Text),
        C("client_ref", sa.String(64)),
        C("to_person", sa.Boolean, nullable=False),
        C("crisis", sa.Boolean, nullable=False),
        C("delivery_claimed_at", sa.DateTime),
        C("delivered_at", sa.DateTime),
        C("delivery_error", sa.String(200)),
        sa.UniqueConstraint("chat_id", "author", "client_ref", name="client_ref"),
        sa.CheckConstraint("author IN ('person', 'staff', 'gids', 'system')", name="author"),
    )
    presence = sa.Table(
        "staff_presence", md,
        C("user_id", sa.Integer, FK("staff_user.id", ondelete="CASCADE"), primary_key=True),
        C("available", sa.Boolean, nullable=False),
        C("changed_at", sa.DateTime, nullable=False),
        C("seen_at", sa.DateTime, nullable=False, index=True),
    )
    hours = sa.Table(
        "live_hours", md,
        C("id", sa.Integer, primary_key=True),
        C("region_code", sa.String(8), FK("arbeidsmarktregio.code"), nullable=False),
        C("weekday", sa.Integer, nullable=False),
        C("opens", sa.String(5), nullable=False),
        C("closes", sa.String(5), nullable=False),
        sa.UniqueConstraint("region_code", "weekday", name="region_day"),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        sa.CheckConstraint("opens < closes", name="opens_before_closes"),
    )
    bind = op.get_bind()
    for table in (chat, message, presence, hours):
        table.create(bind)


def downgrade() -> None:
    for name in ("live_hours", "staff_presence", "live_message", "live_chat"):
        op.drop_table(name)
