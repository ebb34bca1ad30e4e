"""The background worker (``gids worker``): delivers the outbox every few seconds and runs the
retention purge once a day. It keeps running when the database or a partner is down, and stops
after the current round on SIGTERM or SIGINT.

With GIDS_WORKER_METRICS_PORT set it also serves ``GET /health`` and ``GET /metrics`` on
127.0.0.1 (GIDS_WORKER_METRICS_HOST to change that; bot.metrics, README "Monitoring")."""
from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import time
from datetime import datetime, timedelta
from typing import Awaitable, Callable, Dict, Optional

from sqlalchemy.engine import Engine

from bot.db import DatabaseUnavailable
from bot.metrics import WorkerMetrics, start_worker_server

log = logging.getLogger(__name__)

PURGE_EVERY = timedelta(days=1)
PURGE_RETRY = timedelta(hours=1)      # after a failed purge: soon, but not every round
MAX_DATABASE_PAUSE = 60.0             # seconds between tries while the database is down
BATCH = 50


def _run_purge() -> object:
    # Imported here: the retention module belongs to bot.privacy, and a worker must keep
    # delivering notifications even when that import is broken.
    from bot.privacy.retention import purge

    result: object = purge()
    return asyncio.run(result) if inspect.iscoroutine(result) else result


class Worker:
    def __init__(self, engine: Optional[Engine] = None, interval: float = 5.0,
                 deliver: Optional[Callable[..., Awaitable[Dict[str, int]]]] = None,
                 purge: Callable[[], object] = _run_purge,
                 clock: Optional[Callable[[], datetime]] = None) -> None:
        from bot.handover import outbox, utcnow

        self.engine = engine
        self.interval = interval
        self._deliver = deliver or outbox.deliver_due
        self._purge = purge
        self._clock = clock or utcnow
        self.next_purge_at: Optional[datetime] = None  # None: purge in the first round
        self.rounds = 0
        self.database_failures = 0  # in a row
        self.last_round_at: Optional[float] = None  # time.monotonic() at the end of the last round
        self.started_at = time.monotonic()
        self.metrics = WorkerMetrics()
        self.stop_event = asyncio.Event()

    def stop(self) -> None:
        self.stop_event.set()

    async def run_once(self) -> Optional[Dict[str, int]]:
        """One round: deliver what is due (repeatedly while full batches come back), then the daily
        purge when its time has come. Returns the delivery counts, or None when the database was
        not reachable."""
        self.rounds += 1
        totals: Optional[Dict[str, int]] = None
        try:
            while not self.stop_event.is_set():
                counts = await self._deliver(self.engine, limit=BATCH)
                totals = {k: (totals or {}).get(k, 0) + v for k, v in counts.items()}
                if counts.get("leased", 0) < BATCH:  # a full batch: more may be waiting
                    break
            if self.database_failures:
                log.info("database reachable again")
            self.database_failures = 0
        except DatabaseUnavailable as exc:
            self.database_failures += 1
            log.error("database not reachable, nothing delivered (try %d): %s; trying again in %g s",
                      self.database_failures, exc, self.pause())
        except Exception as exc:  # one bad round must not end the worker
            log.error("delivery round failed: %s", type(exc).__name__, exc_info=True)
        await self.maybe_purge()
        self.last_round_at = time.monotonic()
        self.metrics.round_done(totals)
        return totals

    def health(self) -> Dict[str, object]:
        """For GET /health: "ok"; "database unavailable" after a round without the database;
        "stalled" when no round ended for three pauses (at least two minutes)."""
        now = time.monotonic()
        since = now - (self.last_round_at if self.last_round_at is not None else self.started_at)
        if since > max(3 * self.pause(), 120.0):
            status = "stalled"
        elif self.database_failures:
            status = "database unavailable"
        else:
            status = "ok"
        return {"status": status, "rounds": self.rounds,
                "seconds_since_last_round": None if self.last_round_at is None else round(now - self.last_round_at, 1)}

    async def maybe_purge(self) -> None:
        now = self._clock()
        if self.next_purge_at is not None and now < self.next_purge_at:
            return
        try:
            result = await asyncio.to_thread(self._purge)
        except ImportError as exc:
            self.next_purge_at = now + PURGE_RETRY
            log.error("retention purge not run: bot.privacy.retention cannot be imported (%s); "
                      "trying again in 1 hour", exc)
            return
        except DatabaseUnavailable as exc:
            self.next_purge_at = now + PURGE_RETRY
            log.error("retention purge not run, a database is not reachable: %s; trying again in 1 hour", exc)
            return
        except Exception as exc:
            self.next_purge_at = now + PURGE_RETRY
            log.error("retention purge failed: %s; trying again in 1 hour", type(exc).__name__, exc_info=True)
            return
        self.next_purge_at = now + PURGE_EVERY
        # Counts only: a purge result is expected to be numbers, never the data it removed.
        shown = result if isinstance(result, (int, dict)) else "done"
        log.info("retention purge done: %s", shown)

    def pause(self) -> float:
        """Seconds until the next round: the interval, doubled per failed try while the database is
        down (up to a minute), so a long outage does not fill the log."""
        if not self.database_failures:
            return self.interval
        return min(self.interval * 2 ** min(self.database_failures, 16),
                   max(self.interval, MAX_DATABASE_PAUSE))

    async def run(self) -> None:
        log.info("worker started: outbox every %g s, retention purge once a day", self.interval)
        log_webhook_settings()
        while not self.stop_event.is_set():
            await self.run_once()
            try:
                await asyncio.wait_for(self.stop_event.wait(), timeout=self.pause())
            except asyncio.TimeoutError:
                pass
        log.info("worker stopped")


def log_webhook_settings() -> None:
    """At start, what an administrator should know about the webhook settings (never a secret)."""
    from bot.handover import notify

    if not os.environ.get("GIDS_WEBHOOK_SECRET", ""):
        log.warning("GIDS_WEBHOOK_SECRET is empty: webhooks to partners wait until it is set "
                    "(e-mail notifications are not affected)")
    allowed = notify.allowed_hosts()
    if allowed:
        log.warning("GIDS_WEBHOOK_ALLOW: webhooks to %s may go to private or local addresses",
                    ", ".join(sorted(allowed)))
    if os.environ.get("GIDS_WEBHOOK_CA_FILE", "").strip():
        log.info("GIDS_WEBHOOK_CA_FILE: webhook certificates may also be signed by the CA in that file")


async def serve(engine: Optional[Engine] = None, interval: float = 5.0) -> None:
    """Runs a Worker until SIGTERM or SIGINT; the round in progress finishes first (every send
    has its own timeout), so no message is left half recorded."""
    worker = Worker(engine=engine, interval=interval)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, _on_signal, worker, sig)
    server = await start_worker_server(worker)
    try:
        await worker.run()
    finally:
        if server is not None:
            await server.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _on_signal(worker: Worker, sig: signal.Signals) -> None:
    log.info("%s received: stopping after this round", sig.name)
    worker.stop()
