"""The worker's optional health and metrics server (GIDS_WORKER_METRICS_PORT): the outbox backlog
and the handovers of the last hour per partner type, read from a real database; a database that
is down shows as such; /metrics only for allowed clients; the `gids worker` process serves it."""
from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from bot.db import make_engine, session_scope
from bot.db.models import Handover, OutboxMessage
from bot.handover import utcnow
from bot.handover.worker import Worker
from bot.metrics import start_worker_server
from tests.conftest import ROOT, free_port
from tests.handover.conftest import CONTACT_NAME, CONTACT_PHONE

SQLITE_ONLY = pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def get(url: str, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def serve(worker, **env):
    port = free_port()
    runner = await start_worker_server(worker, {"GIDS_WORKER_METRICS_PORT": str(port), **env})
    assert runner is not None
    return runner, f"http://127.0.0.1:{port}"


async def test_the_metrics_server_reports_the_outbox_backlog_from_the_database(fresh_engine, make_handover):
    old = make_handover("uwv", email="team@uwv.example")
    make_handover("uwv", webhook="https://hooks.uwv.example/gids")
    make_handover("gemeente-GM0014", email="schulden@gemeente.example")
    now = utcnow()
    with session_scope(fresh_engine) as session:
        # The first handover is two hours old, and so is its notification: it counts in the backlog
        # (and its age), not among the handovers of the last hour.
        handover_id = session.query(Handover.id).filter(Handover.reference == old).scalar()
        session.execute(update(Handover).where(Handover.id == handover_id)
                        .values(created_at=now - timedelta(hours=2)))
        session.execute(update(OutboxMessage).where(OutboxMessage.handover_id == handover_id)
                        .values(created_at=now - timedelta(hours=2)))

    worker = Worker(engine=fresh_engine, interval=60)
    runner, url = await serve(worker)
    try:
        status, body = await asyncio.to_thread(get, f"{url}/metrics")
        assert status == 200, body
        got = samples(body)
        assert got[("gids_outbox_pending", ())] == 3
        assert got[("gids_outbox_due", ())] == 3
        assert got[("gids_outbox_failed", ())] == 0
        assert 2 * 3600 - 60 <= got[("gids_outbox_oldest_pending_seconds", ())] <= 2 * 3600 + 600
        assert got[("gids_handovers_last_hour", (("partner_type", "uwv"),))] == 1
        assert got[("gids_handovers_last_hour", (("partner_type", "gemeente"),))] == 1
        assert got[("gids_handovers_last_hour", (("partner_type", "vakbond"),))] == 0  # every known type
        assert got[("gids_worker_database_up", ())] == 1
        for secret in (old, CONTACT_NAME, CONTACT_PHONE, "team@uwv.example", "hooks.uwv.example", "GM0014"):
            assert secret not in body, secret

        # Through a proxy: refused; /health is for everyone (the worker has not run a round yet).
        status, _ = await asyncio.to_thread(get, f"{url}/metrics", {"X-Forwarded-For": "127.0.0.1"})
        assert status == 403
        status, body = await asyncio.to_thread(get, f"{url}/health")
        assert status == 200 and json.loads(body)["status"] == "ok"

        # A round sends nothing here (no SMTP, no reachable webhook) and keeps every message pending.
        await worker.run_once()
        got = samples((await asyncio.to_thread(get, f"{url}/metrics"))[1])
        assert got[("gids_worker_rounds_total", ())] == 1
        assert got[("gids_outbox_pending", ())] == 3
        assert got[("gids_outbox_due", ())] == 0  # each waits for its next try
    finally:
        await runner.cleanup()


@SQLITE_ONLY
async def test_a_database_that_is_down_shows_in_health_and_metrics(fresh_engine):
    down = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/gids")
    worker = Worker(engine=down, interval=0.01, purge=lambda: {"handovers": 0})
    runner, url = await serve(worker)
    try:
        await worker.run_once()
        assert worker.database_failures == 1
        status, body = await asyncio.to_thread(get, f"{url}/health")
        assert status == 503 and json.loads(body)["status"] == "database unavailable"
        status, body = await asyncio.to_thread(get, f"{url}/metrics")
        assert status == 200 and samples(body)[("gids_worker_database_up", ())] == 0
        worker.engine = fresh_engine  # back
        await worker.run_once()
        assert (await asyncio.to_thread(get, f"{url}/health"))[0] == 200
        assert samples((await asyncio.to_thread(get, f"{url}/metrics"))[1])[("gids_worker_database_up", ())] == 1
    finally:
        await runner.cleanup()
        down.dispose()


async def test_only_allowed_networks_read_the_metrics_and_the_server_is_off_by_default(fresh_engine):
    worker = Worker(engine=fresh_engine)
    assert await start_worker_server(worker, {}) is None
    runner, url = await serve(worker, GIDS_METRICS_ALLOW="10.9.0.0/16")
    try:
        assert (await asyncio.to_thread(get, f"{url}/metrics"))[0] == 403
        assert (await asyncio.to_thread(get, f"{url}/health"))[0] == 200
    finally:
        await runner.cleanup()


@SQLITE_ONLY
async def test_the_gids_worker_process_serves_health_and_metrics(fresh_db_url, make_handover):
    make_handover("uwv", email="team@uwv.example")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": fresh_db_url, "GIDS_WORKER_METRICS_PORT": str(port)}
    env.pop("GIDS_METRICS_ALLOW", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "worker", "--interval", "0.2", cwd=str(ROOT), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        health = None
        for _ in range(300):
            try:
                health = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.returncode is None, "the worker stopped"
                await asyncio.sleep(0.1)
        assert health is not None and health[0] == 200, health
        status, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and samples(body)[("gids_outbox_pending", ())] == 1
    finally:
        if proc.returncode is None:
            proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
