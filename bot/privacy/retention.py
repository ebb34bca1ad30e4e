"""Retention: personal data is kept for GIDS_RETENTION_DAYS (default 90), then deleted.

``purge()`` deletes, older than the retention period:
- handovers whose last change (``updated_at``) is older, with their transcript lines, notes and
  outbox messages (deleted explicitly, so this does not depend on SQLite's foreign-key pragma);
- Rasa conversations in the tracker database whose last event is older;
- ChannelMessageSeen and ChannelContact rows;
- AuditLog rows: they name staff members and hold the address they worked from, which is personal
  data of the staff, kept no longer than the data it is about. Kept are the ``purge`` and
  ``forget`` entries (KEPT_AUDIT_ACTIONS): they prove that personal data was deleted, and hold
  only counts, references and who ran the command, never an address (their ``ip`` is emptied
  all the same). Audit rows of a purged handover that are still younger stay and keep the
  handover's reference (their ``handover_id`` becomes NULL) until they are old enough themselves.
Also the console's login counters (LoginThrottle) whose window has ended before ``now``: they
count nothing any more. QuestionSignal rows hold nothing personal and stay.

``forget()`` erases one person at once: the handover, every other handover of the same
conversation, the conversation's tracker events and its ChannelContact row.

Every purge (not a dry run) and every forget writes one AuditLog entry, with counts and
references only. The tracker
database is GIDS_TRACKER_URL (default sqlite:///<repo>/var/tracker.db, where endpoints.yml puts
it); a tracker database file that does not exist means there is nothing to delete there.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, cast

import sqlalchemy as sa
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session

from bot import config, live
from bot.db import database_errors, get_engine, session_scope
from bot.db.models import (AuditLog, ChannelContact, ChannelMessageSeen, Handover, HandoverNote,
                           LoginThrottle, OutboxMessage, TranscriptLine)
from bot.handover import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

DEFAULT_TRACKER_URL = f"sqlite:///{config.ROOT / 'var' / 'tracker.db'}"
SYSTEM_ACTOR = "system"
GIDS_UNAVAILABLE = "the gids database is not available"
# Audit entries that outlive the retention period: the record that personal data was deleted.
KEPT_AUDIT_ACTIONS = ("purge", "forget")

# Rasa's SQLTrackerStore table (rasa.core.tracker_store.SQLTrackerStore.SQLEvent); only the
# columns retention needs.
_EVENTS = sa.table("events", sa.column("sender_id"), sa.column("timestamp"))


class UnknownReference(LookupError):
    """No handover has this reference."""


def tracker_database_url() -> str:
    return os.environ.get("GIDS_TRACKER_URL") or DEFAULT_TRACKER_URL


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an invalid database URL)"


# --- the tracker database ---------------------------------------------------------------------
def _tracker_engine(url: str) -> Optional[Engine]:
    """An engine for the tracker database, or None when its SQLite file does not exist (then
    there is nothing to delete, and no empty file should be made)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"GIDS_TRACKER_URL is not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).exists():
            return None
        return sa.create_engine(url, future=True, connect_args={"timeout": 15})
    try:
        return sa.create_engine(url, future=True, connect_args={"connect_timeout": 5})
    except NoSuchModuleError as exc:
        raise ValueError(f"GIDS_TRACKER_URL names an unknown database kind: {_safe_url(url)}") from exc


def _tracker_delete(url: str, where, dry_run: bool) -> Tuple[int, int]:
    """(conversations, events) matching ``where`` (a condition on sender_id) in the tracker
    database; deleted unless ``dry_run``."""
    engine = _tracker_engine(url)
    if engine is None:
        return 0, 0
    try:
        with database_errors(f"the tracker database {_safe_url(url)} is not available"), engine.begin() as conn:
            if not sa.inspect(conn).has_table("events"):
                return 0, 0  # Rasa has not stored a conversation yet
            conversations = conn.execute(
                select(func.count(func.distinct(_EVENTS.c.sender_id))).where(where)).scalar_one()
            if dry_run:
                events = conn.execute(select(func.count()).select_from(_EVENTS).where(where)).scalar_one()
            else:
                events = conn.execute(delete(_EVENTS).where(where)).rowcount
            return conversations, events
    finally:
        engine.dispose()


def _old_conversations(cutoff: datetime):
    # Rasa stores event times as Unix seconds (float, UTC).
    cutoff_ts = cutoff.replace(tzinfo=timezone.utc).timestamp()
    old = (select(_EVENTS.c.sender_id).group_by(_EVENTS.c.sender_id)
           .having(func.max(_EVENTS.c.timestamp) < cutoff_ts))
    return _EVENTS.c.sender_id.in_(old.scalar_subquery())


# --- the gids database ------------------------------------------------------------------------
def _count_or_delete(session: Session, model, where, dry_run: bool) -> int:
    if dry_run:
        return session.execute(select(func.count()).select_from(model).where(where)).scalar_one()
    # A DELETE gives a CursorResult (with rowcount); Session.execute is typed as returning Result.
    result = cast("CursorResult[Any]", session.execute(
        delete(model).where(where).execution_options(synchronize_session=False)))
    return result.rowcount


def _handover_rows(session: Session, handover_ids, dry_run: bool) -> Dict[str, int]:
    """Deletes (or counts) handovers and everything that hangs from them. ``handover_ids`` is a
    select of ids."""
    counts = {
        "transcript_lines": _count_or_delete(session, TranscriptLine,
                                             TranscriptLine.handover_id.in_(handover_ids), dry_run),
        "notes": _count_or_delete(session, HandoverNote, HandoverNote.handover_id.in_(handover_ids), dry_run),
        "outbox_messages": _count_or_delete(session, OutboxMessage,
                                            OutboxMessage.handover_id.in_(handover_ids), dry_run),
    }
    if not dry_run:
        # The audit log outlives the handover: it keeps handover_reference.
        session.execute(update(AuditLog).where(AuditLog.handover_id.in_(handover_ids))
                        .values(handover_id=None).execution_options(synchronize_session=False))
    counts["handovers"] = _count_or_delete(session, Handover, Handover.id.in_(handover_ids), dry_run)
    return counts


def _audit(session: Session, action: str, actor: str, detail: str, reference: Optional[str] = None) -> None:
    from bot.handover.audit import record

    entry = record(session, action, actor=actor, detail=detail)
    # Not linked by id: the handover is deleted in this same transaction.
    entry.handover_reference = reference


def _describe(counts: Dict[str, int]) -> str:
    return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in counts.items())


def purge(days: Optional[int] = None, now: Optional[datetime] = None, dry_run: bool = False,
          engine: Optional[Engine] = None, tracker_url: Optional[str] = None,
          actor: str = SYSTEM_ACTOR) -> Dict[str, int]:
    """Deletes everything personal older than ``days`` (default GIDS_RETENTION_DAYS, 90) before
    ``now`` (naive UTC). Returns the counts per kind; with ``dry_run`` the counts of what would
    go, and nothing changes. Raises DatabaseUnavailable when a database cannot be reached."""
    days = config.retention_days() if days is None else days
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"the retention period must be a whole number of days, at least 1 (not {days!r})")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    tracker_url = tracker_url or tracker_database_url()
    with database_errors(GIDS_UNAVAILABLE):
        with session_scope(engine or get_engine()) as session:
            old_handovers = select(Handover.id).where(Handover.updated_at < cutoff).scalar_subquery()
            counts = _handover_rows(session, old_handovers, dry_run)
            counts["live_chats"] = live.purge(session, cutoff, dry_run)
            counts["channel_messages_seen"] = _count_or_delete(
                session, ChannelMessageSeen, ChannelMessageSeen.received_at < cutoff, dry_run)
            counts["channel_contacts"] = _count_or_delete(
                session, ChannelContact, ChannelContact.last_inbound_at < cutoff, dry_run)
            # After the handovers: their audit rows were unlinked above, the old ones go here.
            counts["audit_entries"] = _count_or_delete(
                session, AuditLog, (AuditLog.at < cutoff) & AuditLog.action.notin_(KEPT_AUDIT_ACTIONS), dry_run)
            if not dry_run:
                session.execute(update(AuditLog).where(AuditLog.at < cutoff, AuditLog.ip.isnot(None))
                                .values(ip=None).execution_options(synchronize_session=False))
            counts["login_counters"] = _count_or_delete(
                session, LoginThrottle, LoginThrottle.window_end < now, dry_run)
            # The tracker goes last but inside the gids transaction: if it fails, the gids
            # database is rolled back and the next run tries both again.
            counts["tracker_conversations"], counts["tracker_events"] = _tracker_delete(
                tracker_url, _old_conversations(cutoff), dry_run)
            if not dry_run:
                _audit(session, "purge", actor,
                       f"retention {days} days, before {cutoff:%Y-%m-%d %H:%M} UTC; {_describe(counts)}")
    return counts


def forget(reference: str, *, engine: Optional[Engine] = None, tracker_url: Optional[str] = None,
           actor: str = SYSTEM_ACTOR) -> Dict[str, object]:
    """Erases one person's data now: the handover with ``reference``, every other handover of the
    same conversation, the conversation in the tracker database and its ChannelContact row.
    Returns the counts and the erased references; raises UnknownReference when no handover has
    this reference, DatabaseUnavailable when a database cannot be reached."""
    reference = (reference or "").strip().upper()
    if not reference:
        raise UnknownReference("no reference given")
    tracker_url = tracker_url or tracker_database_url()
    with database_errors(GIDS_UNAVAILABLE):
        with session_scope(engine or get_engine()) as session:
            conversation_id = session.execute(
                select(Handover.conversation_id).where(Handover.reference == reference)).scalar_one_or_none()
            if conversation_id is None:
                raise UnknownReference(f"no handover with reference {reference}")
            references = [ref or "(no reference)" for ref in session.execute(
                select(Handover.reference).where(Handover.conversation_id == conversation_id)
                .order_by(Handover.id)).scalars()]
            ids = select(Handover.id).where(Handover.conversation_id == conversation_id).scalar_subquery()
            counts = dict(_handover_rows(session, ids, dry_run=False))
            # ChannelContact.user_id is the channel's id of the person, which is the Rasa sender id.
            counts["channel_contacts"] = _count_or_delete(
                session, ChannelContact, ChannelContact.user_id == conversation_id, dry_run=False)
            counts["live_chats"] = live.forget(session, conversation_id)
            counts["tracker_conversations"], counts["tracker_events"] = _tracker_delete(
                tracker_url, _EVENTS.c.sender_id == conversation_id, dry_run=False)
            _audit(session, "forget", actor,
                   f"erased handovers {', '.join(references)}; {_describe(counts)}", reference=reference)
            result: Dict[str, object] = {**counts, "references": references}
    return result
