"""The gateway's WhatsApp channel in front of the trained gids (the real core and the real action
server): a conversation over real HTTP, from Meta's webhook to the Graph API test server, and a
handover made on WhatsApp."""
from __future__ import annotations

import pytest
import yaml

from bot import config, messages
from tests.channels.conftest import new_wa_id, reply_message, text_message, user_events, webhook

pytestmark = pytest.mark.model

DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())


async def exchange(served, graph, wa_id, message):
    """Posts one signed webhook with this message; returns what the gids sent back to wa_id."""
    before = len(graph.delivered_to(wa_id))
    status, _ = await served.post(webhook(messages=[message]))
    assert status == 200
    return graph.delivered_to(wa_id)[before:]


def body(m):
    return m["text"]["body"] if m["type"] == "text" else m["interactive"]["body"]["text"]


async def test_a_conversation_on_whatsapp_with_the_trained_gids(served, graph, tracker_db):
    wa_id = new_wa_id()

    async def say(message):
        return await exchange(served, graph, wa_id, message)

    out = await say(text_message(wa_id, "hoi"))
    assert out[0]["text"]["body"] == DOMAIN["responses"]["utter_welcome"][0]["text"]

    out = await say(text_message(wa_id, "ik heb schulden"))
    assert messages.ASK_PLACE in [m["text"]["body"] for m in out if m["type"] == "text"]

    out = await say(text_message(wa_id, "ik woon in Hoogezand"))
    bodies = [body(m) for m in out]
    assert bodies[0] == messages.PLACE_FOUND.format(gemeente="Midden-Groningen", region="Groningen")
    cards = [b for b in bodies if b.startswith("Gemeente Midden-Groningen: ")]
    assert len(cards) == 1                       # the card once, as text, not again as JSON
    assert not any(b.lstrip().startswith("{") for b in bodies)
    choice = out[-1]                             # the consent question: reply buttons
    assert choice["type"] == "interactive" and choice["interactive"]["type"] == "button"
    payloads = [b["reply"]["id"] for b in choice["interactive"]["action"]["buttons"]]
    assert "/deny" in payloads

    await say(reply_message(wa_id, "button_reply", "/deny", "Nee, dank je"))

    said = user_events(tracker_db, wa_id)            # the core's conversation is the wa_id itself
    assert [e["text"] for e in said] == ["hoi", "ik heb schulden", "ik woon in Hoogezand", "/deny"]
    assert {e["input_channel"] for e in said} == {"whatsapp"}
    assert said[-1]["parse_data"]["intent"]["name"] == "deny"   # the payload, not a guess from the title
    assert said[-1]["metadata"]["channel"] == "whatsapp"
    assert graph.unauthorised == 0


async def test_a_handover_on_whatsapp_offers_the_whatsapp_number(served, graph, actions_db_url):
    from sqlalchemy import select

    from bot.db import make_engine, session_scope
    from bot.db.models import Handover
    from bot.handover.contact import display_phone

    wa_id = new_wa_id()

    async def say(message):
        return await exchange(served, graph, wa_id, message)

    for line in ("hoi", "ik heb schulden", "Hoogezand"):
        out = await say(text_message(wa_id, line))
    out = await say(reply_message(wa_id, "button_reply", "/affirm", "Ja, graag"))
    assert body(out[-1]) == messages.ASK_NAME
    out = await say(text_message(wa_id, "Sanne"))
    question = out[-1]
    assert body(question) == messages.ASK_CONTACT_METHOD_WHATSAPP.format(number=display_phone("+" + wa_id))
    first = question["interactive"]["action"]["buttons"][0]["reply"]
    assert first["title"] == "WhatsApp"
    out = await say(reply_message(wa_id, "button_reply", first["id"], first["title"]))
    assert any(body(m).startswith("Gelukt!") for m in out)

    engine = make_engine(actions_db_url)
    try:
        with session_scope(engine) as session:
            h = session.scalars(select(Handover).where(Handover.conversation_id == wa_id)).one()
            assert (h.channel, h.contact_method, h.contact_value) == ("whatsapp", "whatsapp", "+" + wa_id)
            assert "Kanaal: WhatsApp." in h.summary
            assert any(line.text == "Sanne" for line in h.transcript)
    finally:
        engine.dispose()
