"""The routing table (DESIGN.md): arbeidsmarktregio, gemeente, woonplaats, postcode (PC4),
place alias, partner and service. Every row records its source and whether a person verified it."""
from __future__ import annotations

from sqlalchemy import (Boolean, CheckConstraint, Column, Date, Float, ForeignKey, Index, Integer,
                        MetaData, String, Text, UniqueConstraint)
from sqlalchemy.orm import declarative_base, relationship

# Stable constraint names, so Alembic migrations work the same on SQLite and PostgreSQL.
metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
Base = declarative_base(metadata=metadata)

SCOPES = ("national", "region", "gemeente")
AUDIENCES = ("werkzoekende", "werkende", "werkgever")
PARTNER_TYPES = ("gemeente", "uwv", "vakbond", "sbb", "wsp", "werkcentrum", "onderwijs",
                 "werkgeversorganisatie", "taalhuis", "juridisch_loket", "schuldhulp",
                 "inburgering", "leerwerkloket", "scholing_info", "crisis")


class Provenance:
    source = Column(Text, nullable=False, default="")
    verified = Column(Boolean, nullable=False, default=False)


class Arbeidsmarktregio(Provenance, Base):
    __tablename__ = "arbeidsmarktregio"
    code = Column(String(8), primary_key=True)  # AM01 … AM38 (not contiguous)
    name = Column(String(120), nullable=False)
    gemeenten = relationship("Gemeente", back_populates="region")


class Gemeente(Provenance, Base):
    __tablename__ = "gemeente"
    code = Column(String(8), primary_key=True)  # CBS code GM0014
    name = Column(String(120), nullable=False)
    province = Column(String(60), nullable=False)
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"), nullable=False, index=True)
    region = relationship("Arbeidsmarktregio", back_populates="gemeenten")


class Woonplaats(Provenance, Base):
    __tablename__ = "woonplaats"
    id = Column(Integer, primary_key=True)
    code = Column(String(8), nullable=False, unique=True)  # BAG woonplaatscode
    name = Column(String(120), nullable=False)              # official, e.g. "Haren Gn"
    basename = Column(String(120), nullable=False, index=True)  # as people say it: "Haren"
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"), nullable=False, index=True)


class Postcode(Provenance, Base):
    __tablename__ = "postcode"
    pc4 = Column(String(4), primary_key=True)
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"), primary_key=True)
    share = Column(Float, nullable=False, default=1.0)  # part of the PC4's PC6 codes in this gemeente


class PlaceAlias(Provenance, Base):
    __tablename__ = "place_alias"
    id = Column(Integer, primary_key=True)
    alias = Column(String(120), nullable=False, index=True)
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"), nullable=False)
    kind = Column(String(40), nullable=False, default="")
    __table_args__ = (UniqueConstraint("alias", "gemeente_code"),)


class Partner(Provenance, Base):
    __tablename__ = "partner"
    id = Column(String(80), primary_key=True)  # stable key: "uwv", "gemeente-GM0014", "wsp-AM22-1"
    type = Column(String(40), nullable=False, index=True)
    name = Column(String(200), nullable=False)
    description = Column(Text, nullable=False, default="")
    website = Column(String(300))
    phone = Column(String(60))
    phone_hours = Column(String(200))
    email = Column(String(200))
    address = Column(String(300))
    opening_hours = Column(String(200))
    handover_email = Column(String(200))
    handover_webhook = Column(String(300))
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"), index=True)
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"), index=True)
    checked_on = Column(Date)
    services = relationship("Service", back_populates="partner", cascade="all, delete-orphan")


class Service(Provenance, Base):
    __tablename__ = "service"
    id = Column(Integer, primary_key=True)
    partner_id = Column(String(80), ForeignKey("partner.id", ondelete="CASCADE"), nullable=False, index=True)
    topic = Column(String(40), nullable=False)
    scope = Column(String(10), nullable=False)
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"))
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"))
    audience = Column(String(20), nullable=False)
    description = Column(Text, nullable=False)
    conditions = Column(Text, nullable=False, default="")
    priority = Column(Integer, nullable=False, default=50)
    valid_from = Column(Date)
    valid_until = Column(Date)
    partner = relationship("Partner", back_populates="services")
    __table_args__ = (
        CheckConstraint("scope IN ('national', 'region', 'gemeente')", name="scope"),
        CheckConstraint("audience IN ('werkzoekende', 'werkende', 'werkgever')", name="audience"),
        CheckConstraint(
            "(scope = 'national' AND region_code IS NULL AND gemeente_code IS NULL) OR "
            "(scope = 'region' AND region_code IS NOT NULL AND gemeente_code IS NULL) OR "
            "(scope = 'gemeente' AND gemeente_code IS NOT NULL)", name="scope_target"),
        Index("ix_service_lookup", "topic", "audience", "scope"),
    )


# --- Handovers, their notification outbox, staff and audit (issue: handover) -------------------
# Handover rows hold personal data (name, contact, transcript): `gids purge` deletes them after the
# retention period and `gids forget REFERENCE` at once. Times are UTC, stored without time zone so
# SQLite and PostgreSQL compare them the same way.

from sqlalchemy import DateTime  # noqa: E402  (kept beside the tables that use it)

HANDOVER_STATUSES = ("new", "claimed", "closed")
CONTACT_METHODS = ("phone", "email", "whatsapp")
ROLES = ("werkcentrum", "partner", "admin")
OUTBOX_KINDS = ("email", "webhook")
OUTBOX_STATUSES = ("pending", "sent")


class Handover(Base):
    __tablename__ = "handover"
    id = Column(Integer, primary_key=True)
    # WC-2026-4829173650: the year and 10 random digits (bot.handover.make_reference), unique here.
    # Rows made before references were random keep their counter form, WC-2026-000123.
    reference = Column(String(20), unique=True)
    created_at = Column(DateTime, nullable=False, index=True)
    updated_at = Column(DateTime, nullable=False)
    status = Column(String(10), nullable=False, default="new", index=True)
    conversation_id = Column(String(200), nullable=False, index=True)  # Rasa sender id, for `gids forget`
    channel = Column(String(20), nullable=False, default="rest")       # socketio, whatsapp, rest, ...
    partner_id = Column(String(80), ForeignKey("partner.id"), nullable=False, index=True)
    service_id = Column(Integer, ForeignKey("service.id", ondelete="SET NULL"))
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"), index=True)
    gemeente_code = Column(String(8), ForeignKey("gemeente.code"))
    topics = Column(Text, nullable=False, default="[]")   # JSON list of topic intents, first = main
    audience = Column(String(20), nullable=False, default="werkzoekende")
    reason = Column(String(20), nullable=False, default="routing")  # routing, request_human, fallback
    contact_name = Column(String(200), nullable=False)
    contact_method = Column(String(10), nullable=False)
    contact_value = Column(String(200), nullable=False)
    summary = Column(Text, nullable=False, default="")
    claimed_by = Column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    claimed_at = Column(DateTime)
    closed_at = Column(DateTime)
    transcript = relationship("TranscriptLine", order_by="TranscriptLine.position",
                              cascade="all, delete-orphan", passive_deletes=True)
    notes = relationship("HandoverNote", order_by="HandoverNote.created_at",
                         cascade="all, delete-orphan", passive_deletes=True)
    partner = relationship("Partner")
    __table_args__ = (
        CheckConstraint("status IN ('new', 'claimed', 'closed')", name="status"),
        CheckConstraint("contact_method IN ('phone', 'email', 'whatsapp')", name="contact_method"),
    )


class TranscriptLine(Base):
    __tablename__ = "transcript_line"
    id = Column(Integer, primary_key=True)
    handover_id = Column(Integer, ForeignKey("handover.id", ondelete="CASCADE"), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    speaker = Column(String(10), nullable=False)  # "persoon" or "gids"
    text = Column(Text, nullable=False)           # already redacted
    sent_at = Column(DateTime)
    __table_args__ = (UniqueConstraint("handover_id", "position"),)


class HandoverNote(Base):
    __tablename__ = "handover_note"
    id = Column(Integer, primary_key=True)
    handover_id = Column(Integer, ForeignKey("handover.id", ondelete="CASCADE"), nullable=False, index=True)
    user_id = Column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at = Column(DateTime, nullable=False)
    text = Column(Text, nullable=False)


class OutboxMessage(Base):
    """A partner notification waiting to be delivered. Written in the handover's transaction;
    the worker retries with backoff and never drops it (status stays 'pending')."""
    __tablename__ = "outbox_message"
    id = Column(Integer, primary_key=True)
    handover_id = Column(Integer, ForeignKey("handover.id", ondelete="CASCADE"), nullable=False, index=True)
    partner_id = Column(String(80), ForeignKey("partner.id"), nullable=False)
    kind = Column(String(10), nullable=False)          # email or webhook
    target = Column(String(300), nullable=False)       # e-mail address or URL
    idempotency_key = Column(String(80), nullable=False, unique=True)
    payload = Column(Text, nullable=False)             # JSON
    status = Column(String(10), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, index=True)
    last_error = Column(Text)
    created_at = Column(DateTime, nullable=False)
    sent_at = Column(DateTime)
    __table_args__ = (
        CheckConstraint("kind IN ('email', 'webhook')", name="kind"),
        CheckConstraint("status IN ('pending', 'sent')", name="status"),
    )


class StaffUser(Base):
    __tablename__ = "staff_user"
    id = Column(Integer, primary_key=True)
    username = Column(String(120), nullable=False, unique=True)
    display_name = Column(String(200), nullable=False, default="")
    password_hash = Column(String(300), nullable=False)  # argon2
    role = Column(String(12), nullable=False)             # werkcentrum, partner, admin
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"))  # werkcentrum staff
    partner_id = Column(String(80), ForeignKey("partner.id"))            # partner staff
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(DateTime, nullable=False)
    last_login_at = Column(DateTime)
    __table_args__ = (
        CheckConstraint("role IN ('werkcentrum', 'partner', 'admin')", name="role"),
        CheckConstraint("role != 'partner' OR partner_id IS NOT NULL", name="partner_has_partner"),
        CheckConstraint("role != 'werkcentrum' OR region_code IS NOT NULL", name="werkcentrum_has_region"),
    )


class ApiToken(Base):
    """A partner system's key to the JSON API; only its SHA-256 is stored."""
    __tablename__ = "api_token"
    id = Column(Integer, primary_key=True)
    partner_id = Column(String(80), ForeignKey("partner.id"), nullable=False, index=True)
    name = Column(String(120), nullable=False, default="")
    token_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime, nullable=False)
    revoked_at = Column(DateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, index=True)
    user_id = Column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    actor = Column(String(200), nullable=False)      # username, "api:<partner>", "gids", "system"
    action = Column(String(40), nullable=False)      # view, claim, note, forward, close, export, login, ...
    handover_id = Column(Integer, ForeignKey("handover.id", ondelete="SET NULL"), index=True)
    handover_reference = Column(String(20))          # kept after the handover itself is purged
    detail = Column(Text, nullable=False, default="")
    ip = Column(String(64))


class LoginThrottle(Base):
    """Console login attempts per keyed user name or client address (bot.console.auth): one row
    per key, changed with single conditional UPDATEs so concurrent logins never both pass the
    check. The key is a keyed hash; the row says nothing once ``window_end`` has passed."""
    __tablename__ = "login_throttle"
    key = Column(String(64), primary_key=True)       # "user:<hmac>" or "addr:<hmac>"
    failures = Column(Integer, nullable=False, default=0)
    window_end = Column(DateTime, nullable=False, index=True)


class QuestionSignal(Base):
    """One routed question, without anything personal: the trends page counts these."""
    __tablename__ = "question_signal"
    id = Column(Integer, primary_key=True)
    asked_on = Column(Date, nullable=False, index=True)
    topic = Column(String(40), nullable=False)
    region_code = Column(String(8), ForeignKey("arbeidsmarktregio.code"))  # NULL: place not known
    audience = Column(String(20), nullable=False, default="werkzoekende")
    channel = Column(String(20), nullable=False, default="rest")


class ChannelMessageSeen(Base):
    """Message ids a channel has already processed, so a retried webhook delivery is handled once,
    also after a restart."""
    __tablename__ = "channel_message_seen"
    channel = Column(String(20), primary_key=True)
    message_id = Column(String(200), primary_key=True)
    received_at = Column(DateTime, nullable=False, index=True)


class ChannelContact(Base):
    """When a person last wrote on a channel (WhatsApp's 24-hour customer-service window)."""
    __tablename__ = "channel_contact"
    channel = Column(String(20), primary_key=True)
    user_id = Column(String(200), primary_key=True)
    last_inbound_at = Column(DateTime, nullable=False, index=True)
