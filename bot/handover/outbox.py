"""The partner-notification outbox: written in the handover's own transaction, delivered later.

A handover and its notifications are committed together (``enqueue`` only adds rows to the
caller's session), so a notification is never lost and never sent for a handover that was rolled
back. ``deliver_due`` sends the messages whose time has come and keeps every message that fails
(``pending``, with ``attempts``, ``last_error`` and a later ``next_attempt_at``): nothing is ever
dropped or marked failed. Delivery is at least once; receivers de-duplicate on the idempotency key
(the ``Idempotency-Key`` header of a webhook, the ``Message-ID`` of an e-mail).

Two workers never send the same message at once. A worker *leases* a message in its own short
transaction before sending it: ``next_attempt_at`` moves LEASE into the future and ``attempts``
goes up, with a compare-and-set UPDATE (``... WHERE id = ? AND status = 'pending' AND
next_attempt_at <= now``) so exactly one worker wins each row on SQLite and on PostgreSQL. On
PostgreSQL the candidate SELECT also takes ``FOR UPDATE SKIP LOCKED``, so a second worker skips
rows the first is leasing instead of waiting for them. The send itself happens after that
transaction has committed: holding a row lock (or, on SQLite, the single write lock) during a
network call of up to tens of seconds would block every other writer, and a worker that dies
mid-send would leave nothing behind but a lease that runs out, after which another worker retries
the message with the same idempotency key.

A message that must not be sent any more is *parked*, not deleted: it stays in the table with
``next_attempt_at = PARKED`` (never due) and ``last_error`` saying why. Two kinds:

- **cancelled** (``last_error`` starts with "cancelled: "): the handover was forwarded to another
  partner or closed, or a newer notification replaced it. Forward cancels in its own transaction
  (``enqueue``); every delivery round also cancels what a close or forward left (the partner API
  closes handovers too), and a message is only leased while its handover is open and still with
  its partner. A cancelled message keeps no copy of the handover and is never sent again.
- **failed** (``last_error`` starts with "failed permanently: "): a webhook address the gids
  refuses (``notify.TargetRefused``: not https, or a private address). It keeps its payload and
  waits for an administrator: ``gids outbox status`` lists it, ``gids outbox retry`` sends it
  again after the address or GIDS_WEBHOOK_ALLOW is fixed. The handover itself is untouched.

(Parking uses the existing columns, so it needs no migration while the status CHECK allows only
'pending' and 'sent'; with a migration adding 'cancelled' and 'failed', ``_park`` is the one
place to change.)
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Dict, List, Optional

from sqlalchemy import and_, exists, func, not_, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db import DatabaseUnavailable, database_errors, get_engine, session_scope
from bot.db.models import Arbeidsmarktregio, Gemeente, Handover, OutboxMessage, Partner

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# Longer than one batch can take (sends run SEND_CONCURRENCY at a time, each with its own timeout),
# so a lease only runs out when its worker died.
LEASE = timedelta(minutes=15)
SEND_CONCURRENCY = 5
MANY_ATTEMPTS = 5
PARKED = datetime(9999, 12, 31)  # next_attempt_at of a message that is never due (see above)
CANCELLED = "cancelled: "
FAILED = "failed permanently: "


def _park(reference: Optional[str], why: str, cancel: bool) -> dict:
    """The column values of a parked message. A cancelled one keeps no copy of the handover."""
    values = {"next_attempt_at": PARKED, "last_error": ((CANCELLED if cancel else FAILED) + why)[:500]}
    if cancel:
        values["payload"] = json.dumps({"reference": reference, "payload_removed": "cancelled"})
    return values


def _live():
    """Pending and not parked: the messages that are still to be sent."""
    return and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at < PARKED)


def _unsent(table=OutboxMessage.__table__):
    """Not sent and not cancelled: still to be sent, or failed and waiting for an administrator."""
    return and_(table.c.status == "pending",
                or_(table.c.last_error.is_(None), not_(table.c.last_error.like(CANCELLED + "%"))))


def _why_cancelled(handover_status: str, handover_partner: str, message_partner: str) -> Optional[str]:
    if handover_status == "closed":
        return "the handover was closed"
    if handover_partner != message_partner:
        return "the handover went to another partner"
    return None


def _still_wanted(table):
    """The message's handover is open and still with the message's partner."""
    return exists().where(Handover.id == table.c.handover_id, Handover.partner_id == table.c.partner_id,
                          Handover.status != "closed")


# --------------------------------------------------------------------------------------- enqueue

def enqueue(session: Session, handover: Handover, now: Optional[datetime] = None) -> List[OutboxMessage]:
    """Adds one pending notification per channel of the handover's partner to ``session`` (the
    caller commits). Every call makes new messages with new idempotency keys: a handover
    forwarded to another partner (or to the same one again) is a new notification."""
    from bot.handover import handover_dict, new_idempotency_key, utcnow

    now = now or utcnow()
    session.flush()  # a changed partner_id, and the reference, are in place
    partner = session.get(Partner, handover.partner_id)
    if partner is None:
        raise ValueError(f"handover {handover.reference}: partner {handover.partner_id!r} does not exist")
    if handover.partner is not partner:
        # After staff change partner_id, the loaded relationship still points to the old partner;
        # handover_dict reads the name from it.
        handover.partner = partner

    forwarded = session.execute(
        select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.handover_id == handover.id, OutboxMessage.partner_id != partner.id)
    ).scalar_one() > 0
    cancel_pending(session, handover)
    email, webhook = (partner.handover_email or "").strip(), (partner.handover_webhook or "").strip()
    channels = []  # (kind, target, payload): at most one per kind, whatever the partner row holds
    if email:
        channels.append(("email", email, email_payload(session, handover, partner, forwarded)))
    if webhook:
        channels.append(("webhook", webhook, handover_dict(handover)))
    if not channels:
        log.info("handover %s: partner %s has no handover e-mail or webhook; it is only in the "
                 "staff console", handover.reference, partner.id)
        return []

    messages = []
    for kind, target, payload in channels:
        message = OutboxMessage(
            handover_id=handover.id, partner_id=partner.id, kind=kind, target=target,
            idempotency_key=new_idempotency_key(),
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            status="pending", attempts=0, next_attempt_at=now, created_at=now)
        session.add(message)
        messages.append(message)
    log.info("handover %s: %s queued for partner %s", handover.reference,
             " and ".join(kind for kind, _, _ in channels), partner.id)
    return messages


def cancel_pending(session: Session, handover: Handover, *, only_stale: bool = False) -> int:
    """Cancels the handover's unsent messages (also failed ones), in the caller's transaction:
    those to another partner than the handover's current one (it was forwarded), all of them when
    the handover is closed, and, unless ``only_stale``, older ones to the same partner
    (``enqueue`` is about to make new ones). Returns how many. A message a worker is sending at
    this very moment may still arrive; it is then recorded as sent."""
    older = session.execute(select(OutboxMessage).where(OutboxMessage.handover_id == handover.id, _unsent())
                            .order_by(OutboxMessage.id)).scalars().all()
    by_partner: Dict[tuple, int] = {}
    for message in older:
        why = _why_cancelled(handover.status, handover.partner_id, message.partner_id)
        if why is None:
            if only_stale:
                continue
            why = "replaced by a newer notification"
        for column, value in _park(handover.reference, why, cancel=True).items():
            setattr(message, column, value)
        by_partner[(message.partner_id, why)] = by_partner.get((message.partner_id, why), 0) + 1
    for (partner_id, why), count in by_partner.items():
        log.info("handover %s: %d waiting notification(s) to partner %s cancelled: %s",
                 handover.reference, count, partner_id, why)
    return sum(by_partner.values())


def email_payload(session: Session, handover: Handover, partner: Partner, forwarded: bool = False) -> dict:
    """Only what the e-mail shows. No name, contact details, summary or transcript: e-mail is not
    a safe channel for them, so staff read those in the console."""
    from bot.handover import _iso, topics_of

    gemeente = session.get(Gemeente, handover.gemeente_code) if handover.gemeente_code else None
    region_code = handover.region_code or (gemeente.region_code if gemeente is not None else None)
    region = session.get(Arbeidsmarktregio, region_code) if region_code else None
    return {
        "reference": handover.reference,
        "partner_id": partner.id,
        "partner_name": partner.name,
        "topics": topics_of(handover),
        "audience": handover.audience,
        "reason": handover.reason,
        "gemeente_code": handover.gemeente_code,
        "gemeente_name": gemeente.name if gemeente is not None else None,
        "region_code": region_code,
        "region_name": region.name if region is not None else None,
        "created_at": _iso(handover.created_at),
        "forwarded": forwarded,
    }


# -------------------------------------------------------------------------------------- delivery

def backoff(attempts: int, rng: Callable[[float, float], float] = random.uniform) -> timedelta:
    """30 s, 1 min, 2 min, 4 min ... at most 1 hour after the n-th failed attempt. The jitter only
    shortens a delay (by up to 20 %), so delays still grow step by step while workers that failed
    together spread out."""
    exponent = min(max(attempts, 1) - 1, 20)
    delay = min(BACKOFF_BASE * (2 ** exponent), BACKOFF_CAP)
    return delay * rng(0.8, 1.0)


@dataclass(frozen=True)
class Leased:
    id: int
    handover_id: int
    reference: str
    partner_id: str
    kind: str
    target: str
    idempotency_key: str
    payload: str
    attempts: int  # including the attempt this lease is for


def _lease_due(engine: Engine, now: datetime, limit: int) -> List[Leased]:
    table = OutboxMessage.__table__
    lease_until = now + LEASE
    with engine.begin() as conn:
        candidates = (select(table.c.id)
                      .where(table.c.status == "pending", table.c.next_attempt_at <= now, _still_wanted(table))
                      .order_by(table.c.next_attempt_at, table.c.id).limit(limit))
        if engine.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True)
        ids = list(conn.execute(candidates).scalars())
        won = []
        for message_id in ids:
            # The compare-and-set that makes the lease exclusive, also without row locks (SQLite).
            result = conn.execute(
                update(table)
                .where(table.c.id == message_id, table.c.status == "pending", table.c.next_attempt_at <= now,
                       _still_wanted(table))
                .values(next_attempt_at=lease_until, attempts=table.c.attempts + 1))
            if result.rowcount == 1:
                won.append(message_id)
        if not won:
            return []
        rows = conn.execute(
            select(table, Handover.reference).join(Handover, Handover.id == table.c.handover_id)
            .where(table.c.id.in_(won)).order_by(table.c.next_attempt_at, table.c.id)).mappings()
        return [Leased(id=r["id"], handover_id=r["handover_id"], reference=r["reference"],
                       partner_id=r["partner_id"], kind=r["kind"], target=r["target"],
                       idempotency_key=r["idempotency_key"], payload=r["payload"],
                       attempts=r["attempts"]) for r in rows]


def _record_sent(engine: Engine, message: Leased, at: datetime) -> None:
    table = OutboxMessage.__table__
    values = {"status": "sent", "sent_at": at}
    if message.kind == "webhook":
        # The partner has it now; the copy of the contact details and transcript is not needed
        # here any more (the handover itself stays until its retention period ends).
        values["payload"] = json.dumps({"reference": message.reference, "payload_removed": "delivered"})
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == message.id).values(**values))


def _record_failure(engine: Engine, message: Leased, at: datetime, error: str) -> datetime:
    table = OutboxMessage.__table__
    next_at = at + backoff(message.attempts)
    with engine.begin() as conn:
        # status = 'pending': a worker whose lease ran out must not undo another one's success;
        # not parked: a message cancelled while it was being sent stays cancelled.
        conn.execute(update(table).where(table.c.id == message.id, table.c.status == "pending",
                                         table.c.next_attempt_at < PARKED)
                     .values(next_attempt_at=next_at, last_error=error[:500]))
    return next_at


def _record_refused(engine: Engine, message: Leased, error: str) -> None:
    table = OutboxMessage.__table__
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == message.id, table.c.status == "pending",
                                         table.c.next_attempt_at < PARKED)
                     .values(**_park(message.reference, error, cancel=False)))


def _cancel_stale(engine: Engine) -> int:
    """Cancels the messages whose handover was closed or forwarded since they were queued (by a
    path that did not cancel them itself, such as the partner API's close)."""
    table = OutboxMessage.__table__
    with engine.begin() as conn:
        rows = conn.execute(
            select(table.c.id, table.c.partner_id, Handover.reference, Handover.status,
                   Handover.partner_id.label("handover_partner"))
            .join(Handover, Handover.id == table.c.handover_id)
            .where(_unsent(table), or_(Handover.status == "closed", Handover.partner_id != table.c.partner_id))
            .order_by(table.c.id)).all()
        done: Dict[tuple, int] = {}
        for row in rows:
            why = _why_cancelled(row.status, row.handover_partner, row.partner_id)
            if why is None:  # not reached: the query selects only closed and moved handovers
                continue
            result = conn.execute(update(table).where(table.c.id == row.id, _unsent(table))
                                  .values(**_park(row.reference, why, cancel=True)))
            if result.rowcount == 1:
                key = (row.reference, row.partner_id, why)
                done[key] = done.get(key, 0) + 1
    for (reference, partner_id, why), count in done.items():
        log.info("handover %s: %d waiting notification(s) to partner %s cancelled: %s",
                 reference, count, partner_id, why)
    return sum(done.values())


async def deliver_due(engine: Optional[Engine] = None, now: Optional[datetime] = None, limit: int = 50) -> Dict[str, int]:
    """Sends up to ``limit`` pending messages whose ``next_attempt_at`` has come. Returns counts:
    leased, sent, retry (failed, tried again later), failed (refused address: parked until an
    administrator retries it), unrecorded (sent or failed, but the database could not store it:
    the lease runs out and the message goes again, same key) and cancelled (messages whose
    handover was closed or forwarded since they were queued; leasing already skips them).
    Raises DatabaseUnavailable when the database cannot be reached to lease messages.

    ``now`` drives the clock (tests); without it the real UTC time is used."""
    from bot.handover import notify, utcnow

    engine = engine or get_engine()
    clock = (lambda: now) if now is not None else utcnow
    # Each database step runs in a worker thread; a failing database is DatabaseUnavailable.
    leased = await asyncio.to_thread(database_errors("leasing outbox messages")(_lease_due),
                                     engine, clock(), limit)
    counts = {"leased": len(leased), "sent": 0, "retry": 0, "failed": 0, "unrecorded": 0, "cancelled": 0}
    try:
        # After leasing, which already skips these messages: a failure here costs no delivery.
        counts["cancelled"] = await asyncio.to_thread(
            database_errors("cancelling outbox messages")(_cancel_stale), engine)
    except DatabaseUnavailable as exc:
        log.warning("%s; trying again next round", exc)
    if not leased:
        return counts

    gate = asyncio.Semaphore(SEND_CONCURRENCY)
    async with notify.Senders() as senders:
        async def one(message: Leased) -> None:
            async with gate:
                permanent = False
                try:
                    await senders.send(message)
                    error = None
                except notify.DeliveryError as exc:
                    error, permanent = str(exc), exc.permanent
                except Exception as exc:  # a bug must not stop the other messages; the message stays
                    log.error("outbox message %s (handover %s, %s): unexpected %s", message.id,
                              message.reference, message.kind, type(exc).__name__, exc_info=True)
                    error = f"unexpected error: {type(exc).__name__}"
            try:
                if error is None:
                    await asyncio.to_thread(database_errors("recording a delivery")(_record_sent),
                                            engine, message, clock())
                    counts["sent"] += 1
                    log.info("handover %s: %s to partner %s delivered (attempt %d)", message.reference,
                             message.kind, message.partner_id, message.attempts)
                elif permanent:
                    await asyncio.to_thread(database_errors("recording a refused delivery")(_record_refused),
                                            engine, message, error)
                    counts["failed"] += 1
                    log.error("handover %s: %s to partner %s not sent and not tried again: %s. The handover "
                              "itself is kept and is in the console; fix the partner's address (or "
                              "GIDS_WEBHOOK_ALLOW), then run: gids outbox retry %s", message.reference,
                              message.kind, message.partner_id, error, message.reference)
                else:
                    next_at = await asyncio.to_thread(
                        database_errors("recording a failed delivery")(_record_failure),
                        engine, message, clock(), error)
                    counts["retry"] += 1
                    log.warning("handover %s: %s to partner %s failed (attempt %d): %s; next try %s UTC",
                                message.reference, message.kind, message.partner_id, message.attempts,
                                error, next_at.strftime("%Y-%m-%d %H:%M:%S"))
            except DatabaseUnavailable as exc:
                counts["unrecorded"] += 1
                log.error("outbox message %s (handover %s): %s; it goes again when its lease ends",
                          message.id, message.reference, exc)
            except Exception as exc:  # keep the other sends of this round going
                counts["unrecorded"] += 1
                log.error("outbox message %s (handover %s): recording the result failed (%s); it goes "
                          "again when its lease ends", message.id, message.reference, type(exc).__name__)

        await asyncio.gather(*(one(m) for m in leased))
    return counts


# ------------------------------------------------------------------------------ status and retry

def status(engine: Optional[Engine] = None, now: Optional[datetime] = None,
           many_attempts: int = MANY_ATTEMPTS) -> dict:
    """Counts for ``gids outbox status``: pending (still to be sent), sent, cancelled and failed
    (parked, see above), due now, oldest pending age, the pending messages that failed many times
    and every failed one (no payloads, no addresses)."""
    from bot.handover import utcnow

    now = now or utcnow()

    def read() -> dict:
        with session_scope(engine) as session:
            parked = and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at >= PARKED)
            is_cancelled = OutboxMessage.last_error.like(CANCELLED + "%")
            count = lambda *where: session.execute(  # noqa: E731
                select(func.count()).select_from(OutboxMessage).where(*where)).scalar()
            live = _live()
            oldest = session.execute(select(func.min(OutboxMessage.created_at)).where(live)).scalar()

            def listed(*where):
                return [{"id": m.id, "reference": ref, "partner_id": m.partner_id, "kind": m.kind,
                         "attempts": m.attempts,
                         "next_attempt_at": (m.next_attempt_at.isoformat(sep=" ", timespec="seconds")
                                             if m.next_attempt_at < PARKED else None),
                         "last_error": m.last_error}
                        for m, ref in session.execute(
                            select(OutboxMessage, Handover.reference).join(Handover).where(*where)
                            .order_by(OutboxMessage.attempts.desc(), OutboxMessage.id)).all()]

            return {
                "pending": count(live),
                "sent": count(OutboxMessage.status == "sent"),
                "cancelled": count(parked, is_cancelled),
                "failed": count(parked, not_(is_cancelled)),
                "due_now": count(live, OutboxMessage.next_attempt_at <= now),
                "oldest_pending_age_seconds": int((now - oldest).total_seconds()) if oldest else None,
                "many_attempts": listed(live, OutboxMessage.attempts >= many_attempts),
                "failed_messages": listed(parked, not_(is_cancelled)),
            }

    with database_errors("reading the outbox"):
        return read()


@dataclass
class RetryResult:
    found: bool                 # a handover with this reference exists
    due: int = 0                # pending messages made due now
    retargeted: int = 0         # of which the address was updated from the partner's settings
    revived: int = 0            # of which had failed permanently (a refused address)
    cancelled: int = 0          # not made due: the handover was closed or is with another partner now


def retry(reference: str, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> RetryResult:
    """Makes the pending messages of one handover due now, including the ones that failed
    permanently (a refused webhook address): an administrator who fixed the address or
    GIDS_WEBHOOK_ALLOW retries them this way. A message whose partner has since changed its
    handover address or webhook takes the new one: that change is usually why an administrator
    retries. Cancelled messages stay cancelled; so does, from now on, a message to a partner the
    handover is no longer with, or of a closed handover."""
    from bot.handover import utcnow

    now = now or utcnow()

    def run() -> RetryResult:
        with session_scope(engine) as session:
            handover = session.execute(
                select(Handover).where(Handover.reference == reference.strip().upper())).scalar_one_or_none()
            if handover is None:
                return RetryResult(found=False)
            result = RetryResult(found=True)
            result.cancelled = cancel_pending(session, handover, only_stale=True)
            session.flush()
            messages = session.execute(select(OutboxMessage).where(
                OutboxMessage.handover_id == handover.id, _unsent()).order_by(OutboxMessage.id)).scalars().all()
            for message in messages:
                partner = session.get(Partner, message.partner_id)
                current = (partner.handover_email if message.kind == "email" else partner.handover_webhook) \
                    if partner is not None else None
                if current and current.strip() and current.strip() != message.target:
                    message.target = current.strip()
                    result.retargeted += 1
                if message.next_attempt_at >= PARKED:
                    result.revived += 1
                message.next_attempt_at = now
                result.due += 1
            return result

    with database_errors("retrying outbox messages"):
        return run()
