"""The worker: keeps delivering while the database comes and goes, purges once a day, survives a
broken retention module, and stops cleanly on SIGTERM/SIGINT (as a real `gids worker` process)."""
from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import types

import pytest
from sqlalchemy import select

from bot.cli import main as gids
from bot.db import make_engine, session_scope
from bot.db.models import OutboxMessage
from bot.handover import utcnow
from bot.handover.worker import PURGE_EVERY, PURGE_RETRY, Worker
from tests.conftest import ROOT, free_port
from tests.handover.conftest import CONTACT_NAME, CONTACT_PHONE, EMPTY_ROUND, TRANSCRIPT

SQLITE_ONLY = pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def _local_receivers_allowed(local_webhooks):
    """The receivers are https on 127.0.0.1: allowed, their certificate trusted (see test_outbox.py)."""


def statuses(engine):
    with session_scope(engine) as session:
        return [m.status for m in session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()]


async def until(condition, what: str, timeout: float = 60) -> None:
    """Waits for a condition (a generous limit only stops a hanging test; nothing is timed)."""
    async def poll():
        while not condition():
            await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(poll(), timeout)
    except asyncio.TimeoutError:
        pytest.fail(f"gave up waiting: {what}")


async def test_the_worker_outlives_a_database_outage_and_then_delivers(
        fresh_engine, make_handover, webhook_receiver, caplog):
    make_handover("uwv", webhook=webhook_receiver.url)
    down = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/gids")
    purges = []
    worker = Worker(engine=down, interval=0.01, purge=lambda: purges.append(1) or {"handovers": 0})
    task = asyncio.create_task(worker.run())
    try:
        await until(lambda: worker.database_failures >= 3, "three rounds with the database down")
        assert not task.done() and statuses(fresh_engine) == ["pending"]
        worker.engine = fresh_engine  # the database is back
        await until(lambda: webhook_receiver.arrived.is_set(), "the webhook delivery")
        await until(lambda: worker.database_failures == 0, "the round to finish")
    finally:
        worker.stop()
        await asyncio.wait_for(task, 60)
        down.dispose()
    assert statuses(fresh_engine) == ["sent"] and len(webhook_receiver.accepted) == 1
    assert purges == [1]  # the first round purges, the next ones wait a day
    errors = [r.getMessage() for r in caplog.records if r.name == "bot.handover.worker" and r.levelname == "ERROR"]
    assert len(errors) >= 3 and all("database not reachable" in e for e in errors)
    assert any(r.getMessage() == "database reachable again" for r in caplog.records)


@SQLITE_ONLY
@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_the_retention_purge_runs_once_a_day(fresh_engine, monkeypatch, kind):
    calls = []
    retention = types.ModuleType("bot.privacy.retention")
    if kind == "sync":
        retention.purge = lambda: calls.append("purge") or {"handovers": 2}
    else:
        async def purge():
            calls.append("purge")
            return {"handovers": 2}
        retention.purge = purge
    monkeypatch.setitem(sys.modules, "bot.privacy.retention", retention)
    start = utcnow()
    clock = [start]
    worker = Worker(engine=fresh_engine, clock=lambda: clock[0])
    for offset in (dt.timedelta(0), dt.timedelta(hours=1), PURGE_EVERY - dt.timedelta(seconds=1),
                   PURGE_EVERY, PURGE_EVERY + dt.timedelta(hours=3)):
        clock[0] = start + offset
        assert await worker.run_once() == EMPTY_ROUND
    assert calls == ["purge", "purge"]
    assert worker.next_purge_at == start + 2 * PURGE_EVERY


@SQLITE_ONLY
@pytest.mark.parametrize("broken", ["import", "raises"])
async def test_a_broken_retention_purge_is_logged_and_delivery_goes_on(
        fresh_engine, make_handover, smtp_server, monkeypatch, caplog, broken):
    if broken == "import":
        monkeypatch.setitem(sys.modules, "bot.privacy.retention", None)  # import fails
    else:
        retention = types.ModuleType("bot.privacy.retention")
        retention.purge = lambda: 1 / 0
        monkeypatch.setitem(sys.modules, "bot.privacy.retention", retention)
    make_handover("uwv", email="team@uwv.example")
    start = utcnow()
    worker = Worker(engine=fresh_engine, clock=lambda: start)
    assert (await worker.run_once())["sent"] == 1
    assert len(smtp_server.received) == 1
    assert worker.next_purge_at == start + PURGE_RETRY
    expected = "cannot be imported" if broken == "import" else "retention purge failed: ZeroDivisionError"
    assert any(expected in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)


@SQLITE_ONLY
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_gids_worker_process_delivers_and_stops_on_a_signal(fresh_db_url, fresh_engine, make_handover,
                                                                  webhook_receiver, sig):
    make_handover("uwv", webhook=webhook_receiver.url)
    env = {**os.environ, "DATABASE_URL": fresh_db_url, "GIDS_WEBHOOK_SECRET": "geheim"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "worker", "--interval", "0.2", cwd=str(ROOT), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await until(lambda: webhook_receiver.arrived.is_set() or proc.returncode is not None,
                    "the worker process to deliver", timeout=120)
        assert proc.returncode is None, "the worker stopped on its own"
        proc.send_signal(sig)
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = err.decode()
    assert proc.returncode == 0, log
    assert f"{sig.name} received: stopping after this round" in log and "worker stopped" in log
    assert statuses(fresh_engine) == ["sent"]
    from bot.handover.notify import partner_webhook_secret, verify_webhook
    seen, headers = webhook_receiver.seen[0], webhook_receiver.headers[0]
    assert verify_webhook(partner_webhook_secret("geheim", "uwv"), headers["X-Gids-Timestamp"], seen.body,
                          seen.signature, now=dt.datetime.now().timestamp())
    assert "GIDS_WEBHOOK_ALLOW: webhooks to 127.0.0.1, localhost may go to private or local addresses" in log
    for secret in [CONTACT_NAME, CONTACT_PHONE] + [e.text for e in TRANSCRIPT]:
        assert secret not in log


@SQLITE_ONLY
def test_gids_worker_once(fresh_db_url, fresh_engine, make_handover, smtp_server, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    make_handover("uwv", email="team@uwv.example", webhook=f"https://127.0.0.1:{free_port()}/hook")
    assert gids(["worker", "--once"]) == 0
    assert "2 due: 1 sent, 1 failed and kept for a later try" in capsys.readouterr().out
    assert sorted(statuses(fresh_engine)) == ["pending", "sent"]
    assert len(smtp_server.received) == 1
    assert gids(["worker", "--once"]) == 0  # the failed one is not due yet
    assert "0 due: 0 sent" in capsys.readouterr().out


def test_gids_worker_once_with_the_database_down_says_so(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/gids")
    assert gids(["worker", "--once"]) == 4
    assert "the database is not reachable, nothing was sent" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-3", "soms", "99999"])
def test_gids_worker_refuses_a_bad_interval(value, capsys):
    with pytest.raises(SystemExit) as stop:
        gids(["worker", "--interval", value])
    assert stop.value.code == 2
    assert "interval" in capsys.readouterr().err
