"""A live chat with staff on WhatsApp, through two gateways on one database (a core stand-in, the
Graph API test server): the person's messages reach the chat once (also when Meta delivers again)
and never the core; what staff write goes out once, from whichever gateway claims it; a crisis is
answered at once; outside the 24-hour window nothing is sent and staff see why."""
from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot import live, messages
from bot.db import make_engine, session_scope
from bot.db.models import ChannelContact, LiveChat, LiveMessage
from bot.gateway.app import GatewaySettings, make_app
from tests.channels.conftest import new_wa_id, serve_app, settings, text_message, webhook
from tests.conftest import CORE_TOKEN, gids_database
from tests.gateway.standin import StandIn
from tests.live.conftest import staff, start_chat


@pytest.fixture
def db_url(fresh_seeded_db, monkeypatch):
    url = fresh_seeded_db("postgresql")
    with gids_database(url, monkeypatch):
        yield url


@pytest.fixture
async def gateways(db_url, graph):
    """Two gateways on one database and one Graph API test server; (served, served, core, engine)."""
    core = StandIn("kern")
    await core.start()
    engine = make_engine(db_url)
    async with AsyncExitStack() as stack:
        served = []
        for _ in range(2):
            app = make_app(GatewaySettings(core_url=core.url, core_token=CORE_TOKEN, secret="geheim"),
                           whatsapp=settings(db_url, graph.base_url))
            app["live"].poll_seconds, app["live"].sweep_seconds = 0.05, 0.2
            served.append(await stack.enter_async_context(serve_app(app, app["whatsapp"])))
        yield served[0], served[1], core, engine
    engine.dispose()
    await core.stop()


async def until_sent(graph, wa_id: str, count: int, timeout: float = 10) -> list:
    loop = asyncio.get_running_loop()
    ends = loop.time() + timeout
    while len(graph.texts_to(wa_id)) < count and loop.time() < ends:
        await asyncio.sleep(0.05)
    return graph.texts_to(wa_id)


def staff_says(engine, chat_id: int, text: str, user_id: int) -> int:
    with session_scope(engine) as session:
        message, _ = live.add_message(session, session.get(LiveChat, chat_id), live.STAFF, text, user_id=user_id)
        session.flush()
        return message.id


async def test_a_live_chat_both_ways_on_whatsapp_through_two_gateways(gateways, graph):
    first, second, core, engine = gateways
    wa_id = new_wa_id()
    anna = staff(engine, "anna", name="Anna", available=True)
    chat_id = start_chat(engine, wa_id, channel="whatsapp")

    question = text_message(wa_id, "Ik heb een vraag over mijn uitkering. Mijn IBAN is NL91ABNA0417164300")
    assert (await first.post(webhook(messages=[question])))[0] == 200
    assert (await second.post(webhook(messages=[question])))[0] == 200   # Meta delivers again, elsewhere
    with session_scope(engine) as session:
        stored = session.execute(select(LiveMessage.author, LiveMessage.text)
                                 .where(LiveMessage.chat_id == chat_id)).all()
    assert stored == [("person", "Ik heb een vraag over mijn uitkering. Mijn IBAN is [IBAN]")]
    assert core.turns == [] and graph.texts_to(wa_id) == []

    with session_scope(engine) as session:
        assert live.pick_up(session, chat_id, user_id=anna, username="anna", display_name="Anna")
    staff_says(engine, chat_id, "Hallo, ik ben Anna. Ik help je.", anna)
    sent = await until_sent(graph, wa_id, 2)
    await asyncio.sleep(0.5)   # a second gateway sending the same message would show by now
    assert graph.texts_to(wa_id) == sent == [messages.LIVE_JOINED.format(name="Anna"),
                                             "Anna: Hallo, ik ben Anna. Ik help je."]
    with session_scope(engine) as session:
        assert all(m.delivered_at and not m.delivery_error for m in session.execute(
            select(LiveMessage).where(LiveMessage.chat_id == chat_id, LiveMessage.author != "person")).scalars())

    # A crisis: 112/113 at once, from the gateway that got the message, and once.
    assert (await second.post(webhook(messages=[text_message(wa_id, "ik wil er niet meer zijn")])))[0] == 200
    assert graph.texts_to(wa_id)[-1] == messages.LIVE_CRISIS
    await asyncio.sleep(0.5)
    assert graph.texts_to(wa_id).count(messages.LIVE_CRISIS) == 1

    # The chat ends: the core is resumed once and its answer (with a button) goes out once.
    with session_scope(engine) as session:
        live.finish(session, session.get(LiveChat, chat_id), "ended", user_id=anna, actor="anna")
    await until_sent(graph, wa_id, 6)
    await asyncio.sleep(0.5)
    assert core.resumes == [(wa_id, "back")]
    tail = graph.delivered_to(wa_id)[-2:]
    assert tail[0]["text"]["body"] == messages.LIVE_ENDED.format(name="Anna")
    assert tail[1]["type"] == "interactive"
    assert tail[1]["interactive"]["body"]["text"] == "kern: weer de gids (back)"
    assert len(graph.delivered_to(wa_id)) == 5


async def test_outside_the_24_hour_window_nothing_is_sent_and_staff_see_why(gateways, graph):
    first, _, core, engine = gateways
    wa_id = new_wa_id()
    anna = staff(engine, "anna", name="Anna", available=True)
    chat_id = start_chat(engine, wa_id, channel="whatsapp")
    assert (await first.post(webhook(messages=[text_message(wa_id, "hallo")])))[0] == 200
    with session_scope(engine) as session:
        live.pick_up(session, chat_id, user_id=anna, username="anna", display_name="Anna")
        session.execute(update(ChannelContact).where(ChannelContact.user_id == wa_id)
                        .values(last_inbound_at=live.utcnow() - timedelta(hours=25)))
    message_id = staff_says(engine, chat_id, "Ben je er nog?", anna)
    loop = asyncio.get_running_loop()
    ends = loop.time() + 10
    error = None
    while error is None and loop.time() < ends:
        await asyncio.sleep(0.1)
        with session_scope(engine) as session:
            error = session.get(LiveMessage, message_id).delivery_error
    assert error == "buiten het 24-uursvenster van WhatsApp"
    assert "Anna: Ben je er nog?" not in graph.texts_to(wa_id)
