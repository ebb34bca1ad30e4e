"""The routing table (DESIGN.md): arbeidsmarktregio, gemeente, woonplaats, postcode (PC4),
place alias, partner and service. Every row records its source and whether a person verified it."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Optional

from sqlalchemy import (Boolean, CheckConstraint, Column, Date, DateTime, Float, ForeignKey, Index,
                        Integer, MetaData, String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, declarative_base, relationship

# Stable constraint names, so Alembic migrations work the same on SQLite and PostgreSQL.
metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})
if TYPE_CHECKING:
    # The type checker reads SQLAlchemy 2.0's typed declarative API: `Mapped[...]` attributes give
    # plain Python types on instances. At run time the models stay the classic declarative ones
    # with `Column`, identical on SQLAlchemy 1.4 (the core's runtime, Python 3.10, which has no
    # `mapped_column`/`DeclarativeBase`) and 2.0 (the maintained runtime, which reads the
    # `Mapped` annotations and accepts `Column` values).
    from typing import ClassVar

    from sqlalchemy import Table
    from sqlalchemy.orm import DeclarativeBase, mapped_column

    class Base(DeclarativeBase):
        metadata = metadata
        __table__: ClassVar[Table]  # every model here maps one Table (insert()/update() on it)
else:
    Base = declarative_base(metadata=metadata)
    mapped_column = Column

SCOPES = ("national", "region", "gemeente")
AUDIENCES = ("werkzoekende", "werkende", "werkgever")
PARTNER_TYPES = ("gemeente", "uwv", "vakbond", "sbb", "wsp", "werkcentrum", "onderwijs",
                 "werkgeversorganisatie", "taalhuis", "juridisch_loket", "schuldhulp",
                 "inburgering", "leerwerkloket", "scholing_info", "crisis",
                 # a sector's O&O/A&O fund or career portal: the sectoral route (bot/routing/sectors.py)
                 "sectorfonds")


class Provenance:
    source: Mapped[str] = mapped_column(Text, nullable=False, default="")
    verified: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class Arbeidsmarktregio(Provenance, Base):
    __tablename__ = "arbeidsmarktregio"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)  # AM01 … AM38 (not contiguous)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    gemeenten: Mapped[list[Gemeente]] = relationship("Gemeente", back_populates="region")


class Gemeente(Provenance, Base):
    __tablename__ = "gemeente"
    code: Mapped[str] = mapped_column(String(8), primary_key=True)  # CBS code GM0014
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    province: Mapped[str] = mapped_column(String(60), nullable=False)
    region_code: Mapped[str] = mapped_column(
        String(8), ForeignKey("arbeidsmarktregio.code"), nullable=False, index=True)
    region: Mapped[Arbeidsmarktregio] = relationship("Arbeidsmarktregio", back_populates="gemeenten")


class Woonplaats(Provenance, Base):
    __tablename__ = "woonplaats"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(8), nullable=False, unique=True)  # BAG woonplaatscode
    name: Mapped[str] = mapped_column(String(120), nullable=False)  # official, e.g. "Haren Gn"
    basename: Mapped[str] = mapped_column(String(120), nullable=False, index=True)  # as people say it: "Haren"
    gemeente_code: Mapped[str] = mapped_column(String(8), ForeignKey("gemeente.code"), nullable=False, index=True)


class Postcode(Provenance, Base):
    __tablename__ = "postcode"
    pc4: Mapped[str] = mapped_column(String(4), primary_key=True)
    gemeente_code: Mapped[str] = mapped_column(String(8), ForeignKey("gemeente.code"), primary_key=True)
    # part of the PC4's PC6 codes in this gemeente
    share: Mapped[float] = mapped_column(Float, nullable=False, default=1.0)


class PlaceAlias(Provenance, Base):
    __tablename__ = "place_alias"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alias: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    gemeente_code: Mapped[str] = mapped_column(String(8), ForeignKey("gemeente.code"), nullable=False)
    kind: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    __table_args__ = (UniqueConstraint("alias", "gemeente_code"),)


class Partner(Provenance, Base):
    __tablename__ = "partner"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # stable key: "uwv", "gemeente-GM0014", "wsp-AM22-1"
    type: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    website: Mapped[Optional[str]] = mapped_column(String(300))
    phone: Mapped[Optional[str]] = mapped_column(String(60))
    phone_hours: Mapped[Optional[str]] = mapped_column(String(200))
    email: Mapped[Optional[str]] = mapped_column(String(200))
    address: Mapped[Optional[str]] = mapped_column(String(300))
    opening_hours: Mapped[Optional[str]] = mapped_column(String(200))
    handover_email: Mapped[Optional[str]] = mapped_column(String(200))
    handover_webhook: Mapped[Optional[str]] = mapped_column(String(300))
    region_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("arbeidsmarktregio.code"), index=True)
    gemeente_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("gemeente.code"), index=True)
    checked_on: Mapped[Optional[date]] = mapped_column(Date)
    # For administrators only (console, export): what is known about the row, such as "intentie
    # 7 sep 2023; bestaan niet bevestigd". Never on a card: a person sees `name`.
    note: Mapped[Optional[str]] = mapped_column(Text)
    # Who confirmed the row and when (UTC): the card then says "gecontroleerd op <datum>".
    verified_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    verified_by: Mapped[Optional[str]] = mapped_column(String(200))
    # The sectoral route (type sectorfonds): the sector key ("metaal", "zorg_vvt") and the words
    # people use for that sector and its jobs, ";"-separated ("metaal;lasser;cnc"), which
    # bot/routing/sectors.py finds in what a person says.
    sector: Mapped[Optional[str]] = mapped_column(String(40))
    sector_words: Mapped[Optional[str]] = mapped_column(Text)
    services: Mapped[list[Service]] = relationship("Service", back_populates="partner",
                                                   cascade="all, delete-orphan")
    field_sources: Mapped[list[PartnerFieldSource]] = relationship(
        "PartnerFieldSource", cascade="all, delete-orphan", passive_deletes=True)


class PartnerFieldSource(Base):
    """Where one contact detail of a partner comes from (website, email, address, phone), when
    that was checked, and a doubt about it. A detail with a doubt (a 2018 phone number of a
    gemeente that changed since) is shown to a person only once the partner row is verified."""
    __tablename__ = "partner_field_source"
    partner_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("partner.id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(String(20), primary_key=True)
    source: Mapped[str] = mapped_column(Text, nullable=False, default="")
    checked_on: Mapped[Optional[date]] = mapped_column(Date)
    doubt: Mapped[Optional[str]] = mapped_column(Text)


# A partner's proposed change to its own card (bot/routing/changes.py): its staff propose in the
# console, the Werkcentrum of its region (or an administrator) approves or rejects. Approval writes
# the values through the routing import and marks the partner row verified.
CHANGE_STATUSES = ("proposed", "approved", "rejected", "withdrawn")


class PartnerChangeRequest(Base):
    __tablename__ = "partner_change_request"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("partner.id", ondelete="CASCADE"), nullable=False, index=True)
    # proposed (waiting), approved, rejected, withdrawn (a newer proposal of the partner replaced it)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="proposed", index=True)
    new_values: Mapped[str] = mapped_column(Text, nullable=False)  # JSON {field: value, null = clear it}
    old_values: Mapped[str] = mapped_column(Text, nullable=False)  # JSON {field: value when proposed}
    proposed_by: Mapped[str] = mapped_column(String(200), nullable=False)  # user name
    proposed_by_user_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    proposed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    decided_by: Mapped[Optional[str]] = mapped_column(String(200))
    decided_by_user_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    decided_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    reason: Mapped[Optional[str]] = mapped_column(Text)  # why it was rejected
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'approved', 'rejected', 'withdrawn')", name="status"),
    )


class Service(Provenance, Base):
    __tablename__ = "service"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("partner.id", ondelete="CASCADE"), nullable=False, index=True)
    topic: Mapped[str] = mapped_column(String(40), nullable=False)
    scope: Mapped[str] = mapped_column(String(10), nullable=False)
    region_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("arbeidsmarktregio.code"))
    gemeente_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("gemeente.code"))
    audience: Mapped[str] = mapped_column(String(20), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    conditions: Mapped[str] = mapped_column(Text, nullable=False, default="")
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=50)
    valid_from: Mapped[Optional[date]] = mapped_column(Date)
    valid_until: Mapped[Optional[date]] = mapped_column(Date)
    partner: Mapped[Partner] = relationship("Partner", back_populates="services")
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
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # WC-2026-4829173650: the year and 10 random digits (bot.handover.make_reference), unique here.
    # Rows made before references were random keep their counter form, WC-2026-000123.
    reference: Mapped[Optional[str]] = mapped_column(String(20), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="new", index=True)
    # Rasa sender id, for `gids forget`
    conversation_id: Mapped[str] = mapped_column(String(200), nullable=False, index=True)
    # socketio, whatsapp, rest, ...
    channel: Mapped[str] = mapped_column(String(20), nullable=False, default="rest")
    partner_id: Mapped[str] = mapped_column(String(80), ForeignKey("partner.id"), nullable=False, index=True)
    service_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("service.id", ondelete="SET NULL"))
    region_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("arbeidsmarktregio.code"), index=True)
    gemeente_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("gemeente.code"))
    topics: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON list of topic intents, first = main
    audience: Mapped[str] = mapped_column(String(20), nullable=False, default="werkzoekende")
    # routing, request_human, fallback
    reason: Mapped[str] = mapped_column(String(20), nullable=False, default="routing")
    contact_name: Mapped[str] = mapped_column(String(200), nullable=False)
    contact_method: Mapped[str] = mapped_column(String(10), nullable=False)
    contact_value: Mapped[str] = mapped_column(String(200), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    claimed_by: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    claimed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    closed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    transcript: Mapped[list[TranscriptLine]] = relationship(
        "TranscriptLine", order_by="TranscriptLine.position", cascade="all, delete-orphan",
        passive_deletes=True)
    notes: Mapped[list[HandoverNote]] = relationship(
        "HandoverNote", order_by="HandoverNote.created_at", cascade="all, delete-orphan",
        passive_deletes=True)
    partner: Mapped[Partner] = relationship("Partner")
    __table_args__ = (
        CheckConstraint("status IN ('new', 'claimed', 'closed')", name="status"),
        CheckConstraint("contact_method IN ('phone', 'email', 'whatsapp')", name="contact_method"),
    )


class TranscriptLine(Base):
    __tablename__ = "transcript_line"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handover_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("handover.id", ondelete="CASCADE"), nullable=False, index=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    speaker: Mapped[str] = mapped_column(String(10), nullable=False)  # "persoon" or "gids"
    text: Mapped[str] = mapped_column(Text, nullable=False)  # already redacted
    sent_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("handover_id", "position"),)


class HandoverNote(Base):
    __tablename__ = "handover_note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handover_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("handover.id", ondelete="CASCADE"), nullable=False, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)


class OutboxMessage(Base):
    """A partner notification waiting to be delivered. Written in the handover's transaction;
    the worker retries with backoff and never drops it (status stays 'pending')."""
    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handover_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("handover.id", ondelete="CASCADE"), nullable=False, index=True)
    partner_id: Mapped[str] = mapped_column(String(80), ForeignKey("partner.id"), nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # email or webhook
    target: Mapped[str] = mapped_column(String(300), nullable=False)  # e-mail address or URL
    idempotency_key: Mapped[str] = mapped_column(String(80), nullable=False, unique=True)
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # JSON
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    sent_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    __table_args__ = (
        CheckConstraint("kind IN ('email', 'webhook')", name="kind"),
        CheckConstraint("status IN ('pending', 'sent')", name="status"),
    )


class StaffUser(Base):
    __tablename__ = "staff_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(300), nullable=False)  # argon2
    role: Mapped[str] = mapped_column(String(12), nullable=False)  # werkcentrum, partner, admin
    # werkcentrum staff
    region_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("arbeidsmarktregio.code"))
    partner_id: Mapped[Optional[str]] = mapped_column(String(80), ForeignKey("partner.id"))  # partner staff
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    last_login_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    __table_args__ = (
        CheckConstraint("role IN ('werkcentrum', 'partner', 'admin')", name="role"),
        CheckConstraint("role != 'partner' OR partner_id IS NOT NULL", name="partner_has_partner"),
        CheckConstraint("role != 'werkcentrum' OR region_code IS NOT NULL", name="werkcentrum_has_region"),
    )


class ApiToken(Base):
    """A partner system's key to the JSON API; only its SHA-256 is stored."""
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    partner_id: Mapped[str] = mapped_column(String(80), ForeignKey("partner.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(200), nullable=False)  # username, "api:<partner>", "gids", "system"
    # view, claim, note, forward, close, export, login, ...
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    handover_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("handover.id", ondelete="SET NULL"), index=True)
    # kept after the handover itself is purged
    handover_reference: Mapped[Optional[str]] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    ip: Mapped[Optional[str]] = mapped_column(String(64))


class LoginThrottle(Base):
    """Console login attempts per keyed user name or client address (bot.console.auth): one row
    per key, changed with single conditional UPDATEs so concurrent logins never both pass the
    check. The key is a keyed hash; the row says nothing once ``window_end`` has passed."""
    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # "user:<hmac>" or "addr:<hmac>"
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    window_end: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)


class QuestionSignal(Base):
    """One routed question, without anything personal: the trends page counts these."""
    __tablename__ = "question_signal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asked_on: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    topic: Mapped[str] = mapped_column(String(40), nullable=False)
    # NULL: place not known
    region_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("arbeidsmarktregio.code"))
    audience: Mapped[str] = mapped_column(String(20), nullable=False, default="werkzoekende")
    channel: Mapped[str] = mapped_column(String(20), nullable=False, default="rest")


class ChannelMessageSeen(Base):
    """Message ids a channel has already processed, so a retried webhook delivery is handled once,
    also after a restart."""
    __tablename__ = "channel_message_seen"
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)


class ChannelContact(Base):
    """When a person last wrote on a channel (WhatsApp's 24-hour customer-service window)."""
    __tablename__ = "channel_contact"
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_inbound_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)


# --- live chat with the Werkcentrum (bot/live) --------------------------------------------------
# A person who consented chats with a staff member of their region during office hours; the core
# is paused meanwhile and the gateway carries the messages. Every message is stored (redacted)
# before it is delivered, so a reload or restart on either side loses and doubles nothing.

LIVE_STATUSES = ("waiting", "active", "returned", "ended", "handover")
LIVE_OPEN = ("waiting", "active")
LIVE_AUTHORS = ("person", "staff", "gids", "system")


class LiveChat(Base):
    __tablename__ = "live_chat"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(200), nullable=False, index=True)  # Rasa sender id
    channel: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(10), nullable=False, default="waiting", index=True)
    region_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("arbeidsmarktregio.code"), index=True)
    gemeente_code: Mapped[Optional[str]] = mapped_column(String(8), ForeignKey("gemeente.code"))
    topics: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON, first = main
    # The conversation with the gids before the chat, redacted as a handover's transcript (JSON).
    before: Mapped[str] = mapped_column(Text, nullable=False, default="[]")
    consented_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    requested_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    picked_up_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    picked_up_by: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    staff_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")  # what the person reads
    ended_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    ended_by: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    handover_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("handover.id", ondelete="SET NULL"))
    # What the gateway must still tell the core ("unavailable": offer the handover; "back": the
    # gids speaks again), and since when a gateway is doing it (a lease: a crash mid-way is redone).
    resume: Mapped[Optional[str]] = mapped_column(String(12))
    resume_claimed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    staff_typing_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    crisis: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'active', 'returned', 'ended', 'handover')", name="status"),
    )


class LiveMessage(Base):
    __tablename__ = "live_message"
    # The id orders every feed (the gateway's, the console's): a reader asks for ids after its last.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(Integer, ForeignKey("live_chat.id", ondelete="CASCADE"), nullable=False,
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    author: Mapped[str] = mapped_column(String(8), nullable=False)  # person, staff, gids, system
    user_id: Mapped[Optional[int]] = mapped_column(Integer, ForeignKey("staff_user.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text, nullable=False)  # redacted
    payload: Mapped[Optional[str]] = mapped_column(Text)  # JSON: a gids message's buttons
    # The sender's own id of the message: a resend after a reconnect is stored once.
    client_ref: Mapped[Optional[str]] = mapped_column(String(64))
    to_person: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    crisis: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # WhatsApp: when a gateway took it to send (a lease) and when Graph accepted it.
    delivery_claimed_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    delivered_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    delivery_error: Mapped[Optional[str]] = mapped_column(String(200))
    __table_args__ = (
        UniqueConstraint("chat_id", "author", "client_ref", name="client_ref"),
        CheckConstraint("author IN ('person', 'staff', 'gids', 'system')", name="author"),
    )


class StaffPresence(Base):
    """Whether a staff member takes live chats now: ``available`` they set in the console;
    ``seen_at`` the console's live page renews while it is open. Both must hold."""
    __tablename__ = "staff_presence"
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)
    seen_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, index=True)


class LiveHours(Base):
    """Office hours of a region's live chat, local time (Europe/Amsterdam), set by administrators.
    A region without rows has no live chat."""
    __tablename__ = "live_hours"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(8), ForeignKey("arbeidsmarktregio.code"), nullable=False)
    weekday: Mapped[int] = mapped_column(Integer, nullable=False)  # 0 = Monday
    opens: Mapped[str] = mapped_column(String(5), nullable=False)  # "09:00"
    closes: Mapped[str] = mapped_column(String(5), nullable=False)
    __table_args__ = (
        UniqueConstraint("region_code", "weekday", name="region_day"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
    )
