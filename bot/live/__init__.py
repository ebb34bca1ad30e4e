"""Live chat with the Werkcentrum: a person talks with a staff member of their region now, during
office hours, with the gids as the fallback (issue 16).

How a chat goes:
1. The gids offers it (actions/handover.py) only when ``offer()`` says the region's office hours are
   on and at least one staff member of the region (or an admin) is available: they switched it on
   in the console and the console's live page is open (``seen_at`` is renewed while it is).
2. With consent, ``start()`` stores the chat as *waiting*, with the conversation so far (redacted as
   a handover's transcript); the action pauses the core. From then on the gateway
   (bot/gateway/live.py) stores each message of the person here (``add_message``) instead of
   passing it to the core, and delivers what staff and the gids write, from the stored messages.
3. Staff of the region pick it up in the console (``pick_up``: of two at the same moment exactly one
   wins), chat, and end it: back to the gids, ended, or made into a handover (``finish``,
   ``make_handover``). Nobody picking up within WAIT_SECONDS, or the last available staff member
   leaving, sends the person back to the gids with the handover offer (``expire``).
4. Each end sets ``resume``: what the gateway must still tell the core (``claim_resumes``,
   ``resume_done``), so the core speaks again; a gateway that dies halfway leaves the lease to expire
   and another one redoes it.

Every message is stored before it is delivered; feeds read them by id (``FeedCursor``, ``replay``)
without skipping one whose transaction committed after a higher id's. Texts
of the person and of staff are redacted (bot.privacy) before they are stored; staff keep the phone
numbers and e-mail addresses of the routing table's partners, which a person needs to read.
Plain synchronous SQLAlchemy, in the caller's transaction."""
from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import messages
from bot.db import rowcount
from bot.db.models import (LIVE_OPEN, Arbeidsmarktregio, LiveChat, LiveHours, LiveMessage, Partner,
                           StaffPresence, StaffUser)
from bot.handover import TranscriptEntry, audit

TIMEZONE = ZoneInfo("Europe/Amsterdam")
# What the console's hours form suggests for a region that has none yet. A region without hours
# has no live chat: the gids never offers it there, and never speaks of office hours.
DEFAULT_HOURS: Dict[int, Tuple[str, str]] = {day: ("09:00", "17:00") for day in range(5)}
# The console's live page renews seen_at every PRESENCE_RENEW seconds; a page closed without
# logging out stops counting after PRESENCE_SECONDS.
PRESENCE_RENEW = 20
PRESENCE_SECONDS = 75
RESUME_LEASE = timedelta(seconds=60)
DELIVERY_LEASE = timedelta(seconds=60)
MAX_TEXT = 2000
PERSON, STAFF, GIDS, SYSTEM = "person", "staff", "gids", "system"
RESUME_UNAVAILABLE, RESUME_BACK = "unavailable", "back"
# Transcript speakers of a handover made from a chat (TranscriptLine.speaker: at most 10 characters).
SPEAKERS = {PERSON: "persoon", GIDS: "gids", STAFF: "medewerker", SYSTEM: "gids"}
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def wait_seconds(environ=os.environ) -> float:
    """How long a person waits for a staff member before the gids takes over again."""
    try:
        value = float(environ.get("GIDS_LIVE_WAIT_SECONDS") or 120)
    except ValueError:
        value = 120.0
    return max(5.0, value)


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --- office hours ---------------------------------------------------------------------------------

def hours_for(session: Session, region_code: Optional[str]) -> Dict[int, Tuple[str, str]]:
    rows = session.execute(select(LiveHours).where(LiveHours.region_code == region_code)).scalars().all()
    return {r.weekday: (r.opens, r.closes) for r in rows}


def is_open(hours: Dict[int, Tuple[str, str]], when: datetime) -> bool:
    local = when.replace(tzinfo=timezone.utc).astimezone(TIMEZONE)
    day = hours.get(local.weekday())
    return day is not None and day[0] <= local.strftime("%H:%M") < day[1]


def _clock(hhmm: str) -> str:
    return hhmm[1:] if hhmm.startswith("0") else hhmm


def describe_hours(hours: Dict[int, Tuple[str, str]]) -> str:
    """ "maandag tot en met vrijdag van 9:00 tot 17:00" (B1: days in words)."""
    groups: List[Tuple[int, int, Tuple[str, str]]] = []
    for day in sorted(hours):
        if groups and groups[-1][1] == day - 1 and groups[-1][2] == hours[day]:
            groups[-1] = (groups[-1][0], day, hours[day])
        else:
            groups.append((day, day, hours[day]))
    parts = []
    for first, last, (opens, closes) in groups:
        days = messages.DAYS[first] if first == last else (
            f"{messages.DAYS[first]} en {messages.DAYS[last]}" if last == first + 1
            else f"{messages.DAYS[first]} tot en met {messages.DAYS[last]}")
        parts.append(f"{days} van {_clock(opens)} tot {_clock(closes)}")
    return messages.join_dutch(parts) if parts else "geen enkele dag"


def parse_hours(form: Dict[str, str]) -> Dict[int, Tuple[str, str]]:
    """The console's form (``opens_0``, ``closes_0`` … for Monday …) as hours; empty day = closed.
    A ValueError says in Dutch what is wrong."""
    hours: Dict[int, Tuple[str, str]] = {}
    for day in range(7):
        opens, closes = (form.get(f"{k}_{day}", "").strip() for k in ("opens", "closes"))
        if not opens and not closes:
            continue
        opens, closes = (("0" + t) if re.match(r"^\d:\d\d$", t) else t for t in (opens, closes))
        if not (_HHMM.match(opens) and _HHMM.match(closes)):
            raise ValueError(f"{messages.DAYS[day].capitalize()}: schrijf de tijden zo: 09:00 en 17:00.")
        if opens >= closes:
            raise ValueError(f"{messages.DAYS[day].capitalize()}: de begintijd moet voor de eindtijd liggen.")
        hours[day] = (opens, closes)
    return hours


def set_hours(session: Session, region_code: str, hours: Dict[int, Tuple[str, str]], *, actor: str,
              user_id: Optional[int] = None) -> None:
    if session.get(Arbeidsmarktregio, region_code) is None:
        raise ValueError("Die regio ken ik niet.")
    session.execute(delete(LiveHours).where(LiveHours.region_code == region_code))
    for day, (opens, closes) in sorted(hours.items()):
        session.add(LiveHours(region_code=region_code, weekday=day, opens=opens, closes=closes))
    audit.record(session, "live_hours", actor=actor, user_id=user_id,
                 detail=json.dumps({"region": region_code, "days": len(hours)}))


# --- who is available -----------------------------------------------------------------------------

def _may_take(region_code: Optional[str]):
    """Staff accounts that may pick up a chat of this region: its Werkcentrum staff and admins."""
    if region_code:
        return and_(StaffUser.active.is_(True),
                    or_(StaffUser.role == "admin",
                        and_(StaffUser.role == "werkcentrum", StaffUser.region_code == region_code)))
    return and_(StaffUser.active.is_(True), StaffUser.role == "admin")


def available_staff(session: Session, region_code: Optional[str], now: datetime) -> int:
    return session.execute(
        select(func.count()).select_from(StaffPresence).join(StaffUser, StaffUser.id == StaffPresence.user_id)
        .where(StaffPresence.available.is_(True),
               StaffPresence.seen_at >= now - timedelta(seconds=PRESENCE_SECONDS),
               _may_take(region_code))).scalar_one()


def set_available(session: Session, user_id: int, available: bool, now: datetime) -> None:
    row = session.get(StaffPresence, user_id)
    if row is None:
        session.add(StaffPresence(user_id=user_id, available=available, changed_at=now, seen_at=now))
        return
    if row.available != available:
        row.available, row.changed_at = available, now
    row.seen_at = now


def seen(session: Session, user_id: int, now: datetime) -> None:
    session.execute(update(StaffPresence).where(StaffPresence.user_id == user_id)
                    .values(seen_at=now).execution_options(synchronize_session=False))


def is_available(session: Session, user_id: int) -> bool:
    row = session.get(StaffPresence, user_id)
    return bool(row and row.available)


@dataclass(frozen=True)
class Offer:
    possible: bool
    why: str          # open, closed, nobody, off (no live chat in the region), no_region
    hours: str = ""   # the region's office hours in words, for "closed"


def offer(session: Session, region_code: Optional[str], now: Optional[datetime] = None) -> Offer:
    """Whether the gids may offer a live chat to a person of this region now."""
    now = now or utcnow()
    if not region_code:
        return Offer(False, "no_region")
    hours = hours_for(session, region_code)
    if not hours:
        return Offer(False, "off")
    if not is_open(hours, now):
        return Offer(False, "closed", describe_hours(hours))
    if not available_staff(session, region_code, now):
        return Offer(False, "nobody")
    return Offer(True, "open")


# --- a chat ---------------------------------------------------------------------------------------

def open_chat(session: Session, conversation_id: str) -> Optional[LiveChat]:
    return session.execute(
        select(LiveChat).where(LiveChat.conversation_id == conversation_id, LiveChat.status.in_(LIVE_OPEN))
        .order_by(LiveChat.id.desc()).limit(1)).scalar_one_or_none()


def start(session: Session, *, conversation_id: str, channel: str, region_code: Optional[str],
          gemeente_code: Optional[str] = None, topics: Sequence[str] = (),
          before: Sequence[TranscriptEntry] = (), now: Optional[datetime] = None) -> LiveChat:
    """A waiting chat (or the one already open for this conversation: asking twice is one chat)."""
    now = now or utcnow()
    existing = open_chat(session, conversation_id)
    if existing is not None:
        return existing
    chat = LiveChat(conversation_id=conversation_id, channel=channel, status="waiting", region_code=region_code,
                    gemeente_code=gemeente_code, topics=json.dumps(list(topics)),
                    before=json.dumps([[e.speaker, e.text, e.sent_at.isoformat() if e.sent_at else None]
                                       for e in before], ensure_ascii=False),
                    consented_at=now, requested_at=now, updated_at=now, staff_name="", crisis=False)
    session.add(chat)
    session.flush()
    notify(session)  # the console's queue
    audit.record(session, "live_request", actor="gids", detail=json.dumps({"chat": chat.id, "channel": channel}))
    return chat


def before_entries(chat: LiveChat) -> List[TranscriptEntry]:
    entries = []
    for speaker, text, sent_at in json.loads(chat.before or "[]"):
        entries.append(TranscriptEntry(speaker, text, datetime.fromisoformat(sent_at) if sent_at else None))
    return entries


_PARTNER_CONTACTS: Tuple[float, frozenset] = (0.0, frozenset())


def partner_contacts(session: Session) -> frozenset:
    """The routing table's phone numbers and e-mail addresses (kept in staff messages), for 5 minutes."""
    global _PARTNER_CONTACTS
    loaded_at, values = _PARTNER_CONTACTS
    if time.monotonic() - loaded_at > 300 or not values:
        rows = session.execute(select(Partner.phone, Partner.email)).all()
        values = frozenset(v for row in rows for v in row if v)
        _PARTNER_CONTACTS = (time.monotonic(), values)
    return values


def add_message(session: Session, chat: LiveChat, author: str, text: str, *, user_id: Optional[int] = None,
                client_ref: Optional[str] = None, to_person: bool = True, crisis: bool = False,
                payload: Optional[Dict[str, Any]] = None, now: Optional[datetime] = None) -> Tuple[LiveMessage, bool]:
    """Stores one message; (the message, True) — or (the one stored before with the same
    ``client_ref``, False), so a message sent again after a reconnect is kept once."""
    from bot.privacy import redact

    now = now or utcnow()
    client_ref = (client_ref or "")[:64] or None
    if client_ref:
        found = _by_ref(session, chat.id, author, client_ref)
        if found is not None:
            return found, False
    text = (text or "").strip()[:MAX_TEXT]
    if author == PERSON:
        text = redact(text)
    elif author == STAFF:
        text = redact(text, keep=partner_contacts(session))
    message = LiveMessage(chat_id=chat.id, created_at=now, author=author, user_id=user_id, text=text,
                          payload=json.dumps(payload, ensure_ascii=False) if payload else None,
                          client_ref=client_ref, to_person=to_person, crisis=crisis)
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:  # the same message at the same moment through another gateway
        found = _by_ref(session, chat.id, author, client_ref or "")
        if found is None:
            raise
        return found, False
    chat.updated_at = now
    if crisis:
        chat.crisis = True
    notify(session)
    return message, True


def notify(session: Session) -> None:
    """Readers wake when this transaction commits (bot/live/wake.py); PostgreSQL only."""
    if session.get_bind().dialect.name == "postgresql":
        from bot.live.wake import CHANNEL
        session.execute(sql_text(f"NOTIFY {CHANNEL}"))


def _by_ref(session: Session, chat_id: int, author: str, client_ref: str) -> Optional[LiveMessage]:
    return session.execute(select(LiveMessage).where(
        LiveMessage.chat_id == chat_id, LiveMessage.author == author,
        LiveMessage.client_ref == client_ref)).scalar_one_or_none()


def may_see(role: str, region_code: Optional[str], chat: LiveChat) -> bool:
    """Staff of the person's region and admins; partner staff never (they get handovers)."""
    return role == "admin" or (role == "werkcentrum" and region_code is not None and chat.region_code == region_code)


def pick_up(session: Session, chat_id: int, *, user_id: int, username: str, display_name: str,
            now: Optional[datetime] = None) -> bool:
    """waiting → active for this staff member; False when someone else was first (or it ended)."""
    now = now or utcnow()
    first_name = (display_name or username).split()[0][:60]
    taken = rowcount(session.execute(
        update(LiveChat).where(LiveChat.id == chat_id, LiveChat.status == "waiting")
        .values(status="active", picked_up_by=user_id, picked_up_at=now, staff_name=first_name, updated_at=now)
        .execution_options(synchronize_session=False)))
    if not taken:
        return False
    chat = session.get(LiveChat, chat_id, populate_existing=True)
    assert chat is not None  # the UPDATE above just found it
    add_message(session, chat, SYSTEM, messages.LIVE_JOINED.format(name=first_name), now=now)
    audit.record(session, "live_pickup", actor=username, user_id=user_id, detail=json.dumps({"chat": chat_id}))
    return True


def finish(session: Session, chat: LiveChat, status: str, *, user_id: Optional[int], actor: str,
           now: Optional[datetime] = None, note: Optional[str] = None) -> bool:
    """An open chat ends: ``returned`` (back to the gids), ``ended`` or ``handover``. The gids
    speaks again (``resume``). False when it had already ended."""
    now = now or utcnow()
    done = rowcount(session.execute(
        update(LiveChat).where(LiveChat.id == chat.id, LiveChat.status.in_(LIVE_OPEN))
        .values(status=status, ended_at=now, ended_by=user_id, updated_at=now, resume=RESUME_BACK,
                resume_claimed_at=None)
        .execution_options(synchronize_session=False)))
    if not done:
        return False
    session.refresh(chat)
    name = chat.staff_name or "De medewerker"
    text = note or (messages.LIVE_RETURNED if status == "returned" else messages.LIVE_ENDED).format(name=name)
    add_message(session, chat, SYSTEM, text, now=now)
    audit.record(session, f"live_{status}", actor=actor, user_id=user_id, detail=json.dumps({"chat": chat.id}))
    return True


def transcript(session: Session, chat: LiveChat) -> List[TranscriptEntry]:
    """The conversation before the chat and the chat itself, as a handover's transcript."""
    lines = before_entries(chat)
    for m in session.execute(select(LiveMessage).where(LiveMessage.chat_id == chat.id)
                             .order_by(LiveMessage.id)).scalars():
        lines.append(TranscriptEntry(SPEAKERS[m.author], m.text, m.created_at))
    return lines


def make_handover(session: Session, chat: LiveChat, *, partner_id: str, contact_name: str, contact_method: str,
                  contact_value: str, user_id: int, username: str, now: Optional[datetime] = None):
    """A handover with the live transcript to ``partner_id``, and the chat ends with it. Returns
    (handover, None) or (None, a Dutch reason for staff)."""
    from bot.handover import lifecycle
    from bot.handover.contact import clean_name, normalise_email, normalise_phone
    from bot.handover.transcript import build_summary

    now = now or utcnow()
    if chat.status not in LIVE_OPEN:
        return None, "Deze chat is al afgelopen."
    partner = session.get(Partner, partner_id)
    if partner is None:
        return None, "Kies een partner uit de lijst."
    name = clean_name(contact_name)
    if not name:
        return None, "Vul de naam van de persoon in."
    if contact_method == "email":
        value = normalise_email(contact_value)
    elif contact_method in ("phone", "whatsapp"):
        value = normalise_phone(contact_value, mobile_only=contact_method == "whatsapp")
    else:
        return None, "Kies hoe de partner contact opneemt: bellen, e-mail of WhatsApp."
    if not value:
        return None, "Dat telefoonnummer of e-mailadres klopt niet."
    topics = json.loads(chat.topics or "[]")
    region = session.get(Arbeidsmarktregio, chat.region_code) if chat.region_code else None
    summary = build_summary(topics=topics, gemeente_name=None, region_name=region.name if region else None,
                            place=None, reason="request_human", contact_method=contact_method,
                            channel=chat.channel, partner_name=partner.name)
    handover = lifecycle.create(
        session, partner=partner, conversation_id=chat.conversation_id, channel=chat.channel,
        region_code=chat.region_code, gemeente_code=chat.gemeente_code, topics=topics, reason="live_chat",
        contact_name=name, contact_method=contact_method, contact_value=value, summary=summary,
        transcript=transcript(session, chat), by=lifecycle.Actor(username, user_id), now=now)
    chat.handover_id = handover.id
    finish(session, chat, "handover", user_id=user_id, actor=username, now=now,
           note=messages.LIVE_HANDOVER.format(name=chat.staff_name or "De medewerker", partner=partner.name,
                                              reference=handover.reference))
    return handover, None


def typing(session: Session, chat: LiveChat, now: Optional[datetime] = None) -> None:
    chat.staff_typing_at = now or utcnow()
    notify(session)


# --- the gateway's side ---------------------------------------------------------------------------

def expire(session: Session, now: Optional[datetime] = None, wait: Optional[float] = None) -> List[int]:
    """Waiting chats that nobody picked up in time, or whose region has nobody available any more,
    go back to the gids, which offers the handover. Returns their ids."""
    now = now or utcnow()
    wait = wait_seconds() if wait is None else wait
    waiting = session.execute(select(LiveChat).where(LiveChat.status == "waiting")).scalars().all()
    staffed: Dict[Optional[str], bool] = {}
    gone = []
    for chat in waiting:
        if chat.region_code not in staffed:
            staffed[chat.region_code] = available_staff(session, chat.region_code, now) > 0
        if chat.requested_at <= now - timedelta(seconds=wait) or not staffed[chat.region_code]:
            moved = rowcount(session.execute(
                update(LiveChat).where(LiveChat.id == chat.id, LiveChat.status == "waiting")
                .values(status="returned", ended_at=now, updated_at=now, resume=RESUME_UNAVAILABLE,
                        resume_claimed_at=None)
                .execution_options(synchronize_session=False)))
            if moved:
                gone.append(chat.id)
                audit.record(session, "live_unanswered", actor="gids", detail=json.dumps({"chat": chat.id}))
    return gone


@dataclass(frozen=True)
class Resume:
    chat_id: int
    conversation_id: str
    channel: str
    what: str   # RESUME_UNAVAILABLE or RESUME_BACK


def claim_resumes(session: Session, now: Optional[datetime] = None, limit: int = 20) -> List[Resume]:
    now = now or utcnow()
    stale = now - RESUME_LEASE
    due = or_(LiveChat.resume_claimed_at.is_(None), LiveChat.resume_claimed_at < stale)
    rows = session.execute(select(LiveChat.id, LiveChat.conversation_id, LiveChat.channel, LiveChat.resume)
                           .where(LiveChat.resume.isnot(None), due).order_by(LiveChat.id).limit(limit)).all()
    claimed = []
    for chat_id, conversation_id, channel, what in rows:
        got = rowcount(session.execute(
            update(LiveChat).where(LiveChat.id == chat_id, LiveChat.resume.isnot(None), due)
            .values(resume_claimed_at=now).execution_options(synchronize_session=False)))
        if got:
            claimed.append(Resume(chat_id, conversation_id, channel, what))
    return claimed


def resume_done(session: Session, chat_id: int, answers: Iterable[Dict[str, Any]],
                now: Optional[datetime] = None) -> None:
    """The core spoke again: its answers are stored (and so delivered) as the gids's messages."""
    chat = session.get(LiveChat, chat_id)
    if chat is None:
        return
    for answer in answers:
        raw = answer.get("text")
        text = raw if isinstance(raw, str) else ""
        buttons = [b for b in answer.get("buttons") or [] if isinstance(b, dict)]
        if text or buttons:
            add_message(session, chat, GIDS, text, payload={"buttons": buttons} if buttons else None, now=now)
    chat.resume, chat.resume_claimed_at = None, None


def resume_failed(session: Session, chat_id: int) -> None:
    """The core did not answer: another round (of any gateway) tries again."""
    session.execute(update(LiveChat).where(LiveChat.id == chat_id).values(resume_claimed_at=None)
                    .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class FeedItem:
    id: int
    chat_id: int
    conversation_id: str
    channel: str
    author: str
    text: str
    buttons: List[Dict[str, Any]]
    to_person: bool
    crisis: bool
    created_at: datetime
    status: str        # the chat's status now
    staff_name: str

    def for_person(self) -> Dict[str, Any]:
        """What the web chat widget gets (event ``live_message``)."""
        return {"id": self.id, "author": self.author, "text": self.text, "buttons": self.buttons,
                "status": self.status, "name": self.staff_name}


def _items(session: Session, where, limit: int) -> List[FeedItem]:
    rows = session.execute(
        select(LiveMessage, LiveChat.conversation_id, LiveChat.channel, LiveChat.status, LiveChat.staff_name)
        .join(LiveChat, LiveChat.id == LiveMessage.chat_id).where(where).order_by(LiveMessage.id).limit(limit)).all()
    return [FeedItem(m.id, m.chat_id, conv, channel, m.author, m.text,
                     (json.loads(m.payload).get("buttons") or []) if m.payload else [], m.to_person, m.crisis,
                     m.created_at, status, staff_name)
            for m, conv, channel, status, staff_name in rows]


def feed(session: Session, where: Any, limit: int = 500) -> List[FeedItem]:
    """Every message that matches ``where`` (a FeedCursor's condition), oldest first."""
    return _items(session, where, limit)


def items(session: Session, message_ids: Sequence[int]) -> List[FeedItem]:
    return _items(session, LiveMessage.id.in_(list(message_ids)), len(message_ids))


def last_id(session: Session) -> int:
    return session.execute(select(func.max(LiveMessage.id))).scalar_one() or 0


# A message's id is taken when it is inserted, but a reader sees it only once its transaction
# commits. On PostgreSQL two writers (a person's gateway, a staff member's console) can commit out
# of id order, so "the ids after the last one I read" would skip for good the message that
# committed late. The transactions that write messages are short: one still open after
# COMMIT_GRACE_SECONDS is not waited for.
COMMIT_GRACE_SECONDS = 10.0
# A reader that comes back (a reconnect, a reload) knows only the last id it had: it gets again
# what was stored in this window before now, and shows each message once by its id. Wider than
# the grace, for clocks of gateways and consoles that differ a little.
RESUME_WINDOW = timedelta(seconds=30)

Item = TypeVar("Item")


class FeedCursor:
    """Where a reader of the messages is: everything up to ``floor`` it had, and above it the ids in
    ``seen``. ``read`` asks for the rest, so a message that committed late still comes, once.

    The floor rises to the highest id that existed ``grace`` seconds before a read: every lower id
    was taken before that moment, so its transaction had ended by the read, which saw it."""

    def __init__(self, after: int, grace: float = COMMIT_GRACE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.floor = after
        self.grace = grace
        self.clock = clock
        self.seen: set = set()
        self._marks: Deque[Tuple[float, int]] = deque()

    def condition(self) -> Any:
        above = LiveMessage.id > self.floor
        return and_(above, LiveMessage.id.notin_(sorted(self.seen))) if self.seen else above

    def read(self, session: Session, query: Callable[[Session, Any, int], List[Item]],
             id_of: Callable[[Item], int] = lambda item: item.id,  # type: ignore[attr-defined]
             limit: int = 500) -> List[Item]:
        """``query(session, condition, limit)`` returns the messages that match, in id order."""
        now = self.clock()
        high = last_id(session)  # read first: every id up to it was taken before the query below
        found = query(session, self.condition(), limit)
        items = [item for item in found if id_of(item) not in self.seen]
        self.seen.update(id_of(item) for item in items)
        # A read cut off by the limit vouches only for what it returned.
        self._marks.append((now, high if len(found) < limit else max(map(id_of, found), default=self.floor)))
        floor = self.floor
        while self._marks and self._marks[0][0] <= now - self.grace:
            floor = max(floor, self._marks.popleft()[1])
        if floor != self.floor:
            self.floor = floor
            self.seen = {i for i in self.seen if i > floor}
        return items


def resume_floor(session: Session, after: int, now: Optional[datetime] = None) -> int:
    """Where a reader that had everything up to ``after`` starts again: before the messages of the
    last moments, which may have committed after it read its last one."""
    # Among the newest ids only (the primary key's index), not a scan of the whole table.
    newest = select(LiveMessage.id, LiveMessage.created_at).order_by(LiveMessage.id.desc()).limit(1000).subquery()
    recent = session.execute(select(func.min(newest.c.id)).where(
        newest.c.created_at >= (now or utcnow()) - RESUME_WINDOW)).scalar_one()
    return after if recent is None else min(after, recent - 1)


def replay(session: Session, conversation_id: str, after: int, limit: int = 500,
           now: Optional[datetime] = None) -> List[FeedItem]:
    """What the person should have seen after id ``after`` (a reconnect, a reload), with the last
    moments' messages again: the widget shows each message once."""
    return _items(session, and_(LiveChat.conversation_id == conversation_id,
                                LiveMessage.id > resume_floor(session, after, now),
                                LiveMessage.to_person.is_(True), LiveMessage.author != PERSON), limit)


def claim_delivery(session: Session, message_id: int, now: Optional[datetime] = None) -> bool:
    """WhatsApp: this gateway sends the message (False: another one does, or did)."""
    now = now or utcnow()
    return bool(rowcount(session.execute(
        update(LiveMessage).where(LiveMessage.id == message_id, LiveMessage.delivered_at.is_(None),
                                  or_(LiveMessage.delivery_claimed_at.is_(None),
                                      LiveMessage.delivery_claimed_at < now - DELIVERY_LEASE))
        .values(delivery_claimed_at=now).execution_options(synchronize_session=False))))


def delivered(session: Session, message_id: int, error: Optional[str] = None,
              now: Optional[datetime] = None) -> None:
    session.execute(update(LiveMessage).where(LiveMessage.id == message_id)
                    .values(delivered_at=now or utcnow(), delivery_error=(error or None) and error[:200])
                    .execution_options(synchronize_session=False))


def undelivered(session: Session, now: Optional[datetime] = None, limit: int = 200) -> List[FeedItem]:
    """WhatsApp messages to a person that no gateway delivered (one stopped after claiming)."""
    now = now or utcnow()
    return _items(session, and_(LiveChat.channel == "whatsapp", LiveMessage.to_person.is_(True),
                                LiveMessage.author != PERSON, LiveMessage.delivered_at.is_(None),
                                # never claimed (the feed of a gateway that was down) or the lease ran out
                                or_(and_(LiveMessage.delivery_claimed_at.is_(None),
                                         LiveMessage.created_at < now - timedelta(seconds=10)),
                                    LiveMessage.delivery_claimed_at < now - DELIVERY_LEASE)), limit)


def typing_since(session: Session, since: datetime) -> List[str]:
    """Conversations whose staff member typed after ``since`` (the widget's typing dots)."""
    return list(session.execute(select(LiveChat.conversation_id).where(
        LiveChat.status == "active", LiveChat.staff_typing_at > since)).scalars())


# --- retention ------------------------------------------------------------------------------------

def purge(session: Session, before: datetime, dry_run: bool = False) -> int:
    """Chats (with their messages) that ended before ``before``: the handover retention period."""
    return _delete(session, and_(LiveChat.requested_at < before, LiveChat.status.notin_(LIVE_OPEN)), dry_run)


def forget(session: Session, conversation_id: str) -> int:
    """Every chat of one conversation (`gids forget`), open or not."""
    return _delete(session, LiveChat.conversation_id == conversation_id, False)


def _delete(session: Session, where, dry_run: bool) -> int:
    if dry_run:
        return session.execute(select(func.count()).select_from(LiveChat).where(where)).scalar_one()
    ids = list(session.execute(select(LiveChat.id).where(where)).scalars())
    if ids:
        session.execute(delete(LiveMessage).where(LiveMessage.chat_id.in_(ids)).execution_options(
            synchronize_session=False))
        session.execute(delete(LiveChat).where(LiveChat.id.in_(ids)).execution_options(synchronize_session=False))
    return len(ids)
