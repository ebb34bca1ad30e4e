"""Handovers, transcripts, notes, the notification outbox, staff users, API tokens, the audit log,
question signals (trends) and the channels' seen-message and contact tables.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
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
TABLES = ("staff_user", "handover", "transcript_line", "handover_note", "outbox_message",
          "api_token", "audit_log", "question_signal", "channel_message_seen", "channel_contact")


def _tables(md: sa.MetaData) -> None:
    # Reflected stubs of the 0001 tables these refer to, so the foreign keys resolve.
    sa.Table("arbeidsmarktregio", md, sa.Column("code", sa.String(8), primary_key=True))
    sa.Table("gemeente", md, sa.Column("code", sa.String(8), primary_key=True))
    sa.Table("partner", md, sa.Column("id", sa.String(80), primary_key=True))
    sa.Table("service", md, sa.Column("id", sa.Integer, primary_key=True))
    C, FK = sa.Column, sa.ForeignKey
    sa.Table(
        "staff_user", md,
        C("id", sa.Integer, primary_key=True),
        C("username", sa.String(120), nullable=False, unique=True),
        C("display_name", sa.String(200), nullable=False),
        C("password_hash", sa.String(300), nullable=False),
        C("role", sa.String(12), nullable=False),
        C("region_code", sa.String(8), FK("arbeidsmarktregio.code")),
        C("partner_id", sa.String(80), FK("partner.id")),
        C("active", sa.Boolean, nullable=False),
        C("created_at", sa.DateTime, nullable=False),
        C("last_login_at", sa.DateTime),
        sa.CheckConstraint("role IN ('werkcentrum', 'partner', 'admin')", name="role"),
        sa.CheckConstraint("role != 'partner' OR partner_id IS NOT NULL", name="partner_has_partner"),
        sa.CheckConstraint("role != 'werkcentrum' OR region_code IS NOT NULL", name="werkcentrum_has_region"),
    )
    sa.Table(
        "handover", md,
        C("id", sa.Integer, primary_key=True),
        C("reference", sa.String(20), unique=True),
        C("created_at", sa.DateTime, nullable=False, index=True),
        C("updated_at", sa.DateTime, nullable=False),
        C("status", sa.String(10), nullable=False, index=True),
        C("conversation_id", sa.String(200), nullable=False, index=True),
        C("channel", sa.String(20), nullable=False),
        C("partner_id", sa.String(80), FK("partner.id"), nullable=False, index=True),
        C("service_id", sa.Integer, FK("service.id", ondelete="SET NULL")),
        C("region_code", sa.String(8), FK("arbeidsmarktregio.code"), index=True),
        C("gemeente_code", sa.String(8), FK("gemeente.code")),
        C("topics", sa.Text, nullable=False),
        C("audience", sa.String(20), nullable=False),
        C("reason", sa.String(20), nullable=False),
        C("contact_name", sa.String(200), nullable=False),
        C("contact_method", sa.String(10), nullable=False),
        C("contact_value", sa.String(200), nullable=False),
        C("summary", sa.Text, nullable=False),
        C("claimed_by", sa.Integer, FK("staff_user.id", ondelete="SET NULL")),
        C("claimed_at", sa.DateTime),
        C("closed_at", sa.DateTime),
        sa.CheckConstraint("status IN ('new', 'claimed', 'closed')", name="status"),
        sa.CheckConstraint("contact_method IN ('phone', 'email', 'whatsapp')", name="contact_method"),
    )
    sa.Table(
        "transcript_line", md,
        C("id", sa.Integer, primary_key=True),
        C("handover_id", sa.Integer, FK("handover.id", ondelete="CASCADE"), nullable=False, index=True),
        C("position", sa.Integer, nullable=False),
        C("speaker", sa.String(10), nullable=False),
        C("text", sa.Text, nullable=False),
        C("sent_at", sa.DateTime),
        sa.UniqueConstraint("handover_id", "position"),
    )
    sa.Table(
        "handover_note", md,
        C("id", sa.Integer, primary_key=True),
        C("handover_id", sa.Integer, FK("handover.id", ondelete="CASCADE"), nullable=False, index=True),
        C("user_id", sa.Integer, FK("staff_user.id", ondelete="SET NULL")),
        C("created_at", sa.DateTime, nullable=False),
        C("text", sa.Text, nullable=False),
    )
    sa.Table(
        "outbox_message", md,
        C("id", sa.Integer, primary_key=True),
        C("handover_id", sa.Integer, FK("handover.id", ondelete="CASCADE"), nullable=False, index=True),
        C("partner_id", sa.String(80), FK("partner.id"), nullable=False),
        C("kind", sa.String(10), nullable=False),
        C("target", sa.String(300), nullable=False),
        C("idempotency_key", sa.String(80), nullable=False, unique=True),
        C("payload", sa.Text, nullable=False),
        C("status", sa.String(10), nullable=False, index=True),
        C("attempts", sa.Integer, nullable=False),
        C("next_attempt_at", sa.DateTime, nullable=False, index=True),
        C("last_error", sa.Text),
        C("created_at", sa.DateTime, nullable=False),
        C("sent_at", sa.DateTime),
        sa.CheckConstraint("kind IN ('email', 'webhook')", name="kind"),
        sa.CheckConstraint("status IN ('pending', 'sent')", name="status"),
    )
    sa.Table(
        "api_token", md,
        C("id", sa.Integer, primary_key=True),
        C("partner_id", sa.String(80), FK("partner.id"), nullable=False, index=True),
        C("name", sa.String(120), nullable=False),
        C("token_hash", sa.String(64), nullable=False, unique=True),
        C("created_at", sa.DateTime, nullable=False),
        C("revoked_at", sa.DateTime),
    )
    sa.Table(
        "audit_log", md,
        C("id", sa.Integer, primary_key=True),
        C("at", sa.DateTime, nullable=False, index=True),
        C("user_id", sa.Integer, FK("staff_user.id", ondelete="SET NULL")),
        C("actor", sa.String(200), nullable=False),
        C("action", sa.String(40), nullable=False),
        C("handover_id", sa.Integer, FK("handover.id", ondelete="SET NULL"), index=True),
        C("handover_reference", sa.String(20)),
        C("detail", sa.Text, nullable=False),
        C("ip", sa.String(64)),
    )
    sa.Table(
        "question_signal", md,
        C("id", sa.Integer, primary_key=True),
        C("asked_on", sa.Date, nullable=False, index=True),
        C("topic", sa.String(40), nullable=False),
        C("region_code", sa.String(8), FK("arbeidsmarktregio.code")),
        C("audience", sa.String(20), nullable=False),
        C("channel", sa.String(20), nullable=False),
    )
    sa.Table(
        "channel_message_seen", md,
        C("channel", sa.String(20), primary_key=True),
        C("message_id", sa.String(200), primary_key=True),
        C("received_at", sa.DateTime, nullable=False, index=True),
    )
    sa.Table(
        "channel_contact", md,
        C("channel", sa.String(20), primary_key=True),
        C("user_id", sa.String(200), primary_key=True),
        C("last_inbound_at", sa.DateTime, nullable=False, index=True),
    )


def upgrade() -> None:
    md = sa.MetaData(naming_convention=NAMING)
    _tables(md)
    bind = op.get_bind()
    for name in TABLES:
        md.tables[name].create(bind)


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
