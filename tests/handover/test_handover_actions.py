"""The handover actions with rasa_sdk Tracker objects against a real database (SQLite and
PostgreSQL), the way the action server calls them: consent, the questions, one transaction."""
from __future__ import annotations

import re

import json

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

import actions.handover as ah
from bot import config, messages
from bot.db import session_scope
from bot.db.models import AuditLog, Handover, OutboxMessage, Partner, Service, TranscriptLine
from tests.conftest import gids_database

DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())
ZWOLLE = {"gemeente_code": "GM0193", "gemeente_name": "Zwolle", "region_code": "AM36",
          "region_name": "Regio Zwolle", "place": "Zwolle"}
CONTACT = {"contact_name": "Sanne de Boer", "contact_method": "phone", "contact_value": "+31612345678"}


@pytest.fixture
def use_db(fresh_db_url, fresh_engine, monkeypatch):
    with gids_database(fresh_db_url, monkeypatch):
        yield fresh_engine


def events(channel="socketio"):
    return [
        {"event": "session_started"},
        {"event": "user", "text": "ik heb schulden. mijn bsn is 111222333", "input_channel": channel,
         "timestamp": 1_780_000_000.0},
        {"event": "bot", "text": "Wil je dat Gemeente Zwolle contact met je opneemt?",
         "data": {"buttons": [{"title": "Ja, graag", "payload": "/affirm"}]}},
        {"event": "user", "text": "/affirm", "input_channel": channel},
        {"event": "user", "text": "06 12345678", "input_channel": channel},
    ]


def tracker(slots=None, text="", intent=None, channel="socketio", sender="conv-1", loop=None):
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0} if intent else {},
              "entities": [], "intent_ranking": []}
    return Tracker(sender_id=sender, slots=slots or {}, latest_message=latest, events=events(channel),
                   paused=False, followup_action=None, active_loop={"name": loop} if loop else {},
                   latest_action_name="action_listen")


def run(action, t):
    d = CollectingDispatcher()
    result = action.run(d, t, DOMAIN)
    return result, d.messages


async def arun(action, t):
    d = CollectingDispatcher()
    result = await action.run(d, t, DOMAIN)
    return result, d.messages


def slot_events(evts):
    return {e["name"]: e["value"] for e in evts if e["event"] == "slot"}


def routed_slots(engine):
    with session_scope(engine) as s:
        service = s.scalars(select(Service).where(Service.partner_id == "gemeente-GM0193",
                                                  Service.topic == "ask_debt_help")).first()
        sid = service.id
    return {**ZWOLLE, "handover_partner_id": "gemeente-GM0193", "handover_partner_name": "Gemeente Zwolle",
            "handover_service_id": sid, "handover_topic": "ask_debt_help",
            "routed_topics": ["ask_debt_help", "ask_language_help"], "handover_reason": "routing", **CONTACT}


# --- consent -------------------------------------------------------------------------------------

def test_offer_names_the_partner_what_is_shared_and_how_long(monkeypatch):
    monkeypatch.setenv("GIDS_RETENTION_DAYS", "60")
    evts, said = run(ah.ActionOfferHandover(), tracker({"handover_partner_id": "gemeente-GM0193",
                                                        "handover_partner_name": "Gemeente Zwolle"}))
    assert said[0]["text"] == messages.CONSENT_ASK.format(partner="Gemeente Zwolle", days=60)
    assert "BSN" in said[0]["text"] and "60 dagen" in said[0]["text"]
    assert [b["payload"] for b in said[0]["buttons"]] == ["/affirm", "/deny"]
    assert slot_events(evts) == {"handover_reason": "routing"}


def test_a_wrong_retention_setting_is_an_error_but_the_person_still_gets_the_question(monkeypatch):
    monkeypatch.setenv("GIDS_RETENTION_DAYS", "30d")
    with pytest.raises(ValueError, match="GIDS_RETENTION_DAYS"):
        config.retention_days()
    _, said = run(ah.ActionOfferHandover(), tracker({"handover_partner_id": "uwv", "handover_partner_name": "UWV"}))
    assert said[0]["text"] == messages.CONSENT_ASK.format(partner="UWV", days=config.DEFAULT_RETENTION_DAYS)


def test_asking_for_a_person_offers_the_werkcentrum():
    evts, said = run(ah.ActionOfferHandover(), tracker(intent="request_human"))
    assert [m["text"] for m in said] == [
        messages.HUMAN_INTRO, messages.CONSENT_ASK.format(partner=messages.WERKCENTRUM_STAFF, days=90)]
    assert slot_events(evts) == {"handover_reason": "request_human"}


def test_end_of_the_fallback_offers_the_werkcentrum_without_the_human_intro():
    evts, said = run(ah.ActionOfferHandover(), tracker({"fallback_reason": "repeated"}, intent="nlu_fallback"))
    assert [m["text"] for m in said] == [messages.CONSENT_ASK.format(partner=messages.WERKCENTRUM_STAFF, days=90)]
    assert slot_events(evts) == {"handover_reason": "fallback"}


def test_no_second_offer_for_the_same_partner():
    _, said = run(ah.ActionOfferHandover(), tracker({"handover_partner_id": "uwv", "handover_partner_name": "UWV",
                                                     "handover_done": {"partner:uwv": "WC-2026-000007"}}))
    assert [m["text"] for m in said] == [messages.HANDOVER_ALREADY.format(reference="WC-2026-000007")]


# --- the questions --------------------------------------------------------------------------------

async def test_place_is_asked_only_when_the_werkcentrum_must_be_found():
    form = ah.ValidateHandoverForm()
    slots = ["place", "contact_name", "contact_method", "contact_value"]
    ask = await form.required_slots(slots, CollectingDispatcher(), tracker({"handover_reason": "request_human"}), DOMAIN)
    assert ask == slots
    known = await form.required_slots(slots, CollectingDispatcher(),
                                      tracker({"handover_reason": "request_human", **ZWOLLE}), DOMAIN)
    assert known == slots[1:]
    routing = await form.required_slots(slots, CollectingDispatcher(), tracker({"handover_reason": "routing"}), DOMAIN)
    assert routing == slots[1:]


def test_bad_name_is_asked_again():
    form = ah.ValidateHandoverForm()
    d = CollectingDispatcher()
    assert form.validate_contact_name("<script>alert(1)</script>", d, tracker(), DOMAIN) == {"contact_name": None}
    assert d.messages[0]["text"] == messages.NAME_INVALID
    assert form.validate_contact_name("ik heet sanne", CollectingDispatcher(), tracker(), DOMAIN) == {"contact_name": "Sanne"}


@pytest.mark.parametrize("answer,expected", [
    ("Bel me", {"contact_method": "phone", "contact_value": None}),
    ("Mail me", {"contact_method": "email", "contact_value": None}),
    ("0612345678", {"contact_method": "phone", "contact_value": "+31612345678"}),
    ("sanne@example.nl", {"contact_method": "email", "contact_value": "sanne@example.nl"}),
    ("geen idee", {"contact_method": None}),
])
def test_contact_method_answers(answer, expected):
    d = CollectingDispatcher()
    assert ah.ValidateHandoverForm().validate_contact_method(answer, d, tracker(), DOMAIN) == expected
    assert bool(d.messages) == (expected["contact_method"] is None)


def test_on_whatsapp_the_number_is_offered_and_used():
    t = tracker(channel="whatsapp", sender="31612345678")
    _, said = run(ah.ActionAskContactMethod(), t)
    assert said[0]["text"] == messages.ASK_CONTACT_METHOD_WHATSAPP.format(number="06 12345678")
    assert said[0]["buttons"][0]["title"] == "WhatsApp"
    result = ah.ValidateHandoverForm().validate_contact_method("WhatsApp", CollectingDispatcher(), t, DOMAIN)
    assert result == {"contact_method": "whatsapp", "contact_value": "+31612345678"}


def test_on_the_web_whatsapp_asks_for_the_number():
    _, said = run(ah.ActionAskContactMethod(), tracker())
    assert said[0]["text"] == messages.ASK_CONTACT_METHOD
    assert [b["title"] for b in said[0]["buttons"]] == ["Bel me", "Mail me", "WhatsApp"]
    result = ah.ValidateHandoverForm().validate_contact_method("WhatsApp", CollectingDispatcher(), tracker(), DOMAIN)
    assert result == {"contact_method": "whatsapp", "contact_value": None}
    _, said = run(ah.ActionAskContactValue(), tracker({"contact_method": "whatsapp"}))
    assert said[0]["text"] == messages.ASK_WHATSAPP_NUMBER


@pytest.mark.parametrize("method,answer,value,error", [
    ("phone", "06-12345678", "+31612345678", None),
    ("phone", "12345", None, messages.PHONE_INVALID),
    ("whatsapp", "020 1234567", None, messages.PHONE_INVALID),  # a landline has no WhatsApp
    ("email", "sanne@example", None, messages.EMAIL_INVALID),
    ("email", "Sanne@Example.NL", "Sanne@example.nl", None),
])
def test_contact_value_is_validated(method, answer, value, error):
    d = CollectingDispatcher()
    result = ah.ValidateHandoverForm().validate_contact_value(answer, d, tracker({"contact_method": method}), DOMAIN)
    assert result == {"contact_value": value}
    assert [m["text"] for m in d.messages] == ([error] if error else [])


# --- storing it ------------------------------------------------------------------------------------

async def test_handover_is_stored_with_redacted_transcript_and_reference(use_db):
    slots = routed_slots(use_db)
    evts, said = await arun(ah.ActionCreateHandover(), tracker(slots))
    reference = slot_events(evts)["handover_reference"]
    assert re.fullmatch(r"WC-20\d\d-[1-9]\d{9}", reference)  # random, not a counter
    assert said[0]["text"] == messages.HANDOVER_DONE.format(partner="Gemeente Zwolle", method="de telefoon")
    assert said[1]["text"] == messages.HANDOVER_REFERENCE.format(reference=reference)
    assert slot_events(evts)["handover_done"] == {"partner:gemeente-GM0193": reference}
    with session_scope(use_db) as s:
        h = s.scalars(select(Handover).where(Handover.reference == reference)).one()
        assert (h.partner_id, h.service_id, h.gemeente_code, h.region_code) == (
            "gemeente-GM0193", slots["handover_service_id"], "GM0193", "AM36")
        assert json.loads(h.topics) == ["ask_debt_help", "ask_language_help"]
        assert (h.contact_name, h.contact_method, h.contact_value) == ("Sanne de Boer", "phone", "+31612345678")
        assert (h.channel, h.reason, h.status, h.conversation_id) == ("socketio", "routing", "new", "conv-1")
        lines = [line.text for line in h.transcript]
        assert "111222333" not in " ".join(lines) and "[BSN]" in lines[0]
        assert lines[-1] == "06 12345678"  # consented: kept
        assert "Zwolle" in h.summary and "schulden" in h.summary
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.handover_id == h.id,
                                                                          AuditLog.action == "create")) == 1


async def test_asking_for_a_person_goes_to_the_regions_werkcentrum(use_db):
    slots = {**CONTACT, "handover_reason": "request_human", "gemeente_code": "GM0014", "region_code": "AM01"}
    evts, _ = await arun(ah.ActionCreateHandover(), tracker(slots))
    with session_scope(use_db) as s:
        h = s.scalars(select(Handover).where(Handover.reference == slot_events(evts)["handover_reference"])).one()
        assert h.partner.type == "werkcentrum" and h.partner.region_code == "AM01" and h.region_code == "AM01"
        assert h.service_id is None and h.reason == "request_human"


async def test_a_region_without_a_werkcentrum_in_the_table_gets_werkcentrum_nl(use_db):
    slots = {**CONTACT, **ZWOLLE, "handover_reason": "fallback"}
    evts, _ = await arun(ah.ActionCreateHandover(), tracker(slots))
    with session_scope(use_db) as s:
        h = s.scalars(select(Handover).where(Handover.reference == slot_events(evts)["handover_reference"])).one()
        assert (h.partner_id, h.region_code) == ("werkcentrum", "AM36")  # the region's staff still see it


async def test_the_same_handover_is_not_made_twice(use_db):
    slots = routed_slots(use_db)
    evts, _ = await arun(ah.ActionCreateHandover(), tracker(slots))
    slots["handover_done"] = slot_events(evts)["handover_done"]
    evts2, said = await arun(ah.ActionCreateHandover(), tracker(slots))
    assert evts2 == [] and said[0]["text"].startswith("Je vraag is al doorgegeven")
    with session_scope(use_db) as s:
        assert s.scalar(select(func.count()).select_from(Handover)) == 1


async def test_partner_with_a_webhook_gets_an_outbox_message_in_the_same_transaction(use_db):
    with session_scope(use_db) as s:
        s.get(Partner, "gemeente-GM0193").handover_webhook = "http://127.0.0.1:9/hook"
    evts, _ = await arun(ah.ActionCreateHandover(), tracker(routed_slots(use_db)))
    with session_scope(use_db) as s:
        msgs = s.scalars(select(OutboxMessage)).all()
        assert [(m.kind, m.status) for m in msgs] == [("webhook", "pending")]


async def test_database_down_loses_nothing_and_the_retry_works(use_db, fresh_db_url, monkeypatch):
    slots = routed_slots(use_db)
    monkeypatch.setattr(ah, "RETRY_DELAYS", (0.0,))
    with gids_database("postgresql://postgres@127.0.0.1:9/gids_down", monkeypatch):  # nothing listens
        evts, said = await arun(ah.ActionCreateHandover(), tracker(slots))
    assert evts == []  # the slots (name, contact, place) stay in the conversation
    assert said[0]["text"] == messages.HANDOVER_DB_DOWN
    assert said[0]["buttons"] == [{"title": messages.RETRY_BUTTON, "payload": "/retry_handover"}]
    with session_scope(use_db) as s:
        assert s.scalar(select(func.count()).select_from(Handover)) == 0
        assert s.scalar(select(func.count()).select_from(TranscriptLine)) == 0
    with gids_database(fresh_db_url, monkeypatch):
        evts, said = await arun(ah.ActionCreateHandover(), tracker(slots))
    assert slot_events(evts)["handover_reference"].startswith("WC-")


async def test_a_failure_halfway_writes_nothing(use_db, monkeypatch):
    import bot.handover.outbox as outbox

    def broken(session, handover):
        raise RuntimeError("the outbox broke after the handover and its transcript were added")

    monkeypatch.setattr(outbox, "enqueue", broken)
    with pytest.raises(RuntimeError):
        await arun(ah.ActionCreateHandover(), tracker(routed_slots(use_db)))
    with session_scope(use_db) as s:
        assert s.scalar(select(func.count()).select_from(Handover)) == 0
        assert s.scalar(select(func.count()).select_from(TranscriptLine)) == 0
