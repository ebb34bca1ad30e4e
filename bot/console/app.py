"""The staff console: an aiohttp app with encrypted cookie sessions, jinja2 pages and the partner
JSON API under /api/v1.

The modules import in one direction: app (this one: the app, its middlewares and its session key)
→ routes (which URL goes to which handler) → views and api (the handlers) → queries (the database
work, with access for who sees what and bot.handover.lifecycle for every change). What all
handlers share (the app's settings, ``in_db``, client addresses, ``render``) is in common."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Optional, Union
from urllib.parse import quote

import aiohttp_session
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot import config
from bot.db import DatabaseUnavailable, get_engine

from . import auth, common, fmt, routes
# Re-exported: the console's settings and client addresses, as the tests and `gids console` use them.
from .common import (ENGINE, JINJA, KEY, SECURE, TRUSTED, ConsoleConfigError, client_ip, flash, in_db,
                     json_error, parse_trusted_proxies, render, throttle_address)

__all__ = ["make_app", "run", "load_secret", "ConsoleConfigError", "parse_trusted_proxies", "client_ip",
           "throttle_address", "TRUSTED", "MAX_BODY", "SESSION_IDLE", "SESSION_ABSOLUTE"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SECRET_FILE = config.ROOT / "var" / "console-secret"
COOKIE_NAME = "gids_console"
SESSION_IDLE = 60 * 60             # logged out after an hour without a request
SESSION_ABSOLUTE = 12 * 60 * 60    # and after a working day, whatever happens

# The largest request body the console reads: its forms hold at most a note of 4000 characters.
# Nothing in the console needs more (the routing table is imported with `gids routing import`, not
# uploaded here). Bodies are read only after the login check, except the login form's own.
MAX_BODY = 64 * 1024

# Every page and API answer. No inline script or style anywhere, so the policy can forbid both:
# text a person typed can never run, even if escaping failed somewhere.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


# --- the session key ------------------------------------------------------------------------

def load_secret(path: Path = SECRET_FILE, environ: Mapping[str, str] = os.environ) -> bytes:
    """GIDS_CONSOLE_SECRET (a Fernet key: urlsafe base64 of 32 bytes), else the key in ``path``,
    made once with mode 0600. Several console processes need the same key: set the variable."""
    value = (environ.get("GIDS_CONSOLE_SECRET") or "").strip()
    if value:
        return _checked(value.encode(), "GIDS_CONSOLE_SECRET")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)  # a key others can read is no key: tighten rather than refuse
        return _checked(path.read_bytes().strip(), str(path))
    with os.fdopen(fd, "wb") as fh:
        key = Fernet.generate_key()
        fh.write(key + b"\n")
    return key


def _checked(key: bytes, where: str) -> bytes:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ConsoleConfigError(
            f"{where} is geen geldige sleutel. Maak er een met: python -c \"from cryptography.fernet "
            f"import Fernet; print(Fernet.generate_key().decode())\"") from None
    return key


# --- middlewares ----------------------------------------------------------------------------

PUBLIC_PREFIXES = ("/static/", "/api/")
PUBLIC_PATHS = ("/login",)


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Dutch error pages (and JSON errors for the API); a database outage is a calm 503."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise  # redirects, and API errors that already carry their JSON body
        return await _error_page(request, exc.status, exc.headers)
    except DatabaseUnavailable as exc:  # common.in_db: every database call of a handler
        log.error("database unavailable during %s %s: %s", request.method, request.path, exc)
        return await _error_page(request, 503, {})
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a calm page, a safe log line
        # SQLAlchemy puts statement parameters (a note, a transcript line) into its messages, so
        # only the type, the first line of the driver's message and the code frames are logged.
        log.error("unexpected %s during %s %s: %s\n%s", type(exc).__name__, request.method, request.path,
                  _first_line(exc) if isinstance(exc, SQLAlchemyError) else "",
                  "".join(traceback.format_tb(exc.__traceback__)))
        return await _error_page(request, 500, {})


def _first_line(exc: BaseException) -> str:
    """The first line of the driver's message (the statement and its parameters follow it)."""
    orig = getattr(exc, "orig", None)
    lines = str(orig if orig is not None else type(exc).__name__).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


ERRORS = {
    400: ("Dat ging niet goed", "Deze vraag aan de console klopt niet. Ga terug en probeer het opnieuw."),
    403: ("Niet gelukt", "Deze pagina is verlopen. Laad de pagina opnieuw en probeer het nog eens."),
    404: ("Niet gevonden", "Deze pagina bestaat niet, of je mag hem niet zien."),
    405: ("Niet gelukt", "Dat kan op deze pagina niet."),
    413: ("Te groot", "Je tekst is te lang. Maak hem korter en probeer het opnieuw."),
    500: ("Er ging iets mis", "Dat is onze fout. Probeer het over een paar minuten opnieuw."),
    503: ("Even niet bereikbaar", "De database is even niet bereikbaar. Probeer het over een paar minuten opnieuw."),
}


API_ERRORS = {
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("too_large", "The request body is too large."),
    500: ("internal_error", "Something went wrong on our side; try again later."),
    503: ("unavailable", "The database is unavailable; try again in a few minutes."),
}


async def _error_page(request: web.Request, status: int, headers: Mapping[str, str]) -> web.StreamResponse:
    title, text = ERRORS.get(status, ("Er ging iets mis", "Probeer het over een paar minuten opnieuw."))
    if _is_api(request):
        code, message = API_ERRORS.get(status, ("error", "Something went wrong; try again later."))
        return json_error(status, code, message, {k: v for k, v in headers.items() if k == "Allow"})
    resp = await render(request, "error.html", {"title": title, "text": text}, status=status)
    for name in ("Allow", "Retry-After"):
        if name in headers:
            resp.headers[name] = headers[name]
    return resp


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Loads the staff member on every request (a disabled account is out at once), ends idle and
    old sessions, sends anyone not logged in to the login page before reading a request body, and
    then checks the CSRF token of every form POST (the login form's too)."""
    if request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    web_session = await aiohttp_session.get_session(request)
    request["staff"] = None
    uid = web_session.get("uid")
    if uid is not None:
        now = common.clock()
        expired = (now - web_session.get("seen", 0) > SESSION_IDLE
                   or now - web_session.get("login", 0) > SESSION_ABSOLUTE)
        staff = None if expired else await in_db(
            request, auth.load_staff, uid, web_session.get("pwf", ""), web_session.get("sid", ""),
            datetime.fromtimestamp(web_session.get("login", 0), timezone.utc).replace(tzinfo=None))
        if staff is None:
            web_session.clear()
            flash(web_session, "info", "Je sessie is verlopen. Log opnieuw in.")
            if request.path not in PUBLIC_PATHS:
                # Also for a form sent from a page left open too long: to the login, not to a 403.
                raise _to_login(request)
        else:
            request["staff"] = staff
            if now - web_session.get("seen", 0) > 60:  # no new cookie on every click
                web_session["seen"] = now

    if request["staff"] is None and request.path not in PUBLIC_PATHS:
        # Before any body is read: an anonymous POST costs the console nothing.
        raise _to_login(request)
    if request.method == "POST":
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
        form = await request.post()
        if not auth.csrf_valid(web_session, form.get("csrf_token")):
            raise web.HTTPForbidden()
    return await handler(request)


def _to_login(request: web.Request) -> web.HTTPSeeOther:
    target = request.path_qs if request.method == "GET" else "/"
    return web.HTTPSeeOther("/login?next=" + quote(target, safe=""))


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.app[SECURE]:
        # Browsers only heed this over HTTPS (and ignore it on http://localhost), so it is safe to send.
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/static/"):
        # Pages and API answers hold personal data: no browser or proxy may keep a copy.
        response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")


# --- the app --------------------------------------------------------------------------------

def make_app(engine: Optional[Engine] = None, *, secret: Union[str, bytes, None] = None,
             secure_cookies: bool = True,
             trusted_proxies: Union[str, Iterable[str], None] = None) -> web.Application:
    """The console. ``secret``: a Fernet key (default: load_secret()). ``secure_cookies=False`` only
    for plain-http set-ups that are not localhost (browsers accept Secure cookies on localhost).
    ``trusted_proxies``: see parse_trusted_proxies (default: GIDS_TRUSTED_PROXIES)."""
    if trusted_proxies is None:
        trusted_proxies = os.environ.get("GIDS_TRUSTED_PROXIES", "")
    proxies = parse_trusted_proxies(trusted_proxies)
    key = _checked(secret.encode() if isinstance(secret, str) else secret, "secret") if secret else load_secret()
    storage = EncryptedCookieStorage(
        Fernet(key), cookie_name=COOKIE_NAME, max_age=SESSION_ABSOLUTE, secure=secure_cookies,
        httponly=True, samesite="Strict")
    # Order matters: the session wraps the error pages, so a flash message shown on an error page
    # is really used up, and the error pages wrap the login and CSRF checks.
    app = web.Application(middlewares=[aiohttp_session.session_middleware(storage), errors, authenticate],
                          client_max_size=MAX_BODY)
    app[ENGINE] = engine or get_engine()
    app[SECURE] = secure_cookies
    app[TRUSTED] = proxies
    # A separate key for hashing typed user names, derived so the cookie key itself is never reused.
    app[KEY] = hashlib.sha256(b"gids-console-login-key\x00" + key).digest()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    fmt.register(env)
    # Versioned URLs (?v=hash), so a new CSS file is never mixed with a cached old one.
    env.globals["static"] = lambda name: str(app.router["static"].url_for(filename=name))
    app[JINJA] = env
    app.on_response_prepare.append(_security_headers)
    routes.setup(app)
    # GET /health for the load balancer and docker-compose: before the session and login
    # middlewares, so it needs no cookie and says nothing but the database's state.
    from .health import install_console_health

    install_console_health(app)

    async def stop_listening(app: web.Application) -> None:
        from bot.live.wake import release  # the live page's listener, if a stream started one
        await asyncio.to_thread(release, app[ENGINE])
    app.on_cleanup.append(stop_listening)
    return app


def run(host: str = "127.0.0.1", port: int = 8080, *, secure_cookies: bool = True) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = make_app(secure_cookies=secure_cookies)
    if not app[TRUSTED]:
        log.info("GIDS_TRUSTED_PROXIES is not set: failed logins are counted per user name only")
    # The default access log line holds the user agent and referrer; path and status are enough.
    web.run_app(app, host=host, port=port, access_log_format='%a "%r" %s %b %Tfs',
                print=lambda text: print(f"De console draait op http://{host}:{port}/ (stoppen: Ctrl-C)"))
