"""The console's live chat: the queue of people waiting, the chat pane, availability and office
hours (bot/live has the whole story; the page's script is static/live.js).

Staff of the person's region (and admins) see the queue and pick people up; only the one who
picked a chat up (or an admin) writes in it. The page follows the database through server-sent
events (``/live/events``): the queue when it changes and every new message of the chats the staff
member may see, with the message id as the event id, so a reconnect (EventSource sends
Last-Event-ID) continues where it stopped and shows nothing twice. Every change is a small POST
(with the CSRF token) answered with JSON; what it changes reaches all open consoles by the events.
While the page is open it renews the staff member's presence (``/live/presence``); a page closed
without logging out stops counting after bot.live.PRESENCE_SECONDS."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

import aiohttp_session
from aiohttp import web
from sqlalchemy import and_, false, or_, select, true
from sqlalchemy.orm import Session

from bot import live, messages
from bot.db.models import LIVE_OPEN, Arbeidsmarktregio, Gemeente, LiveChat, LiveMessage, Partner, StaffUser
from bot.handover import audit
from bot.live.wake import waker_for
from bot.messages import CHANNEL_LABELS

from . import fmt
from .auth import Staff
from .common import ENGINE, client_ip, flash, in_db, render

EVENT_POLL_SECONDS = 0.5
# Each page reads the queue and its messages at every wake-up: at most this often, so dozens of
# open pages and a burst of messages cost pages × 20 rounds a second, not pages × messages.
EVENT_MIN_ROUND_SECONDS = 0.05
STREAM_SECONDS = 300       # a stream ends after this; EventSource reconnects through the login check
KEEPALIVE_SECONDS = 15
CHAT = r"{chat:[0-9]{1,12}}"


# --- database work ----------------------------------------------------------------------------

def _visible(staff: Staff):
    if staff.role == "admin":
        return true()
    if staff.role == "werkcentrum" and staff.region_code:
        return LiveChat.region_code == staff.region_code
    return false()


def _label(chat: LiveChat, regions: Dict[str, str], now: datetime, staff: Staff) -> Dict[str, Any]:
    topics = json.loads(chat.topics or "[]")
    return {"id": chat.id, "status": chat.status, "channel": CHANNEL_LABELS.get(chat.channel, chat.channel),
            "topic": fmt.topic_name(topics[0]) if topics else "Geen onderwerp",
            "region": regions.get(chat.region_code or "", chat.region_code or "onbekend"),
            "waiting_seconds": int((now - chat.requested_at).total_seconds()),
            "staff_name": chat.staff_name, "mine": chat.picked_up_by == staff.id, "crisis": chat.crisis}


def _region_names(session: Session) -> Dict[str, str]:
    return {code: name for code, name in session.execute(select(Arbeidsmarktregio.code, Arbeidsmarktregio.name))}


def snapshot(session: Session, staff: Staff, now: Optional[datetime] = None) -> Dict[str, Any]:
    """The queue (waiting people, oldest first) and the open chats, as the page shows them."""
    now = now or live.utcnow()
    chats = session.execute(select(LiveChat).where(LiveChat.status.in_(LIVE_OPEN), _visible(staff))
                            .order_by(LiveChat.requested_at)).scalars().all()
    regions = _region_names(session)
    return {"waiting": [_label(c, regions, now, staff) for c in chats if c.status == "waiting"],
            "active": [_label(c, regions, now, staff) for c in chats if c.status == "active"],
            "available": live.is_available(session, staff.id),
            "colleagues": live.available_staff(session, staff.region_code, now) if staff.region_code else None}


def _message(m: LiveMessage, names: Dict[int, str]) -> Dict[str, Any]:
    return {"id": m.id, "chat": m.chat_id, "author": m.author, "text": m.text, "crisis": m.crisis,
            "to_person": m.to_person, "at": fmt.time_nl(m.created_at),
            "name": names.get(m.user_id or 0, "") if m.author == live.STAFF else "",
            "error": m.delivery_error or ""}


def _names(session: Session, ids) -> Dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    rows = session.execute(select(StaffUser.id, StaffUser.display_name, StaffUser.username)
                           .where(StaffUser.id.in_(ids))).all()
    return {i: (d or u).split()[0] for i, d, u in rows}


def messages_after(session: Session, staff: Staff, where: Any, limit: int = 200) -> List[Dict[str, Any]]:
    """The messages this staff member may see that match ``where`` (a FeedCursor's condition)."""
    rows = session.execute(select(LiveMessage).join(LiveChat, LiveChat.id == LiveMessage.chat_id)
                           .where(where, _visible(staff))
                           .order_by(LiveMessage.id).limit(limit)).scalars().all()
    names = _names(session, (m.user_id for m in rows))
    return [_message(m, names) for m in rows]


def _chat(session: Session, staff: Staff, chat_id: int, *, lock: bool = False) -> Optional[LiveChat]:
    query = select(LiveChat).where(LiveChat.id == chat_id, _visible(staff))
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def chat_detail(session: Session, staff: Staff, chat_id: int, ip: Optional[str]) -> Optional[Dict[str, Any]]:
    chat = _chat(session, staff, chat_id)
    if chat is None:
        return None
    rows = session.execute(select(LiveMessage).where(LiveMessage.chat_id == chat.id)
                           .order_by(LiveMessage.id)).scalars().all()
    names = _names(session, (m.user_id for m in rows))
    regions = _region_names(session)
    gemeente = session.get(Gemeente, chat.gemeente_code) if chat.gemeente_code else None
    # Who a handover from this chat may go to: the region's own partners and the national ones.
    partners = session.execute(select(Partner.id, Partner.name, Partner.type).where(
        or_(Partner.region_code == chat.region_code, and_(Partner.region_code.is_(None),
                                                          Partner.gemeente_code.is_(None)),
            Partner.gemeente_code == chat.gemeente_code))
        .order_by(Partner.type != "werkcentrum", Partner.name)).all()
    contact = ""
    if chat.channel == "whatsapp":
        from bot.handover.contact import whatsapp_id_to_e164
        contact = whatsapp_id_to_e164(chat.conversation_id) or ""
    audit.record(session, "live_view", actor=staff.username, user=staff, ip=ip,
                 detail=json.dumps({"chat": chat.id}))
    return {"chat": {**_label(chat, regions, live.utcnow(), staff), "gemeente": gemeente.name if gemeente else "",
                     "can_write": chat.status == "active" and (chat.picked_up_by == staff.id or staff.is_admin)},
            "before": [{"speaker": e.speaker, "text": e.text} for e in live.before_entries(chat)],
            "messages": [_message(m, names) for m in rows],
            "partners": [{"id": i, "name": n, "type": fmt.partner_type(t)} for i, n, t in partners],
            "contact": {"method": "whatsapp" if contact else "phone", "value": contact}}


def act(session: Session, staff: Staff, chat_id: int, action: str, form: Dict[str, str],
        ip: Optional[str]) -> Optional[Dict[str, Any]]:
    """pickup, send, typing, back, end, handover. None: no such chat for this staff member."""
    chat = _chat(session, staff, chat_id, lock=action != "typing")
    if chat is None:
        return None
    if action == "pickup":
        if chat.status != "waiting":
            return {"ok": False, "message": "Iemand anders heeft deze persoon al opgepakt."
                    if chat.status == "active" else "Deze persoon wacht niet meer."}
        ok = live.pick_up(session, chat.id, user_id=staff.id, username=staff.username,
                          display_name=staff.display_name)
        return {"ok": ok, "message": "" if ok else "Iemand anders heeft deze persoon al opgepakt."}
    if not (chat.status == "active" and (chat.picked_up_by == staff.id or staff.is_admin)):
        return {"ok": False, "message": "Deze chat is niet (meer) van jou."}
    if action == "typing":
        live.typing(session, chat)
        return {"ok": True}
    if action == "send":
        text = form.get("text", "").strip()
        if not text:
            return {"ok": False, "message": "Typ eerst een bericht."}
        if len(text) > live.MAX_TEXT:
            return {"ok": False, "message": f"Je bericht is te lang (meer dan {live.MAX_TEXT} tekens)."}
        message, _ = live.add_message(session, chat, live.STAFF, text, user_id=staff.id,
                                      client_ref=form.get("client_ref") or None)
        session.flush()
        return {"ok": True, "id": message.id}
    if action in ("back", "end"):
        status = "returned" if action == "back" else "ended"
        live.finish(session, chat, status, user_id=staff.id, actor=staff.username)
        return {"ok": True}
    if action == "handover":
        handover, problem = live.make_handover(
            session, chat, partner_id=form.get("partner_id", ""), contact_name=form.get("contact_name", ""),
            contact_method=form.get("contact_method", ""), contact_value=form.get("contact_value", ""),
            user_id=staff.id, username=staff.username)
        if handover is None:
            return {"ok": False, "message": problem}
        return {"ok": True, "reference": handover.reference}
    return None


def presence(session: Session, staff: Staff, available: Optional[bool]) -> Dict[str, Any]:
    now = live.utcnow()
    if available is None:
        live.seen(session, staff.id, now)
    else:
        live.set_available(session, staff.id, available, now)
        audit.record(session, "live_available" if available else "live_unavailable", actor=staff.username,
                     user=staff)
    return {"ok": True, "available": live.is_available(session, staff.id)}


def hours_page(session: Session, staff: Staff, region: str) -> Dict[str, Any]:
    regions = session.execute(select(Arbeidsmarktregio.code, Arbeidsmarktregio.name)
                              .order_by(Arbeidsmarktregio.name)).all()
    if staff.role != "admin":
        region = staff.region_code or ""
    region = region or (regions[0][0] if regions else "")
    hours = live.hours_for(session, region)
    return {"regions": regions, "region": region, "hours": hours, "days": messages.DAYS,
            "suggested": live.DEFAULT_HOURS if not hours else hours,
            "described": live.describe_hours(hours) if hours else "",
            "may_change": staff.role == "admin"}


# --- handlers ---------------------------------------------------------------------------------

def _only_staff(staff: Staff) -> None:
    if staff.role not in ("werkcentrum", "admin"):
        raise web.HTTPNotFound()


async def page(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only_staff(staff)
    data = await in_db(request, snapshot, staff)
    after = await in_db(request, lambda session: live.last_id(session))
    first_name = staff.name.split()[0] if staff.name else staff.username
    return await render(request, "live.html", {
        **data, "after": after, "quick_texts": [t.format(name=first_name) for t in messages.LIVE_QUICK_TEXTS],
        "presence_seconds": live.PRESENCE_RENEW})


async def detail(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only_staff(staff)
    data = await in_db(request, chat_detail, staff, int(request.match_info["chat"]), client_ip(request))
    if data is None:
        raise web.HTTPNotFound()
    return web.json_response(data)


async def action(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only_staff(staff)
    name = request.path.rsplit("/", 1)[1]
    form = {k: str(v) for k, v in (await request.post()).items()
            if k in ("text", "client_ref", "partner_id", "contact_name", "contact_method", "contact_value")}
    result = await in_db(request, act, staff, int(request.match_info["chat"]), name, form, client_ip(request))
    if result is None:
        raise web.HTTPNotFound()
    return web.json_response(result, status=200 if result.get("ok") else 409)


async def set_presence(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only_staff(staff)
    value = (await request.post()).get("available")
    available = None if value is None else value == "1"
    return web.json_response(await in_db(request, presence, staff, available))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``queue`` (when it changes) and ``message`` (id = the message id)."""
    staff = request["staff"]
    _only_staff(staff)
    try:
        after = int(request.headers.get("Last-Event-ID") or request.query.get("after") or 0)
    except ValueError:
        raise web.HTTPBadRequest()
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    ends, last_queue, quiet_since = loop.time() + STREAM_SECONDS, None, loop.time()
    # A reconnect gets the last moments' messages again (the page shows each id once): one may
    # have committed after the one the page had last.
    cursor = live.FeedCursor(await in_db(request, live.resume_floor, after))
    waker = waker_for(request.app[ENGINE])

    def read_round(session: Session) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
        """The queue and the new messages, in one transaction."""
        return snapshot(session, staff), cursor.read(
            session, lambda s, where, limit: messages_after(s, staff, where, limit), id_of=lambda m: m["id"],
            limit=200)

    await response.write(b"retry: 2000\n\n")
    try:
        while loop.time() < ends:
            woken, round_started = waker.seq, loop.time()
            queue, new_messages = await in_db(request, read_round)
            # waiting_seconds changes every second: the page counts those itself
            key = json.dumps({k: v for k, v in queue.items() if k not in ("waiting", "active")}, sort_keys=True) + \
                json.dumps([[c["id"], c["status"], c["staff_name"], c["crisis"]] for c in queue["waiting"] + queue["active"]])
            if key != last_queue:
                last_queue = key
                await response.write(_event("queue", queue))
                quiet_since = loop.time()
            for message in new_messages:
                await response.write(_event("message", message, event_id=message["id"]))
                quiet_since = loop.time()
            if loop.time() - quiet_since > KEEPALIVE_SECONDS:
                await response.write(b": keepalive\n\n")
                quiet_since = loop.time()
            await waker.wait(woken, EVENT_POLL_SECONDS)  # a new message wakes it (PostgreSQL)
            await asyncio.sleep(max(0.0, round_started + EVENT_MIN_ROUND_SECONDS - loop.time()))
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    return response


def _event(name: str, data: Any, event_id: Optional[int] = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def hours(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only_staff(staff)
    data = await in_db(request, hours_page, staff, request.query.get("region", ""))
    return await render(request, "live_hours.html", {**data, "problem": None})


async def hours_save(request: web.Request) -> web.Response:
    staff = request["staff"]
    if staff.role != "admin":
        raise web.HTTPNotFound()
    form = {k: str(v) for k, v in (await request.post()).items()}
    region = form.get("region", "")
    try:
        parsed = live.parse_hours(form)
        await in_db(request, lambda session: live.set_hours(session, region, parsed, actor=staff.username,
                                                            user_id=staff.id))
    except ValueError as exc:
        data = await in_db(request, hours_page, staff, region)
        return await render(request, "live_hours.html", {**data, "problem": str(exc)}, status=400)
    flash(await aiohttp_session.get_session(request), "ok", "De tijden voor de live chat zijn opgeslagen.")
    raise web.HTTPSeeOther(f"/live/hours?region={region}")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/live", page, name="live")
    r.add_get("/live/events", events)
    r.add_post("/live/presence", set_presence)
    r.add_get("/live/hours", hours, name="live_hours")
    r.add_post("/live/hours", hours_save)
    r.add_get(f"/live/{CHAT}", detail)
    for name in ("pickup", "send", "typing", "back", "end", "handover"):
        r.add_post(f"/live/{CHAT}/{name}", action)
