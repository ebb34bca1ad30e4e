"""The gateway: the only part of the gids that faces the internet (with the staff console).

It serves the web chat's socket.io endpoint (``/socket.io/``), the WhatsApp webhook
(``/webhooks/whatsapp/webhook``), a REST endpoint for scripts (``/webhooks/rest/webhook``),
``/health`` and ``/metrics`` (Prometheus, only for GIDS_METRICS_ALLOW: see bot.metrics), and
passes each person's message to the core (Rasa, internal only) over the authenticated internal
channel, one turn at a time per conversation. See bot.gateway.ids for the conversation ids it
issues and bot.gateway.limits for the caps and rates."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from aiohttp import web

from bot.channels.rest import RestEndpoint
from bot.channels.socketio import WebchatEndpoint
from bot.channels.whatsapp import WhatsAppChannel, WhatsAppSettings
from bot.gateway.core import CoreClient
from bot.gateway.ids import ConversationIds
from bot.gateway.limits import MAX_BODY_BYTES, MAX_WEBHOOK_BYTES, RateLimiter
from bot.gateway.live import LiveDesk
from bot.metrics import GatewayMetrics, Network, exposition, may_read_metrics, parse_allow, refused
from bot.tokens import CORE_TOKEN, GATEWAY_SECRET, shared_secret

logger = logging.getLogger(__name__)

DEFAULT_CORE_URL = "http://127.0.0.1:5006"


@dataclass
class GatewaySettings:
    core_url: str = DEFAULT_CORE_URL
    core_token: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    cors_origins: Any = "*"
    core_timeout: float = 30.0
    # REST clients are scripts, all behind one address when a proxy or a load test sends them.
    rest_per_client_per_minute: float = 60.0
    # Who may read /metrics (GIDS_METRICS_ALLOW, CIDRs); empty: loopback only.
    metrics_allow: Sequence[str] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "GatewaySettings":
        origins = [o.strip() for o in (environ.get("GIDS_WEBCHAT_ORIGINS") or "").split(",") if o.strip()]
        # Several core replicas: a comma-separated list (bot.gateway.core).
        return cls(core_url=environ.get("GIDS_CORE_URL") or DEFAULT_CORE_URL,
                   core_token=shared_secret(CORE_TOKEN, environ),
                   secret=shared_secret(GATEWAY_SECRET, environ),
                   cors_origins=origins or "*",
                   rest_per_client_per_minute=float(environ.get("GIDS_REST_RATE_PER_MINUTE") or 60),
                   metrics_allow=tuple((environ.get("GIDS_METRICS_ALLOW") or "").split(",")))


def make_app(settings: Optional[GatewaySettings] = None, *,
             whatsapp: Optional[WhatsAppSettings] = None) -> web.Application:
    settings = settings or GatewaySettings.from_env()
    core = CoreClient(settings.core_url, settings.core_token, timeout_seconds=settings.core_timeout)
    ids = ConversationIds(settings.secret)
    metrics = GatewayMetrics()
    core.metrics = metrics
    metrics_allow: tuple[Network, ...] = parse_allow(settings.metrics_allow)
    # The WhatsApp webhook reads its own (larger, signed) body; every other body is small.
    app = web.Application(client_max_size=max(MAX_BODY_BYTES, MAX_WEBHOOK_BYTES))
    webchat = WebchatEndpoint(core, ids, cors_origins=settings.cors_origins)
    rest_rate = settings.rest_per_client_per_minute
    rest = RestEndpoint(core, ids, per_client=RateLimiter(burst=max(20, int(rest_rate // 3)), per_minute=rest_rate))
    wa = WhatsAppChannel(core, whatsapp)
    webchat.attach(app)
    app.add_routes(rest.routes() + wa.routes())
    # Live chat with staff: every channel hands a person's message to the desk first, and the
    # desk delivers what staff and the gids write (bot/gateway/live.py).
    desk = LiveDesk(core, engine=lambda: wa.engine)
    webchat.live = rest.live = wa.live = desk
    desk.deliverers.update({"socketio": webchat.deliver_live, "whatsapp": wa.deliver_live})
    desk.typing = webchat.live_typing

    async def health(_: web.Request) -> web.Response:
        cores = await core.readiness()
        metrics.cores(cores)
        ready = cores["ready"] > 0
        return web.json_response({"status": "ok" if ready else "core unavailable", "cores": cores},
                                 status=200 if ready else 503)

    async def metrics_page(request: web.Request) -> web.Response:
        if not may_read_metrics(request, metrics_allow):
            return refused()
        metrics.cores(await core.readiness())
        return exposition(metrics.registry)

    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_page)
    app["core"], app["ids"], app["webchat"], app["rest"], app["whatsapp"] = core, ids, webchat, rest, wa
    app["metrics"] = metrics
    app["live"] = desk

    async def start_desk(_: web.Application) -> None:
        desk.start()

    async def close(_: web.Application) -> None:
        await desk.stop()
        await wa.close()
        await core.close()

    app.on_startup.append(start_desk)
    app.on_cleanup.append(close)
    return app
