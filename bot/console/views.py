"""The console pages: login, inbox, a handover with its actions, export, print and trends."""
from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta, timezone
from typing import Optional

import aiohttp_session
from aiohttp import web
from sqlalchemy import func, select

from bot.db.models import (HANDOVER_STATUSES, Arbeidsmarktregio, AuditLog, Gemeente, Handover, Partner,
                           Service, StaffUser)
from bot.handover import audit, handover_dict, topics_of
from bot.messages import TOPIC_NAMES

from . import access, auth, fmt, trends
from .app import KEY, clock, client_ip, flash, in_db, render, throttle_address

PAGE_SIZE = 50
REF = r"{reference:WC-[0-9]{4}-[0-9]{6,12}}"
STATUS_FILTERS = ("open", "new", "claimed", "closed", "all")
AGE_FILTERS = {"today": "Vandaag", "week": "Laatste 7 dagen", "older": "Ouder dan 7 dagen"}


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/login", login_page, name="login")
    r.add_post("/login", login_submit)
    r.add_post("/logout", logout, name="logout")
    r.add_get("/", inbox, name="inbox")
    r.add_get(f"/handovers/{REF}.json", export_json, name="export")
    r.add_get(f"/handovers/{REF}/print", print_page, name="print")
    r.add_get(f"/handovers/{REF}", handover_page, name="handover")
    for action in ("claim", "note", "forward", "close"):
        r.add_post(f"/handovers/{REF}/{action}", handover_action)
    r.add_get("/trends", trends_page, name="trends")


def _safe_next(target: Optional[str]) -> str:
    """Only a path on this site: '//evil.example' or 'https://…' would send staff elsewhere."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 32 or c == "\x7f" for c in target)):  # browsers drop tabs: "/\t/evil"
        return "/"
    return target


# --- login and logout -------------------------------------------------------------------------

async def login_page(request: web.Request) -> web.Response:
    if request.get("staff") is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    return await render(request, "login.html", {"next": _safe_next(request.query.get("next")),
                                                "username": "", "error": None})


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", ""))[:200]
    password = str(form.get("password", ""))[:1000]
    target = _safe_next(str(form.get("next", "")))
    ctx = {"next": target, "username": username}
    if not username.strip() or not password:
        return await render(request, "login.html", {**ctx, "error": "Vul je gebruikersnaam en wachtwoord in."},
                            status=400)
    result = await in_db(request, auth.attempt_login, username, password,
                         secret=request.app[KEY], ip=client_ip(request),
                         throttle_ip=throttle_address(request))
    if result.wait_minutes:
        minutes = "1 minuut" if result.wait_minutes == 1 else f"{result.wait_minutes} minuten"
        return await render(request, "login.html", {**ctx, "error": (
            f"Er is te vaak een verkeerd wachtwoord gebruikt. Wacht {minutes} en probeer het dan opnieuw.")},
            status=429)
    if not result.ok:
        return await render(request, "login.html", {**ctx, "error": auth.LOGIN_FAILED}, status=401)
    # A fresh session (and CSRF token) at login: nothing from before the login carries over.
    web_session = await aiohttp_session.new_session(request)
    now = clock()
    web_session.update(uid=result.staff.id, pwf=result.fingerprint, login=now, seen=now,
                       sid=secrets.token_urlsafe(12))
    auth.csrf_token(web_session)
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.Response:
    staff = request["staff"]
    ip = client_ip(request)
    web_session = await aiohttp_session.get_session(request)
    sid = web_session.get("sid", "")
    await in_db(request, lambda s: audit.record(s, "logout", actor=staff.username, user=staff, ip=ip,
                                               detail=f"sid={sid}"))
    web_session.clear()
    flash(web_session, "info", "Je bent uitgelogd.")
    raise web.HTTPSeeOther("/login")


# --- inbox ------------------------------------------------------------------------------------

class BadFilter(ValueError):
    pass


def _filters(request: web.Request, staff: auth.Staff) -> dict:
    q = request.query
    f = {"status": q.get("status", "open") or "open", "topic": q.get("topic", ""),
         "region": q.get("region", "") if staff.role == "admin" else "",
         "gemeente": q.get("gemeente", "") if staff.role == "werkcentrum" else "",
         "age": q.get("age", "")}
    if f["status"] not in STATUS_FILTERS:
        raise BadFilter(f"Status '{f['status']}' ken ik niet.")
    if f["topic"] and f["topic"] not in TOPIC_NAMES:
        raise BadFilter(f"Onderwerp '{f['topic']}' ken ik niet.")
    if f["age"] and f["age"] not in AGE_FILTERS:
        raise BadFilter(f"Leeftijd '{f['age']}' ken ik niet.")
    try:
        f["page"] = int(q.get("page", "1"))
        if not 1 <= f["page"] <= 100_000:
            raise ValueError
    except ValueError:
        raise BadFilter("Het paginanummer moet een getal van 1 tot 100000 zijn.") from None
    return f


def _start_of_today_utc() -> datetime:
    local_midnight = datetime.now(fmt.LOCAL).replace(hour=0, minute=0, second=0, microsecond=0)
    return local_midnight.astimezone(timezone.utc).replace(tzinfo=None)


def _inbox_data(session, staff: auth.Staff, f: dict, ip: Optional[str]) -> dict:
    if f["region"] and session.get(Arbeidsmarktregio, f["region"]) is None:
        raise BadFilter(f"Regio '{f['region']}' ken ik niet.")
    gemeenten = []
    if staff.role == "werkcentrum":
        gemeenten = session.execute(select(Gemeente.code, Gemeente.name).where(
            Gemeente.region_code == staff.region_code).order_by(Gemeente.name)).all()
        if f["gemeente"] and f["gemeente"] not in {g.code for g in gemeenten}:
            raise BadFilter(f"Gemeente '{f['gemeente']}' ligt niet in jouw regio.")

    conditions = [access.visible_to(staff)]
    if f["topic"]:
        # topics is a JSON list; the topic was checked against the known names, so LIKE is exact.
        conditions.append(Handover.topics.like(f'%"{f["topic"]}"%'))
    if f["region"]:
        conditions.append(Handover.region_code == f["region"])
    if f["gemeente"]:
        conditions.append(Handover.gemeente_code == f["gemeente"])
    week_ago = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=7)
    if f["age"] == "today":
        conditions.append(Handover.created_at >= _start_of_today_utc())
    elif f["age"] == "week":
        conditions.append(Handover.created_at >= week_ago)
    elif f["age"] == "older":
        conditions.append(Handover.created_at < week_ago)

    counts = dict(session.execute(select(Handover.status, func.count()).where(*conditions)
                                  .group_by(Handover.status)).all())
    counts = {s: counts.get(s, 0) for s in HANDOVER_STATUSES}
    counts["open"] = counts["new"] + counts["claimed"]
    counts["all"] = counts["open"] + counts["closed"]

    status_condition = {"open": Handover.status.in_(("new", "claimed")), "all": None}.get(
        f["status"], Handover.status == f["status"])
    if status_condition is not None:
        conditions.append(status_condition)
    rows = session.execute(select(Handover).where(*conditions)
                           .order_by(Handover.created_at.desc(), Handover.id.desc())
                           .offset((f["page"] - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).scalars().all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    names = _names(session, rows)
    items = [{"reference": h.reference, "created_at": h.created_at, "status": h.status,
              "topics": topics_of(h), "gemeente": names["gemeente"].get(h.gemeente_code, ""),
              "region": names["region"].get(h.region_code, ""), "partner": names["partner"].get(h.partner_id, h.partner_id),
              "claimed_by": names["staff"].get(h.claimed_by, "")} for h in rows]
    # The list shows no personal data, but who looked at which list is still worth knowing.
    audit.record(session, "inbox", actor=staff.username, user=staff, ip=ip)
    regions = session.execute(select(Arbeidsmarktregio.code, Arbeidsmarktregio.name)
                              .order_by(Arbeidsmarktregio.name)).all() if staff.role == "admin" else []
    return {"items": items, "counts": counts, "more": more, "regions": regions, "gemeenten": gemeenten}


def _names(session, handovers) -> dict:
    def lookup(model, key, col, values):
        values = {v for v in values if v is not None}
        if not values:
            return {}
        return dict(session.execute(select(key, col).where(key.in_(values))).all())
    return {
        "gemeente": lookup(Gemeente, Gemeente.code, Gemeente.name, (h.gemeente_code for h in handovers)),
        "region": lookup(Arbeidsmarktregio, Arbeidsmarktregio.code, Arbeidsmarktregio.name,
                         (h.region_code for h in handovers)),
        "partner": lookup(Partner, Partner.id, Partner.name, (h.partner_id for h in handovers)),
        "staff": {uid: (disp or user) for uid, disp, user in session.execute(
            select(StaffUser.id, StaffUser.display_name, StaffUser.username).where(
                StaffUser.id.in_({h.claimed_by for h in handovers if h.claimed_by}))).all()},
    }


async def inbox(request: web.Request) -> web.Response:
    staff = request["staff"]
    try:
        f = _filters(request, staff)
        data = await in_db(request, _inbox_data, staff, f, client_ip(request))
    except BadFilter as exc:
        return await render(request, "error.html", {"title": "Dat filter ken ik niet",
                                                    "text": f"{exc} Kies een filter uit de lijst."}, status=400)

    def link(**changes) -> str:
        from urllib.parse import urlencode
        merged = {k: v for k, v in {**f, "page": 1, **changes}.items() if v not in ("", None, 1)}
        return "/?" + urlencode(merged) if merged else "/"
    return await render(request, "inbox.html", {
        **data, "f": f, "link": link, "statuses": STATUS_FILTERS, "ages": AGE_FILTERS,
        "topics": TOPIC_NAMES, "status_labels": {"open": "Open", "new": "Nieuw", "claimed": "Opgepakt",
                                                 "closed": "Afgesloten", "all": "Alle"}})


# --- one handover -----------------------------------------------------------------------------

def _not_found(session, staff: auth.Staff, reference: str, ip: Optional[str]) -> None:
    # Guessing references is worth spotting; the detail holds only the reference that was tried.
    audit.record(session, "not_found", actor=staff.username, user=staff, detail=f"reference={reference}", ip=ip)


def _details(session, h: Handover, staff: auth.Staff, *, with_audit: bool) -> dict:
    names = _names(session, [h])
    service = session.get(Service, h.service_id) if h.service_id else None
    notes, note_authors = _visible_notes(session, h, staff)
    partner = h.partner
    data = {
        "h": {"reference": h.reference, "status": h.status, "created_at": h.created_at,
              "updated_at": h.updated_at, "channel": h.channel, "reason": h.reason, "audience": h.audience,
              "summary": h.summary, "topics": topics_of(h), "contact_name": h.contact_name,
              "contact_method": h.contact_method, "contact_value": h.contact_value,
              "claimed_at": h.claimed_at, "closed_at": h.closed_at,
              "claimed_by": names["staff"].get(h.claimed_by, "") if h.claimed_by else "",
              "claimed_by_me": h.claimed_by == staff.id},
        "partner": {"id": partner.id, "name": partner.name, "type": partner.type, "phone": partner.phone,
                    "email": partner.email, "website": partner.website},
        "service": service.description if service is not None else "",
        "gemeente": names["gemeente"].get(h.gemeente_code, ""),
        "region": names["region"].get(h.region_code, ""),
        "transcript": [{"speaker": t.speaker, "text": t.text, "sent_at": t.sent_at} for t in h.transcript],
        "notes": [{"text": n.text, "created_at": n.created_at, "author": note_authors.get(n.user_id, "onbekend")}
                  for n in notes],
        "trail": [],
    }
    if with_audit:
        data["trail"] = [{"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail, "ip": a.ip}
                         for a in session.execute(select(AuditLog).where(AuditLog.handover_id == h.id)
                                                  .order_by(AuditLog.at.desc(), AuditLog.id.desc())
                                                  .limit(200)).scalars()]
    return data


def _visible_notes(session, h: Handover, staff: auth.Staff):
    """The notes this staff member may read, and their authors' names.

    Notes are internal to the organisation that wrote them. A note has no owner column, so its
    organisation is its author's: partner staff see the notes written by their own partner's
    staff and by Werkcentrum staff and administrators (who hand the case over), not those of a
    partner that had the handover before it was forwarded, nor notes whose author was removed.
    Werkcentrum staff and administrators see every note, as before. (A note written by someone
    who later moved to another partner counts for the new one: a ``handover_note.partner_id``
    filled in when the note is written would fix that; it needs a migration.)"""
    authors = {row.id: row for row in session.execute(
        select(StaffUser.id, StaffUser.display_name, StaffUser.username, StaffUser.role, StaffUser.partner_id)
        .where(StaffUser.id.in_({n.user_id for n in h.notes if n.user_id}))).all()}

    def readable(note) -> bool:
        if staff.role != "partner":
            return True
        author = authors.get(note.user_id)
        if author is None:
            return False
        return author.role in ("werkcentrum", "admin") or (
            author.role == "partner" and author.partner_id == staff.partner_id)

    return ([n for n in h.notes if readable(n)],
            {uid: a.display_name or a.username for uid, a in authors.items()})


def _forward_options(session, h: Handover) -> list:
    """Partners grouped so the likely ones come first: this gemeente and region, then national."""
    near, national, other = [], [], []
    for p in session.execute(select(Partner.id, Partner.name, Partner.type, Partner.region_code,
                                    Partner.gemeente_code).order_by(Partner.name)).all():
        if p.id == h.partner_id:
            continue
        item = {"id": p.id, "label": f"{p.name} ({fmt.PARTNER_TYPES.get(p.type, p.type)})"}
        if (p.gemeente_code and p.gemeente_code == h.gemeente_code) or (p.region_code and p.region_code == h.region_code):
            near.append(item)
        elif p.gemeente_code is None and p.region_code is None:
            national.append(item)
        else:
            other.append(item)
    return [(label, items) for label, items in (("In deze gemeente en regio", near), ("Landelijk", national),
                                                ("Andere gemeenten en regio's", other)) if items]


def _page_data(session, staff: auth.Staff, reference: str, action: str, ip: Optional[str]) -> Optional[dict]:
    h = access.find(session, reference, access.visible_to(staff))
    if h is None:
        _not_found(session, staff, reference, ip)
        return None
    audit.record(session, action, actor=staff.username, user=staff, handover=h, ip=ip)
    data = _details(session, h, staff, with_audit=staff.is_admin and action == "view")
    if action == "view" and h.status != "closed":
        data["forward_options"] = _forward_options(session, h)
    return data


async def handover_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    data = await in_db(request, _page_data, staff, request.match_info["reference"], "view", client_ip(request))
    if data is None:
        raise web.HTTPNotFound()
    data.setdefault("forward_options", [])
    return await render(request, "handover.html", data)


async def print_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    data = await in_db(request, _page_data, staff, request.match_info["reference"], "print", client_ip(request))
    if data is None:
        raise web.HTTPNotFound()
    return await render(request, "print.html", data)


def _export(session, staff: auth.Staff, reference: str, ip: Optional[str]) -> Optional[dict]:
    h = access.find(session, reference, access.visible_to(staff))
    if h is None:
        _not_found(session, staff, reference, ip)
        return None
    audit.record(session, "export", actor=staff.username, user=staff, handover=h, ip=ip)
    return handover_dict(h)


async def export_json(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    data = await in_db(request, _export, request["staff"], reference, client_ip(request))
    if data is None:
        raise web.HTTPNotFound()
    return web.Response(text=json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{reference}.json"'})


def _act(session, staff: auth.Staff, reference: str, action: str, form: dict, ip: Optional[str]):
    # Locked: a note and a forward at the same moment must not interleave.
    h = access.find(session, reference, access.visible_to(staff), lock=True)
    if h is None:
        _not_found(session, staff, reference, ip)
        return None
    if action == "claim":
        outcome = access.claim(session, h, actor=staff.username, staff=staff, ip=ip)
    elif action == "close":
        outcome = access.close(session, h, actor=staff.username, staff=staff, ip=ip)
    elif action == "note":
        outcome = access.add_note(session, h, form.get("text", ""), staff=staff, ip=ip)
    else:
        outcome = access.forward(session, h, form.get("partner_id", ""), staff=staff,
                                 reason=form.get("reason", ""), ip=ip)
    session.flush()
    still_visible = access.find(session, reference, access.visible_to(staff)) is not None
    return outcome, still_visible


async def handover_action(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    action = request.path.rsplit("/", 1)[1]
    form = {k: str(v) for k, v in (await request.post()).items() if k in ("text", "partner_id", "reason")}
    result = await in_db(request, _act, request["staff"], reference, action, form, client_ip(request))
    if result is None:
        raise web.HTTPNotFound()
    outcome, still_visible = result
    web_session = await aiohttp_session.get_session(request)
    flash(web_session, "ok" if outcome.changed else "error",
          f"{reference}: {outcome.message}" if not still_visible else outcome.message)
    raise web.HTTPSeeOther(f"/handovers/{reference}" if still_visible else "/")


# --- trends -----------------------------------------------------------------------------------

def _trends_data(session, staff: auth.Staff, region: str, weeks: int, ip: Optional[str]) -> dict:
    regions = session.execute(select(Arbeidsmarktregio.code, Arbeidsmarktregio.name)
                              .order_by(Arbeidsmarktregio.name)).all()
    if region and region not in {r.code for r in regions}:
        raise BadFilter(f"Regio '{region}' ken ik niet.")
    today = datetime.now(fmt.LOCAL).date()
    t = trends.weekly_counts(session, weeks=weeks, region_code=region or None, today=today)
    audit.record(session, "trends", actor=staff.username, user=staff, ip=ip,
                 detail=f"region={region or 'alle'} weeks={weeks}")
    return {"t": t, "chart": trends.line_chart(t), "regions": regions,
            "region_name": dict(regions).get(region, "")}


async def trends_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    region = request.query.get("region", staff.home_region or "alle")
    region = "" if region == "alle" else region
    try:
        weeks = int(request.query.get("weeks", "8"))
        if not 1 <= weeks <= trends.MAX_WEEKS:
            raise ValueError
        data = await in_db(request, _trends_data, staff, region, weeks, client_ip(request))
    except ValueError as exc:  # BadFilter is a ValueError too
        text = str(exc) if isinstance(exc, BadFilter) else f"Kies 1 tot {trends.MAX_WEEKS} weken."
        return await render(request, "error.html", {"title": "Dat filter ken ik niet", "text": text}, status=400)
    return await render(request, "trends.html", {**data, "region": region, "weeks": weeks,
                                                 "week_choices": (4, 8, 13, 26, 52)})
