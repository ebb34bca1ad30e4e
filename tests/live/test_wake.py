"""Readers of the live chat wake when a message is committed (bot/live/wake.py, PostgreSQL's
LISTEN/NOTIFY): not for a rolled-back one, again after the listener's connection was cut, and
never on SQLite, where the poll does the work. The gateway's desk and the console's event stream
deliver with their poll set to a minute, so only the notification can have brought the message."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from bot import live
from bot.db import make_engine, session_scope
from bot.db.models import LiveChat
from bot.live.wake import Waker
from tests.live.conftest import start_chat


@pytest.fixture
def pg_engine(fresh_seeded_db):
    engine = make_engine(fresh_seeded_db("postgresql"))
    yield engine
    engine.dispose()


def say(engine, chat_id: int, words: str, commit: bool = True) -> None:
    with session_scope(engine) as session:
        live.add_message(session, session.get(LiveChat, chat_id), live.STAFF, words)
        if not commit:
            session.rollback()


async def listening(engine) -> Waker:
    waker = Waker(engine).start()
    assert await asyncio.to_thread(waker.connected.wait, 10), "the listener did not connect"
    return waker


async def woken_after(waker: Waker, since: int, timeout: float = 10) -> bool:
    await waker.wait(since, timeout)
    return waker.seq != since


async def test_a_committed_message_wakes_a_reader_and_a_rolled_back_one_does_not(pg_engine):
    chat_id = start_chat(pg_engine)
    waker = await listening(pg_engine)
    try:
        await asyncio.sleep(0.2)  # the wake-up of connecting itself
        since = waker.seq
        await asyncio.to_thread(say, pg_engine, chat_id, "niet bewaard", False)
        assert not await woken_after(waker, since, timeout=1)
        reader = asyncio.ensure_future(waker.wait(since, 30))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(say, pg_engine, chat_id, "Hallo, ik ben Anna.")
        await asyncio.wait_for(reader, 10)  # long before its 30 s
        assert waker.seq > since
    finally:
        waker.stop()


async def test_the_listener_comes_back_after_its_connection_was_cut(pg_engine):
    chat_id = start_chat(pg_engine)
    waker = await listening(pg_engine)
    try:
        first = waker.backend_pid
        with pg_engine.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
        for _ in range(100):
            if waker.connected.is_set() and waker.backend_pid != first:
                break
            await asyncio.sleep(0.1)
        assert waker.backend_pid != first and waker.connected.is_set()
        since = waker.seq
        await asyncio.to_thread(say, pg_engine, chat_id, "Ben je er nog?")
        assert await woken_after(waker, since)
    finally:
        waker.stop()


async def test_sqlite_has_no_listener_and_the_reader_polls(fresh_seeded_db):
    engine = make_engine(fresh_seeded_db("sqlite"))
    try:
        waker = Waker(engine).start()
        assert not waker.listening and not waker.connected.is_set()
        chat_id = start_chat(engine)
        since = waker.seq
        say(engine, chat_id, "hoi")
        assert not await woken_after(waker, since, timeout=0.2)
    finally:
        engine.dispose()


async def test_the_desk_delivers_on_the_notification_with_its_poll_at_a_minute(pg_engine, monkeypatch):
    from bot.gateway.live import LiveDesk

    chat_id = start_chat(pg_engine, "conv-wake")
    delivered: asyncio.Queue = asyncio.Queue()

    async def deliver(item):
        await delivered.put(item)

    desk = LiveDesk(core=None, engine=lambda: pg_engine, poll_seconds=60, sweep_seconds=3600)
    desk.deliverers["socketio"] = deliver
    desk.start()
    try:
        for _ in range(100):  # the first round: the desk knows where the feed ends, and listens
            if desk.rounds and desk.engine is pg_engine:
                break
            await asyncio.sleep(0.1)
        from bot.live.wake import waker_for
        assert await asyncio.to_thread(waker_for(pg_engine).connected.wait, 10)
        await asyncio.to_thread(say, pg_engine, chat_id, "Hallo, ik ben Anna.")
        item = await asyncio.wait_for(delivered.get(), 10)
        assert (item.conversation_id, item.text) == ("conv-wake", "Hallo, ik ben Anna.")
    finally:
        await desk.stop()


async def test_listening_can_be_switched_off(pg_engine, monkeypatch):
    monkeypatch.setenv("GIDS_LIVE_LISTEN", "0")
    waker = Waker(pg_engine).start()
    assert not waker.listening and waker._thread is None
    since = waker.seq
    await asyncio.to_thread(say, pg_engine, start_chat(pg_engine), "hoi")
    assert not await woken_after(waker, since, timeout=0.3)
