"""What every console handler needs from its request: the app's settings, the database, the
client's address, a page or a JSON error. The app (app.py) fills in the settings; the pages
(views.py) and the partner API (api.py) use them; nothing here imports those modules."""
from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any, Callable, Iterable, List, Optional, Tuple, TypeVar, Union

import aiohttp_session
import jinja2
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.db import database_errors, session_scope

from . import auth

ENGINE = web.AppKey("engine", Engine)
JINJA = web.AppKey("jinja", jinja2.Environment)
KEY = web.AppKey("hmac_key", bytes)
OPENAPI = web.AppKey("openapi", dict)
SECURE = web.AppKey("secure_cookies", bool)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
TRUSTED = web.AppKey("trusted_proxies", tuple)

T = TypeVar("T")


class ConsoleConfigError(RuntimeError):
    """The console cannot start; the message says what to fix."""


def clock() -> float:
    """Seconds since the epoch; the session timestamps use it (the tests move it on)."""
    return time.time()


# --- the database ---------------------------------------------------------------------------

async def in_db(request: web.Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs ``fn(session, *args, **kwargs)`` in one transaction in a worker thread (SQLAlchemy is
    synchronous, so one slow query or password hash never stalls the other requests). A database
    that fails raises DatabaseUnavailable: the error middleware answers 503."""
    engine = request.app[ENGINE]

    def run() -> T:
        with database_errors("the gids database"), session_scope(engine) as session:
            return fn(session, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, run)


# --- client addresses -----------------------------------------------------------------------

def parse_trusted_proxies(value: Union[str, Iterable[str], None]) -> Tuple[Network, ...]:
    """GIDS_TRUSTED_PROXIES: the addresses or networks (CIDR) of the reverse proxies whose
    X-Forwarded-For the console believes, separated by commas or spaces."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    networks: List[Network] = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ConsoleConfigError(
                f"GIDS_TRUSTED_PROXIES: '{item}' is geen IP-adres of netwerk. "
                f"Schrijf bijvoorbeeld 10.0.0.5 of 10.0.0.0/24, met komma's ertussen.") from None
    return tuple(networks)


def _address(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    text = (text or "").strip()
    if text.startswith("[") and "]" in text:        # [2001:db8::1]:443
        text = text[1:text.index("]")]
    elif text.count(":") == 1:                      # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _client(request: web.Request) -> Tuple[Optional[str], bool]:
    """(the client's address as far as it is known, whether it is the client's own).

    Without trusted proxies: the connection's address, not counted as the client's own, because
    behind a proxy every client has the proxy's. With them: from a trusted proxy, the right-most
    X-Forwarded-For address that is not a trusted proxy (the left part is whatever the client
    sent); from any other address, that address itself, and its X-Forwarded-For is ignored."""
    peer = request.remote
    proxies: Tuple[Network, ...] = request.app[TRUSTED]
    if not proxies:
        return peer, False
    peer_address = _address(peer or "")
    if peer_address is None:
        return peer, False
    if not any(peer_address in net for net in proxies):
        return str(peer_address), True
    hops = ",".join(request.headers.getall("X-Forwarded-For", ())).split(",")
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # no header, or one the proxy did not write: the client is unknown
        if not any(address in net for net in proxies):
            return str(address), True
    return str(peer_address), False


def client_ip(request: web.Request) -> Optional[str]:
    """The address the audit log keeps: the client's where a trusted proxy says it, otherwise the
    connection's."""
    return _client(request)[0]


def throttle_address(request: web.Request) -> Optional[str]:
    """The address failed logins are counted against, or None when the client address is not
    known (no trusted proxy set): counting the proxy's address would lock out all staff."""
    address, own = _client(request)
    return address if own else None


# --- answers --------------------------------------------------------------------------------

def flash(web_session: aiohttp_session.Session, kind: str, text: str) -> None:
    web_session["flash"] = (web_session.get("flash") or []) + [[kind, text]]


async def render(request: web.Request, template: str, context: Optional[dict] = None,
                 status: int = 200) -> web.Response:
    web_session = await aiohttp_session.get_session(request)
    messages = web_session.pop("flash", None) or []
    ctx = {"staff": request.get("staff"), "csrf": auth.csrf_token(web_session), "messages": messages,
           "path": request.path}
    ctx.update(context or {})
    body = request.app[JINJA].get_template(template).render(ctx)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def json_error(status: int, code: str, message: str, headers: Optional[dict] = None) -> web.Response:
    """The partner API's error shape (openapi.yaml: Error)."""
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)
