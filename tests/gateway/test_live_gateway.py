"""The gateway's half of the live chat (bot/gateway/live.py) against a core stand-in and a real
database (SQLite and PostgreSQL): while a chat is open the person's messages are stored for staff
and never reach the core; what staff write reaches the web chat from the database (also after a
reconnect, once); a crisis is answered at once; the end of a chat resumes the core, also when the
core was down at first or nobody picked the person up."""
from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import timedelta

import pytest
from aiohttp import web
from sqlalchemy import select, update

from bot import live, messages
from bot.db import make_engine, session_scope
from bot.db.models import LiveChat, LiveMessage
from bot.gateway.app import GatewaySettings, make_app
from tests.conftest import CORE_TOKEN, free_port, gids_database
from tests.gateway.standin import StandIn
from tests.gateway.widget import WidgetClient
from tests.live.conftest import open_hours, staff, start_chat


@pytest.fixture(params=["sqlite", "postgresql"])
def live_db(request, fresh_seeded_db, monkeypatch):
    url = fresh_seeded_db(request.param)
    with gids_database(url, monkeypatch):
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
async def stack(live_db):
    """A stand-in core and the gateway (its desk polling fast) on free ports."""
    core = StandIn("kern")
    await core.start()
    app = make_app(GatewaySettings(core_url=core.url, core_token=CORE_TOKEN, secret="geheim"))
    app["live"].poll_seconds, app["live"].sweep_seconds = 0.05, 0.2
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", app, core, live_db
    await runner.cleanup()
    await core.stop()


async def person(url: str, app):
    """A widget with a conversation; (client, token, the core's sender id)."""
    client = WidgetClient()
    token = await client.open(url)
    return client, token, app["ids"].sender("socketio", token)


def waiting_chat(engine, sender: str, channel: str = "socketio") -> int:
    """A chat that waits for staff, with someone available (else the desk ends it at once)."""
    staff(engine, f"beschikbaar-{sender[:8]}", available=True)
    return start_chat(engine, sender, channel=channel)


def write(engine, fn, *args, **kwargs):
    with session_scope(engine) as session:
        return fn(session, *args, **kwargs)


def staff_says(engine, chat_id: int, text: str, user_id=None) -> int:
    def add(session):
        message, _ = live.add_message(session, session.get(LiveChat, chat_id), live.STAFF, text, user_id=user_id)
        session.flush()
        return message.id
    return write(engine, add)


def chat_messages(engine, chat_id: int) -> list:
    with session_scope(engine) as session:
        return [(m.author, m.text, m.to_person, m.crisis) for m in session.execute(
            select(LiveMessage).where(LiveMessage.chat_id == chat_id).order_by(LiveMessage.id)).scalars()]


async def test_during_a_chat_messages_go_to_staff_and_back_and_never_to_the_core(stack):
    url, app, core, engine = stack
    client, token, sender = await person(url, app)
    try:
        await client.say("hoi", token)
        assert (await client.answers(lambda e: "kern" in e.get("text", "")))[-1]["text"] == "kern: hoi"
        chat_id = waiting_chat(engine, sender)
        await client.say("Mijn BSN is 111222333, kunt u helpen?", token, client_ref="r1")
        await client.say("Mijn BSN is 111222333, kunt u helpen?", token, client_ref="r1")  # sent again
        await asyncio.sleep(0.5)
        assert core.turns == ["hoi"]
        stored = chat_messages(engine, chat_id)
        assert stored == [("person", "Mijn BSN is [BSN], kunt u helpen?", True, False)]
        assert await client.nothing_within(0.3)
        first = staff_says(engine, chat_id, "Hallo, ik ben Anna. Waar kan ik je mee helpen?")
        [got] = await client.live_messages(lambda e: True)
        assert (got["id"], got["author"], got["text"]) == (first, "staff", "Hallo, ik ben Anna. Waar kan ik je mee helpen?")
        anna = staff(engine, "anna", name="Anna")
        write(engine, lambda s: live.pick_up(s, chat_id, user_id=anna, username="anna", display_name="Anna"))
        joined = await client.live_messages(lambda e: True)
        assert (joined[0]["status"], joined[0]["name"]) == ("active", "Anna")

        def typing(session):
            live.typing(session, session.get(LiveChat, chat_id))
        write(engine, typing)
        await asyncio.wait_for(client.typing.get(), 5)
        first = joined[0]["id"]
    finally:
        await client.close()
    # Away: two more messages from staff. Back: the widget asks for what it missed, once, and
    # gets the last moments' messages again (one may have committed late; it shows ids once).
    second = staff_says(engine, chat_id, "Ben je er nog?")
    third = staff_says(engine, chat_id, "Ik wacht even.")
    ids = await come_back(url, token, first, third)
    assert sorted({i for i in ids if i > first}) == [second, third] and first in ids
    # Minutes later a reconnect gets only what the widget did not have.
    write(engine, lambda s: s.execute(update(LiveMessage).values(created_at=live.utcnow() - timedelta(minutes=2))))
    fourth = staff_says(engine, chat_id, "Ik ben er nog.")
    assert set(await come_back(url, token, third, fourth)) == {fourth}


async def come_back(url: str, token: str, had: int, until: int) -> list:
    """A widget reconnects, asks for what came after id ``had``; the ids it gets until ``until``
    and half a second more (the desk may deliver before the replay comes)."""
    client = WidgetClient()
    try:
        assert await client.open(url, token) == token
        await client.sync(had)
        got = await client.live_messages(lambda e: e["id"] == until)
        got += await client.more_live_messages(0.5)
        return [e["id"] for e in got]
    finally:
        await client.close()


async def test_a_crisis_during_a_chat_is_answered_at_once_and_flagged_for_staff(stack):
    url, app, core, engine = stack
    client, token, sender = await person(url, app)
    try:
        chat_id = waiting_chat(engine, sender)
        await client.say("ik wil niet meer leven", token)
        [answer] = await client.live_messages(lambda e: True, timeout=5)
        assert answer["text"] == messages.LIVE_CRISIS and answer["author"] == "gids"
        stored = chat_messages(engine, chat_id)
        assert ("system", messages.LIVE_STAFF_CRISIS, False, True) in stored
        with session_scope(engine) as session:
            assert session.get(LiveChat, chat_id).crisis
        # The feed brings the same answer again: the widget shows it once (same id).
        try:
            repeat = await asyncio.wait_for(client.live.get(), 2)
            assert repeat["id"] == answer["id"]
        except asyncio.TimeoutError:
            pass
        assert core.turns == []
    finally:
        await client.close()


async def test_back_to_the_gids_resumes_the_core_once_even_when_it_was_down(stack):
    url, app, core, engine = stack
    client, token, sender = await person(url, app)
    try:
        anna = staff(engine, "anna", name="Anna", available=True)
        chat_id = start_chat(engine, sender)
        write(engine, lambda s: live.pick_up(s, chat_id, user_id=anna, username="anna", display_name="Anna"))
        joined = await client.live_messages(lambda e: True)
        assert joined[0]["text"] == messages.LIVE_JOINED.format(name="Anna") and joined[0]["status"] == "active"
        core.status = 503  # the core is restarting when the chat ends
        write(engine, lambda s: live.finish(s, s.get(LiveChat, chat_id), "returned", user_id=anna, actor="anna"))
        back = await client.live_messages(lambda e: e["author"] == "system")
        assert back[-1]["text"] == messages.LIVE_RETURNED.format(name="Anna") and back[-1]["status"] == "returned"
        await asyncio.sleep(0.6)
        with session_scope(engine) as session:
            assert session.get(LiveChat, chat_id).resume == live.RESUME_BACK  # not done: tried again later
        core.status = 200
        gids = await client.live_messages(lambda e: e["author"] == "gids", timeout=10)
        assert gids[-1]["text"] == "kern: weer de gids (back)"
        assert gids[-1]["buttons"] == [{"title": "Ja", "payload": "/affirm"}]
        await asyncio.sleep(0.5)
        assert core.resumes == [(sender, "back")]
        # The chat is over: the next message goes to the core again.
        await client.say("dank je", token)
        assert (await client.answers(lambda e: "kern" in e.get("text", "")))[-1]["text"] == "kern: dank je"
    finally:
        await client.close()


async def test_nobody_picking_up_sends_the_person_back_with_the_handover_offer(stack, monkeypatch):
    url, app, core, engine = stack
    open_hours(engine)
    staff(engine, "anna", available=True)
    client, token, sender = await person(url, app)
    try:
        chat_id = start_chat(engine, sender)
        with session_scope(engine) as session:  # waiting for longer than GIDS_LIVE_WAIT_SECONDS (120)
            session.execute(update(LiveChat).where(LiveChat.id == chat_id)
                            .values(requested_at=live.utcnow() - timedelta(seconds=121)))
        gids = await client.live_messages(lambda e: e["author"] == "gids", timeout=10)
        assert gids[-1]["text"] == "kern: weer de gids (unavailable)"
        assert core.resumes == [(sender, "unavailable")]
        with session_scope(engine) as session:
            assert session.get(LiveChat, chat_id).status == "returned"
    finally:
        await client.close()


async def test_rest_during_a_chat_is_stored_and_answered_with_nothing(stack):
    url, app, core, engine = stack
    token = app["ids"].issue("rest")
    sender = app["ids"].sender("rest", token)
    chat_id = waiting_chat(engine, sender, channel="rest")

    def post():
        request = urllib.request.Request(f"{url}/webhooks/rest/webhook", method="POST",
                                         data=json.dumps({"message": "hallo daar", "sender": token}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.load(r)

    assert await asyncio.to_thread(post) == (200, [])
    assert core.turns == []
    assert chat_messages(engine, chat_id) == [("person", "hallo daar", True, False)]
