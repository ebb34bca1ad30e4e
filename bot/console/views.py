"""The console pages: login, inbox, a handover with its actions, export, print, trends, a partner's
own card and its change requests, and coverage.

Each handler reads its request, runs its database work (queries.py) through ``in_db`` and renders
a page; routes.py maps the URLs to them."""
from __future__ import annotations

import json
import secrets
from typing import Optional
from urllib.parse import urlencode

import aiohttp_session
from aiohttp import web

from bot import live
from bot.messages import TOPIC_NAMES
from bot.routing import changes

from . import auth, common, queries, trends
from .common import KEY, client_ip, flash, in_db, render, throttle_address
from .queries import BadFilter, Filters

STATUS_FILTERS = ("open", "new", "claimed", "closed", "all")
AGE_FILTERS = {"today": "Vandaag", "week": "Laatste 7 dagen", "older": "Ouder dan 7 dagen"}


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
    if result.staff is None:
        return await render(request, "login.html", {**ctx, "error": auth.LOGIN_FAILED}, status=401)
    # A fresh session (and CSRF token) at login: nothing from before the login carries over.
    web_session = await aiohttp_session.new_session(request)
    now = common.clock()
    web_session.update(uid=result.staff.id, pwf=result.fingerprint, login=now, seen=now,
                       sid=secrets.token_urlsafe(12))
    auth.csrf_token(web_session)
    raise web.HTTPSeeOther(target)


async def logout(request: web.Request) -> web.Response:
    staff = request["staff"]
    ip = client_ip(request)
    web_session = await aiohttp_session.get_session(request)
    sid = web_session.get("sid", "")
    await in_db(request, queries.record_logout, staff, sid, ip)
    if staff.role in ("werkcentrum", "admin"):
        # Whoever logs off takes no live chats; people waiting for them go back to the gids.
        await in_db(request, live.set_available, staff.id, False, live.utcnow())
    web_session.clear()
    flash(web_session, "info", "Je bent uitgelogd.")
    raise web.HTTPSeeOther("/login")


# --- inbox ------------------------------------------------------------------------------------

def _filters(request: web.Request, staff: auth.Staff) -> Filters:
    q = request.query
    f: Filters = {"status": q.get("status", "open") or "open", "topic": q.get("topic", ""),
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


async def inbox(request: web.Request) -> web.Response:
    staff = request["staff"]
    try:
        f = _filters(request, staff)
        data = await in_db(request, queries.inbox, staff, f, client_ip(request))
    except BadFilter as exc:
        return await render(request, "error.html", {"title": "Dat filter ken ik niet",
                                                    "text": f"{exc} Kies een filter uit de lijst."}, status=400)

    def link(**changes) -> str:
        merged = {k: v for k, v in {**f, "page": 1, **changes}.items() if v not in ("", None, 1)}
        return "/?" + urlencode(merged) if merged else "/"
    return await render(request, "inbox.html", {
        **data, "f": f, "link": link, "statuses": STATUS_FILTERS, "ages": AGE_FILTERS,
        "topics": TOPIC_NAMES, "status_labels": {"open": "Open", "new": "Nieuw", "claimed": "Opgepakt",
                                                 "closed": "Afgesloten", "all": "Alle"}})


# --- one handover -----------------------------------------------------------------------------

async def handover_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    data = await in_db(request, queries.handover_page, staff, request.match_info["reference"], "view",
                       client_ip(request))
    if data is None:
        raise web.HTTPNotFound()
    data.setdefault("forward_options", [])
    return await render(request, "handover.html", data)


async def print_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    data = await in_db(request, queries.handover_page, staff, request.match_info["reference"], "print",
                       client_ip(request))
    if data is None:
        raise web.HTTPNotFound()
    return await render(request, "print.html", data)


async def export_json(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    data = await in_db(request, queries.export, request["staff"], reference, client_ip(request))
    if data is None:
        raise web.HTTPNotFound()
    return web.Response(text=json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{reference}.json"'})


async def handover_action(request: web.Request) -> web.Response:
    reference = request.match_info["reference"]
    action = request.path.rsplit("/", 1)[1]
    form = {k: str(v) for k, v in (await request.post()).items() if k in ("text", "partner_id", "reason")}
    result = await in_db(request, queries.change, request["staff"], reference, action, form, client_ip(request))
    if result is None:
        raise web.HTTPNotFound()
    outcome, still_visible = result
    web_session = await aiohttp_session.get_session(request)
    flash(web_session, "ok" if outcome.changed else "error",
          f"{reference}: {outcome.message}" if not still_visible else outcome.message)
    raise web.HTTPSeeOther(f"/handovers/{reference}" if still_visible else "/")


# --- trends -----------------------------------------------------------------------------------

async def trends_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    region = request.query.get("region", staff.home_region or "alle")
    region = "" if region == "alle" else region
    try:
        weeks = int(request.query.get("weeks", "8"))
        if not 1 <= weeks <= trends.MAX_WEEKS:
            raise ValueError
        data = await in_db(request, queries.trends_page, staff, region, weeks, client_ip(request))
    except ValueError as exc:  # BadFilter is a ValueError too
        text = str(exc) if isinstance(exc, BadFilter) else f"Kies 1 tot {trends.MAX_WEEKS} weken."
        return await render(request, "error.html", {"title": "Dat filter ken ik niet", "text": text}, status=400)
    return await render(request, "trends.html", {**data, "region": region, "weeks": weeks,
                                                 "week_choices": (4, 8, 13, 26, 52)})


# --- partners keep their card current: "Onze gegevens", "Wijzigingen" ---------------------------

def _only(staff: auth.Staff, *roles: str) -> None:
    """A page for other roles does not exist for them (as a handover they may not see)."""
    if staff.role not in roles:
        raise web.HTTPNotFound()


async def partner_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only(staff, "partner")
    data = await in_db(request, queries.partner_page, staff)
    if data is None:
        raise web.HTTPNotFound()
    return await render(request, "partner.html", data)


async def partner_propose(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only(staff, "partner")
    form = {k: str(v) for k, v in (await request.post()).items() if k in changes.FIELDS}
    problem, data = await in_db(request, queries.propose_change, staff, form, client_ip(request))
    if problem is None:
        flash(await aiohttp_session.get_session(request), "ok",
              "Je voorstel is verstuurd. Het Werkcentrum controleert het. Daarna toont de gids de nieuwe gegevens.")
        raise web.HTTPSeeOther("/partner")
    if data is None:
        raise web.HTTPNotFound()
    return await render(request, "partner.html", {**data, "problem": problem}, status=400)


async def changes_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only(staff, "werkcentrum", "admin")
    data = await in_db(request, queries.changes_page, staff)
    return await render(request, "changes.html", data)


async def change_decision(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only(staff, "werkcentrum", "admin")
    action = request.path.rsplit("/", 1)[1]
    form = {k: str(v) for k, v in (await request.post()).items() if k in ("services_checked", "reason")}
    result = await in_db(request, queries.decide_change, staff, int(request.match_info["id"]), action, form,
                         client_ip(request))
    if result is None:
        raise web.HTTPNotFound()
    done, message = result
    flash(await aiohttp_session.get_session(request), "ok" if done else "error", message)
    raise web.HTTPSeeOther("/changes")


# --- coverage: "Dekking" ----------------------------------------------------------------------

async def coverage_page(request: web.Request) -> web.Response:
    staff = request["staff"]
    _only(staff, "werkcentrum", "admin")
    region = request.query.get("region", "alle")
    try:
        data = await in_db(request, queries.coverage_page, staff, "" if region == "alle" else region,
                           client_ip(request))
    except BadFilter as exc:
        return await render(request, "error.html", {"title": "Dat filter ken ik niet",
                                                    "text": f"{exc} Kies een regio uit de lijst."}, status=400)
    return await render(request, "coverage.html", data)
