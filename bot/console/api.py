"""The partner JSON API (/api/v1): a partner's system reads and updates its own handovers.

Authorization: Bearer <token> (``gids token add PARTNER_ID``). A handover of another partner is
answered exactly like an unknown one (404). The shapes are documented in openapi.yaml, which a
test holds against the routes and real answers."""
from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional

import yaml
from aiohttp import web

from bot.db.models import HANDOVER_STATUSES

from . import auth, queries
from .common import OPENAPI, client_ip, in_db, json_error
from .queries import Filters

PREFIX = "/api/v1"
OPENAPI_FILE = Path(__file__).resolve().parent / "openapi.yaml"
DEFAULT_LIMIT, MAX_LIMIT = 100, 500
LIST_PARAMS = {"status", "since", "limit"}


def load_document() -> Dict[str, Any]:
    """openapi.yaml, served as /api/v1/openapi.json."""
    return yaml.safe_load(OPENAPI_FILE.read_text(encoding="utf-8"))


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Optional[dict] = None):
        super().__init__(message)
        self.response = json_error(status, code, message, headers)


def _unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message,
                    {"WWW-Authenticate": f'Bearer realm="gids", error="{code}"'})


async def _partner(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthorized("missing_token", "Send the header 'Authorization: Bearer <token>'.")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("invalid_token", "The Authorization header must be 'Bearer <token>'.")
    partner_id = await in_db(request, auth.partner_for_token, token.strip())
    if partner_id is None:
        raise _unauthorized("invalid_token", "This token is unknown or was revoked.")
    return partner_id


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _api(handler: Handler) -> Handler:
    """Turns ApiError into its JSON answer (instead of the console's Dutch error pages)."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response
    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


def _parse_since(value: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC. Returned as naive UTC."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        if parsed.tzinfo is not None:  # 0001-01-01T00:00+01:00 has no UTC time: OverflowError
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ApiError(400, "bad_filter", f"'since' must be an ISO 8601 date or date-time, "
                                          f"for example 2026-05-04T09:00:00Z; got {value[:40]!r}.") from None
    return parsed


def _list_filters(request: web.Request) -> Filters:
    q = request.query
    unknown = sorted(set(q) - LIST_PARAMS)
    if unknown:
        raise ApiError(400, "bad_filter", f"Unknown parameter {unknown[0]!r}; allowed: status, since, limit.")
    statuses = [s.strip() for s in q.get("status", "").split(",") if s.strip()]
    for s in statuses:
        if s not in HANDOVER_STATUSES:
            raise ApiError(400, "bad_filter", f"'status' must be one or more of new, claimed, closed "
                                              f"(comma-separated); got {s[:40]!r}.")
    try:
        limit = int(q.get("limit", DEFAULT_LIMIT))
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError
    except ValueError:
        raise ApiError(400, "bad_filter", f"'limit' must be a whole number from 1 to {MAX_LIMIT}.") from None
    since = _parse_since(q["since"]) if q.get("since") else None
    return {"statuses": statuses, "since": since, "limit": limit}


@_api
async def list_handovers(request: web.Request) -> web.Response:
    partner_id = await _partner(request)
    f = _list_filters(request)
    return web.json_response(await in_db(request, queries.partner_list, partner_id, f, client_ip(request)))


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "No handover with this reference for your organisation.")


@_api
async def get_handover(request: web.Request) -> web.Response:
    partner_id = await _partner(request)
    result = await in_db(request, queries.partner_view, partner_id, request.match_info["reference"],
                         client_ip(request))
    if result is None:
        raise _not_found()
    return web.json_response(result)


async def _change(request: web.Request, action: str) -> web.Response:
    partner_id = await _partner(request)
    result = await in_db(request, queries.partner_change, partner_id, request.match_info["reference"], action,
                         client_ip(request))
    if result is None:
        raise _not_found()
    body, outcome = result
    if outcome.code == "closed":
        raise ApiError(409, "closed", "This handover is already closed; it cannot be claimed.")
    return web.json_response(body)


@_api
async def claim_handover(request: web.Request) -> web.Response:
    """Idempotent: claiming a claimed handover again answers 200 with changed=false."""
    return await _change(request, "claim")


@_api
async def close_handover(request: web.Request) -> web.Response:
    """Idempotent: closing a closed handover again answers 200 with changed=false."""
    return await _change(request, "close")

