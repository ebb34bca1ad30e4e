"""The console's GET /health (README: "Monitoring"): no login, no cookie, nothing but whether its
database answers. Kept apart from bot.metrics so the console needs no prometheus-client."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


def _ping(engine: Engine) -> None:
    from bot.db import database_errors

    with database_errors("console health check"), engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def console_health_handler(engine_of: Any) -> Any:
    """GET /health of the console: 200 {"status": "ok"} when its database answers a trivial query,
    503 otherwise. ``engine_of(request)`` gives the console's engine."""
    from bot.db import DatabaseUnavailable

    async def health(request: web.Request) -> web.Response:
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.to_thread(_ping, engine_of(request)), timeout=5)
        except (DatabaseUnavailable, asyncio.TimeoutError) as exc:
            log.warning("health: database unavailable (%s)", type(exc).__name__)
            return web.json_response({"status": "database unavailable"}, status=503,
                                     headers={"Cache-Control": "no-store"})
        return web.json_response({"status": "ok", "database_ms": round((time.monotonic() - started) * 1000)},
                                 headers={"Cache-Control": "no-store"})

    return health


def install_console_health(app: web.Application) -> None:
    """Adds GET /health to the console app (bot.console.app.make_app) in front of its session and
    login middlewares: no cookie is read or set, and nothing but the database's state is said.
    Must be called before the app starts (the middleware list is frozen then)."""
    from bot.console.common import ENGINE

    health = console_health_handler(lambda request: request.app[ENGINE])

    @web.middleware
    async def health_first(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/health" and request.method in ("GET", "HEAD"):
            return await health(request)
        return await handler(request)

    app.middlewares.insert(0, health_first)
    app.router.add_get("/health", health)
