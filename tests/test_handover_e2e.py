"""The handover end to end: the trained model, the real action server and its database. A person
asks a question, says where they live, agrees, answers three questions and gets a reference."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from bot import messages
from bot.db import make_engine, session_scope
from bot.db.models import Handover
from tests.test_assistant import consent, is_consent, response_text
from tests.test_assistant import texts as all_texts

pytestmark = pytest.mark.model


def texts(out):
    return [t for t in all_texts(out) if t]  # custom JSON (the reference for the widget) has no text


async def chat(agent, sender, *lines):
    out = []
    for line in lines:
        out = await agent.handle_text(line, sender_id=sender)
    return out


def handovers_of(db_url, sender):
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            rows = s.scalars(select(Handover).where(Handover.conversation_id == sender)).all()
            return [(h.reference, h.partner_id, h.region_code, h.contact_method, h.contact_value,
                     h.contact_name, json.loads(h.topics), [(t.speaker, t.text) for t in h.transcript], h.summary)
                    for h in rows]
    finally:
        engine.dispose()


async def test_debts_in_zwolle_handed_to_the_gemeente(agent, actions_db_url):
    sender = f"e2e-{uuid.uuid4().hex}"
    out = await chat(agent, sender, "hoi", "ik heb schulden. mijn bsn is 111222333", "Zwolle")
    assert out[-1]["text"] == consent("Gemeente Zwolle") and is_consent(out[-1])
    out = await chat(agent, sender, "/affirm")
    assert texts(out) == [messages.ASK_NAME]
    out = await chat(agent, sender, "ik heet sanne de boer")
    assert texts(out) == [messages.ASK_CONTACT_METHOD]
    out = await chat(agent, sender, "Bel me")
    assert texts(out) == [messages.ASK_PHONE]
    out = await chat(agent, sender, "12345")
    assert texts(out) == [messages.PHONE_INVALID, messages.ASK_PHONE]
    out = await chat(agent, sender, "06 12345678")
    [row] = handovers_of(actions_db_url, sender)
    reference, partner, region, method, value, name, topics, transcript, summary = row
    assert texts(out) == [messages.HANDOVER_DONE.format(partner="Gemeente Zwolle", method="de telefoon"),
                          messages.HANDOVER_REFERENCE.format(reference=reference)]
    assert (partner, region, method, value, name) == ("gemeente-GM0193", "AM36", "phone", "+31612345678",
                                                     "Sanne de Boer")
    assert topics[0] == "ask_debt_help"
    said = "\n".join(text for _, text in transcript)
    assert "111222333" not in said and "[BSN]" in said
    assert ("persoon", "06 12345678") in transcript and ("persoon", "Ja, graag") in transcript
    assert "Zwolle" in summary
    # Saying yes again does not make a second handover.
    out = await chat(agent, sender, "ik wil een medewerker spreken")
    assert is_consent(out[-1])  # the Werkcentrum is another organisation: it may be asked
    assert len(handovers_of(actions_db_url, sender)) == 1


async def test_asking_for_a_person_without_a_place(agent, actions_db_url):
    sender = f"e2e-{uuid.uuid4().hex}"
    out = await chat(agent, sender, "hallo", "ik wil met een medewerker praten")
    assert texts(out) == [messages.HUMAN_INTRO, consent(messages.WERKCENTRUM_STAFF)]
    out = await chat(agent, sender, "ja graag")
    assert texts(out) == [messages.ASK_PLACE]
    out = await chat(agent, sender, "Groningen")
    assert messages.ASK_NAME in texts(out)
    await chat(agent, sender, "Fatima")
    out = await chat(agent, sender, "Mail me")
    assert texts(out) == [messages.ASK_EMAIL]
    out = await chat(agent, sender, "fatima@example")
    assert texts(out) == [messages.EMAIL_INVALID, messages.ASK_EMAIL]
    out = await chat(agent, sender, "fatima@example.nl")
    [row] = handovers_of(actions_db_url, sender)
    assert row[1].startswith("werkcentrum-AM01") and row[2] == "AM01"
    assert (row[3], row[4]) == ("email", "fatima@example.nl")
    assert messages.HANDOVER_REFERENCE.format(reference=row[0]) in texts(out)


async def test_no_is_respected(agent, actions_db_url):
    sender = f"e2e-{uuid.uuid4().hex}"
    out = await chat(agent, sender, "hoi", "ik zoek werk in Zwolle")
    assert is_consent(out[-1])
    out = await chat(agent, sender, "nee dank je")
    assert texts(out) == [response_text("utter_handover_declined")]
    assert handovers_of(actions_db_url, sender) == []


async def test_stopping_halfway_stores_nothing(agent, actions_db_url):
    sender = f"e2e-{uuid.uuid4().hex}"
    await chat(agent, sender, "hoi", "ik zoek werk in Zwolle", "ja")
    out = await chat(agent, sender, "nee laat maar")
    assert texts(out) == [response_text("utter_handover_stopped")]
    assert handovers_of(actions_db_url, sender) == []
