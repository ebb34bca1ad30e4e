"""Health and Prometheus metrics of the maintained runtime's processes (README: "Monitoring").

- The gateway: ``GET /metrics`` (GatewayMetrics): turns per channel and outcome, turn latency,
  fallbacks, core replicas ready.
- The worker (``gids worker``): an optional small server (GIDS_WORKER_METRICS_PORT, off by
  default) with ``GET /health`` and ``GET /metrics`` (WorkerMetrics): the outbox backlog and the
  handovers of the last hour per partner type, read from the gids database at each scrape.
- The console's ``GET /health`` is in bot.console.health (the console runs without this module's
  prometheus-client in the core runtime's tests).

No label carries personal data: channels, outcomes, stages, partner types and delivery results
are fixed, short lists; never a conversation id, a text, a place or a partner.

``/metrics`` is not for the public: it answers only clients whose connection comes from a network
in GIDS_METRICS_ALLOW (CIDRs, comma-separated; default loopback) and whose request did not pass a
proxy (no X-Forwarded-For, Forwarded or X-Real-IP header): behind a reverse proxy on the same
machine every visitor's connection comes from 127.0.0.1, so a proxied request is never trusted.
Prometheus scrapes the process directly."""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from aiohttp import web
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest)
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.gateway.core import TurnMetrics

log = logging.getLogger(__name__)

# No *_created series: they double the output and no panel needs them.
disable_created_metrics()

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

METRICS_ALLOW = "GIDS_METRICS_ALLOW"
DEFAULT_ALLOW = "127.0.0.0/8,::1/128"
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")

# The gateway's turn outcomes (the only values of the ``outcome`` label).
OK, CORE_UNAVAILABLE, RATE_LIMITED, TOO_LONG, REFUSED_ID = "ok", "core_unavailable", "rate_limited", "too_long", "refused_id"
BAD_REQUEST, UNSUPPORTED = "bad_request", "unsupported"
OUTCOMES = (OK, CORE_UNAVAILABLE, RATE_LIMITED, TOO_LONG, REFUSED_ID, BAD_REQUEST, UNSUPPORTED)
CHANNELS = ("socketio", "whatsapp", "rest")

# The two stages of the fallback (data/rules/fallback.yml): the clarifying question, and after a
# second unclear message the offer of a person. The core's answers carry only the texts, so these
# are the texts of utter_clarify and utter_offer_contact in domain.yml (a test keeps them equal).
FALLBACK_TEXTS = {
    "Dat begreep ik niet goed. Gaat je vraag over een van deze onderwerpen?": "clarify",
    "Het lukt me niet goed om je te helpen. Een medewerker van het Werkcentrum kan dat wel.": "offer_contact",
}

# Turn latency buckets (seconds): a turn is 30 ms to a few seconds; the core times out at 30 s.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0)


# --- who may read /metrics -------------------------------------------------------------------------

def parse_allow(value: Union[str, Iterable[str], None]) -> Tuple[Network, ...]:
    """GIDS_METRICS_ALLOW: addresses or networks (CIDR), comma-separated; empty → loopback only."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    items = [item.strip() for item in items if item and item.strip()] or DEFAULT_ALLOW.split(",")
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{METRICS_ALLOW}: '{item}' is not an IP address or network (CIDR)") from None
    return tuple(networks)


def allow_from_env(environ: Mapping[str, str] = os.environ) -> Tuple[Network, ...]:
    return parse_allow(environ.get(METRICS_ALLOW, ""))


def may_read_metrics(request: web.Request, allowed: Sequence[Network]) -> bool:
    """The connection's own address is in ``allowed`` and the request did not come through a proxy."""
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address((request.remote or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in allowed)


def exposition(registry: CollectorRegistry) -> web.Response:
    response = web.Response(body=generate_latest(registry))
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    response.headers["Cache-Control"] = "no-store"
    return response


def refused() -> web.Response:
    return web.json_response({"error": "forbidden"}, status=403)


# --- the gateway -----------------------------------------------------------------------------------

class GatewayMetrics(TurnMetrics):
    """What the gateway counts; one registry per app (so tests and several apps do not mix).
    CoreClient calls ``turn`` / ``unavailable`` for each turn that went to the core, the channels
    call ``refused`` for a message stopped before it (bot.gateway.core.TurnMetrics)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.turns = Counter("gids_gateway_turns", "Messages of people by channel and outcome",
                             ["channel", "outcome"], registry=self.registry)
        self.latency = Histogram("gids_gateway_turn_seconds", "Time from a message to the core's answer, by channel",
                                 ["channel"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.fallbacks = Counter("gids_gateway_fallbacks", "Turns answered with the fallback, by channel and stage",
                                 ["channel", "stage"], registry=self.registry)
        self.core_replicas = Gauge("gids_gateway_core_replicas", "Core replicas the gateway knows",
                                   registry=self.registry)
        self.cores_ready = Gauge("gids_gateway_cores_ready", "Core replicas that answered the readiness check",
                                 registry=self.registry)
        for channel in CHANNELS:  # series exist from the start, so rates are never "no data"
            self.latency.labels(channel)
            for outcome in (OK, CORE_UNAVAILABLE):
                self.turns.labels(channel, outcome)
            for stage in FALLBACK_TEXTS.values():
                self.fallbacks.labels(channel, stage)

    @staticmethod
    def _channel(channel: str) -> str:
        return channel if channel in CHANNELS else "other"

    def turn(self, channel: str, seconds: float, answers: Sequence[Dict[str, Any]]) -> None:
        channel = self._channel(channel)
        self.turns.labels(channel, OK).inc()
        self.latency.labels(channel).observe(seconds)
        stage = fallback_stage(answers)
        if stage:
            self.fallbacks.labels(channel, stage).inc()

    def unavailable(self, channel: str, seconds: float) -> None:
        channel = self._channel(channel)
        self.turns.labels(channel, CORE_UNAVAILABLE).inc()
        self.latency.labels(channel).observe(seconds)

    def refused(self, channel: str, outcome: str) -> None:
        self.turns.labels(self._channel(channel), outcome if outcome in OUTCOMES else "other").inc()

    def cores(self, readiness: Mapping[str, int]) -> None:
        self.core_replicas.set(readiness.get("replicas", 0))
        self.cores_ready.set(readiness.get("ready", 0))


def fallback_stage(answers: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """"offer_contact" or "clarify" when the turn's answers hold a fallback text, else None."""
    stages = {FALLBACK_TEXTS.get(str(answer.get("text") or "").strip()) for answer in answers}
    for stage in ("offer_contact", "clarify"):
        if stage in stages:
            return stage
    return None


# --- the worker ------------------------------------------------------------------------------------

WORKER_METRICS_PORT = "GIDS_WORKER_METRICS_PORT"
WORKER_METRICS_HOST = "GIDS_WORKER_METRICS_HOST"
DELIVERY_RESULTS = ("sent", "retry", "failed", "unrecorded", "cancelled")


def outbox_snapshot(engine: Optional[Engine], now: datetime) -> Dict[str, Any]:
    """Cheap counts from the gids database (no payloads, no addresses, no references)."""
    from bot.db import database_errors, session_scope
    from bot.db.models import Handover, OutboxMessage, Partner
    from bot.handover.outbox import CANCELLED, PARKED, _live

    with database_errors("reading the outbox for /metrics"), session_scope(engine) as session:
        pending = session.execute(select(func.count(), func.min(OutboxMessage.created_at)).where(_live())).one()
        due = session.execute(select(func.count()).select_from(OutboxMessage)
                              .where(_live(), OutboxMessage.next_attempt_at <= now)).scalar()
        failed = session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at >= PARKED,
            ~OutboxMessage.last_error.like(CANCELLED + "%"))).scalar()
        types = [t for (t,) in session.execute(select(Partner.type).distinct())]
        recent: Dict[str, int] = {partner_type: int(count) for partner_type, count in session.execute(
            select(Partner.type, func.count(Handover.id)).join(Partner, Handover.partner_id == Partner.id)
            .where(Handover.created_at >= now - timedelta(hours=1)).group_by(Partner.type))}
    oldest = pending[1]
    return {"pending": int(pending[0] or 0), "due": int(due or 0), "failed": int(failed or 0),
            "oldest_pending_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            "handovers_last_hour": {t: int(recent.get(t, 0)) for t in sorted(set(types) | set(recent))}}


class WorkerMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.pending = Gauge("gids_outbox_pending", "Partner notifications still to be sent (not parked)", registry=r)
        self.due = Gauge("gids_outbox_due", "Pending notifications whose time to be sent has come", registry=r)
        self.failed = Gauge("gids_outbox_failed", "Notifications refused for good, waiting for an administrator",
                            registry=r)
        self.oldest = Gauge("gids_outbox_oldest_pending_seconds", "Age of the oldest pending notification (0: none)",
                            registry=r)
        self.handovers = Gauge("gids_handovers_last_hour", "Handovers created in the last hour, by partner type",
                               ["partner_type"], registry=r)
        self.database_up = Gauge("gids_worker_database_up", "1 when the last read of the gids database worked",
                                 registry=r)
        self.rounds = Counter("gids_worker_rounds", "Delivery rounds of the worker", registry=r)
        self.deliveries = Counter("gids_outbox_deliveries", "Outbox messages handled by this worker, by result",
                                  ["result"], registry=r)
        for result in DELIVERY_RESULTS:
            self.deliveries.labels(result)

    def round_done(self, counts: Optional[Mapping[str, int]]) -> None:
        self.rounds.inc()
        for result in DELIVERY_RESULTS:
            if counts and counts.get(result):
                self.deliveries.labels(result).inc(counts[result])

    def read(self, snapshot: Optional[Mapping[str, Any]]) -> None:
        if snapshot is None:
            self.database_up.set(0)
            return
        self.database_up.set(1)
        self.pending.set(snapshot["pending"])
        self.due.set(snapshot["due"])
        self.failed.set(snapshot["failed"])
        self.oldest.set(snapshot["oldest_pending_seconds"])
        self.handovers.clear()
        for partner_type, count in snapshot["handovers_last_hour"].items():
            self.handovers.labels(partner_type).set(count)


def worker_app(worker: Any, *, allowed: Optional[Sequence[Network]] = None) -> web.Application:
    """/health and /metrics of a bot.handover.worker.Worker (its ``metrics``, ``engine``,
    ``health()``)."""
    from bot.db import DatabaseUnavailable
    from bot.handover import utcnow

    networks = tuple(allowed) if allowed is not None else allow_from_env()
    app = web.Application()

    async def health(_: web.Request) -> web.Response:
        status = worker.health()
        return web.json_response(status, status=200 if status["status"] == "ok" else 503)

    async def metrics(request: web.Request) -> web.Response:
        if not may_read_metrics(request, networks):
            return refused()
        try:
            snapshot: Optional[Dict[str, Any]] = await asyncio.to_thread(outbox_snapshot, worker.engine, utcnow())
        except DatabaseUnavailable as exc:
            log.warning("/metrics: %s", exc)
            snapshot = None
        worker.metrics.read(snapshot)
        return exposition(worker.metrics.registry)

    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


async def start_worker_server(worker: Any, environ: Mapping[str, str] = os.environ) -> Optional[web.AppRunner]:
    """The worker's metrics server when GIDS_WORKER_METRICS_PORT is set (host: 127.0.0.1 unless
    GIDS_WORKER_METRICS_HOST says otherwise); None when it is off."""
    port = (environ.get(WORKER_METRICS_PORT) or "").strip()
    if not port:
        return None
    host = (environ.get(WORKER_METRICS_HOST) or "").strip() or "127.0.0.1"
    runner = web.AppRunner(worker_app(worker, allowed=allow_from_env(environ)), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, int(port)).start()
    log.info("worker health and metrics on http://%s:%s/health and /metrics", host, port)
    return runner
