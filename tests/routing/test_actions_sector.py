"""The sector question in the routing form and the sector cards, with rasa_sdk Trackers against a
real database (SQLite and PostgreSQL), the way the action server runs them: the sector said
before, asked, "weet ik niet", an employer, and what never counts as an answer."""
from __future__ import annotations

import asyncio

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.routing import ActionAskSector, ActionShowServices, ValidateRoutingForm
from bot import config, messages
from bot.routing.seed import VIA_EMPLOYER
from tests.conftest import gids_database

DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())
ZWOLLE = {"place": "Zwolle", "gemeente_code": "GM0193", "gemeente_name": "Zwolle", "region_code": "AM36"}


@pytest.fixture
def use_db(db_url, monkeypatch):
    with gids_database(db_url, monkeypatch):
        yield db_url


def user(text, intent):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def action(name):
    return {"event": "action", "name": name}


def slot(name, value):
    return {"event": "slot", "name": name, "value": value}


def tracker(slots, events, intent, entities=None):
    last = next(e for e in reversed(events) if e["event"] == "user")
    latest = {"text": last["text"], "intent": {"name": intent, "confidence": 1.0}, "entities": entities or []}
    return Tracker(sender_id="t", slots=slots, latest_message=latest, events=events, paused=False,
                   followup_action=None, active_loop={"name": "routing_form"}, latest_action_name="routing_form")


def validate(slots, events, intent, entities=None):
    d = CollectingDispatcher()
    t = tracker(slots, events, intent, entities)
    out = asyncio.run(ValidateRoutingForm().run(d, t, DOMAIN))
    return {e["name"]: e["value"] for e in out if e["event"] == "slot"}, d.messages


def required(slots, events, intent):
    t = tracker(slots, events, intent)
    return asyncio.run(ValidateRoutingForm().required_slots(["place", "sector"], CollectingDispatcher(), t, DOMAIN))


def show(slots):
    d = CollectingDispatcher()
    ActionShowServices().run(d, tracker(slots, [user("x", "inform_location")], "inform_location"), DOMAIN)
    return [m.get("text") for m in d.messages], [m["custom"] for m in d.messages if m.get("custom")]


def asked(first, answer, intent="inform_sector", slots=None, sector_slot=None, entities=None):
    """The form asked the sector after `first`; the person answered `answer`. As the core sends
    it: the answer, then what the domain's mappings took from it (`sector_slot`)."""
    events = [user(first, "ask_retraining"), action("utter_topic_ask_retraining"), action("action_set_topic"),
              action("routing_form"), action("action_listen"), user(answer, intent),
              slot("requested_slot", "sector"), action("routing_form")]
    if sector_slot is not None:
        events.append(slot("sector", sector_slot))
    base = {"needs": ["ask_retraining"], "topic": "ask_retraining", **ZWOLLE, "requested_slot": "sector",
            "sector": sector_slot}
    return validate({**base, **(slots or {})}, events, intent, entities)


# ---------------------------------------------------------------------------- said before

def test_the_sector_said_before_is_taken_and_not_asked(use_db):
    events = [user("ik ben lasser en wil omscholen", "ask_retraining"), action("utter_topic_ask_retraining"),
              action("action_set_topic")]
    slots = {"needs": ["ask_retraining"], "topic": "ask_retraining", "requested_slot": None}
    found, said = validate(slots, events, "ask_retraining")
    assert found == {"sector": "metaal"} and said == []


def test_a_sector_said_in_an_earlier_message_counts(use_db):
    events = [user("hoi, ik werk in de thuiszorg", "greet"), action("utter_greet"), action("action_listen"),
              user("ik wil een ander vak leren", "ask_retraining"), action("action_set_topic")]
    found, _ = validate({"needs": ["ask_retraining"], **ZWOLLE, "requested_slot": None}, events, "ask_retraining")
    assert found["sector"] == "zorg_vvt"


def test_cards_of_the_sector_come_after_the_regional_cards(use_db):
    said, cards = show({"needs": ["ask_retraining"], **ZWOLLE, "sector": "metaal"})
    intro = messages.SECTOR_INTRO.format(sector="de metaal")
    assert said[0] == messages.SERVICES_INTRO.format(topic="omscholing of een opleiding")
    at = said.index(intro)
    assert said[at + 1].startswith("OOM: OOM betaalt mee aan cursussen in de metaal.")
    assert "Website: https://www.oom.nl" in said[at + 1]
    assert [c["partner_type"] for c in cards][-1] == "sectorfonds" and cards[-1]["sector"] == "metaal"
    assert all(c["partner_type"] != "sectorfonds" for c in cards[:-1]) and len(cards) >= 2
    assert said[-1] == messages.UNVERIFIED


def test_with_several_needs_the_sector_goes_with_its_own_topic(use_db):
    said, _ = show({"needs": ["ask_retraining", "ask_debt_help"], **ZWOLLE, "sector": "zorg_vvt"})
    intros = [t for t in said if t.startswith("Hier vind je hulp bij") or t.startswith("Voor werk in")]
    assert intros == [messages.SERVICES_INTRO.format(topic="schulden"),
                      messages.SERVICES_INTRO.format(topic="omscholing of een opleiding"),
                      messages.SECTOR_INTRO.format(sector="de ouderenzorg en thuiszorg")]
    card = said[said.index(intros[-1]) + 1]
    assert card.startswith("A+O VVT: ") and VIA_EMPLOYER in card


# ---------------------------------------------------------------------------------- asked

def test_the_question_is_asked_once_with_buttons(use_db):
    events = [user("ik wil graag omscholen", "ask_retraining"), action("action_set_topic")]
    slots = {"needs": ["ask_retraining"], "topic": "ask_retraining", **ZWOLLE, "requested_slot": None}
    assert required(slots, events, "ask_retraining") == ["place", "sector"]
    found, _ = validate(slots, events, "ask_retraining")
    assert "sector" not in found  # nothing to take: the core asks next (action_ask_sector)
    d = CollectingDispatcher()
    ActionAskSector().run(d, tracker(slots, events, "ask_retraining"), DOMAIN)
    assert d.messages[0]["text"] == messages.ASK_SECTOR == "In welke sector werk je? Bijvoorbeeld zorg, techniek of bouw."
    buttons = d.messages[0]["buttons"]
    assert [b["title"] for b in buttons][:3] == ["Zorg", "Techniek", "Bouw"] and len(buttons) <= 10
    assert {"title": "Weet ik niet", "payload": '/inform_sector{"sector": "onbekend"}'} in buttons
    assert all(len(b["title"]) <= 20 for b in buttons)


@pytest.mark.parametrize("answer,intent,key", [
    ("in de thuiszorg", "inform_sector", "zorg_vvt"),
    ("ik ben instalateur", "inform_sector", "installatie"),
    ("metaal", "out_of_scope", "metaal"),
    ("ik werk bij een bank", "inform_sector", "anders"),
    ("nee", "deny", "onbekend"),
])
def test_a_typed_answer(use_db, answer, intent, key):
    found, _ = asked("ik wil graag omscholen", answer, intent, sector_slot=answer)
    assert found["sector"] == key


def test_a_button(use_db):
    found, _ = asked("ik wil omscholen", '/inform_sector{"sector": "bouw"}', sector_slot="bouw",
                     entities=[{"entity": "sector", "value": "bouw"}])
    assert found["sector"] == "bouw"


def test_a_short_answer_the_classifier_took_for_a_question(use_db):
    # "lasser" read as ask_vacancies: the domain's text mapping skips topics, the form still takes it.
    found, _ = asked("ik wil omscholen", "lasser", "ask_vacancies")
    assert found["sector"] == "metaal"
    found, _ = asked("ik wil omscholen", "weet ik niet", "ask_career_advice")
    assert found["sector"] == "onbekend"


def test_a_new_question_or_a_crisis_is_no_answer(use_db):
    assert "sector" not in asked("ik wil omscholen", "ik heb ook schulden", "ask_debt_help")[0]
    assert "sector" not in asked("ik wil omscholen", "ik zoek ook een bbl plek in de zorg bij mij in de buurt",
                                 "ask_apprenticeship")[0]
    assert "sector" not in asked("ik wil omscholen", "ik werk in de zorg en wil niet meer leven", "crisis")[0]
    assert "sector" not in asked("ik wil omscholen", "ik wil een medewerker spreken", "request_human")[0]


# --------------------------------------------------------------------------- weet ik niet

def test_weet_ik_niet_goes_on_with_the_regional_cards(use_db):
    found, _ = asked("ik wil omscholen", '/inform_sector{"sector": "onbekend"}', sector_slot="onbekend",
                     entities=[{"entity": "sector", "value": "onbekend"}])
    assert found["sector"] == "onbekend"
    said, cards = show({"needs": ["ask_retraining"], **ZWOLLE, "sector": "onbekend"})
    assert said[0] == messages.SERVICES_INTRO.format(topic="omscholing of een opleiding")
    assert cards and all(c["partner_type"] != "sectorfonds" for c in cards)
    assert messages.SECTOR_UNKNOWN in said
    assert "Werkcentrum en de vakbond" in messages.SECTOR_UNKNOWN


def test_a_sector_without_a_fund_names_the_werkcentrum_and_the_vakbond(use_db):
    said, cards = show({"needs": ["ask_dismissal_help"], **ZWOLLE, "sector": "anders"})
    assert messages.SECTOR_NO_FUND in said and all(c["partner_type"] != "sectorfonds" for c in cards)
    said, _ = show({"needs": ["ask_retraining"], **ZWOLLE, "sector": "geen"})
    assert not any(t.startswith("Voor ") for t in said)


def test_a_fund_without_website_or_phone_says_who_helps_instead(use_db):
    said, cards = show({"needs": ["ask_retraining"], **ZWOLLE, "sector": "energie"})
    assert cards[-1]["partner"] == "Branchebruggen & Baankansen in de Energie" and not cards[-1]["reachable"]
    assert said[said.index(messages.SECTOR_INTRO.format(sector="de energiesector")) + 2] == messages.SECTOR_NO_REACH


# ------------------------------------------------------------------------------- employers

def test_an_employer_is_asked_about_the_company(use_db):
    events = [user("ik wil mijn medewerkers laten bijscholen", "employer_training")]
    slots = {"needs": ["employer_training"], "topic": "employer_training", **ZWOLLE, "requested_slot": None}
    assert required(slots, events, "employer_training") == ["place", "sector"]
    d = CollectingDispatcher()
    ActionAskSector().run(d, tracker(slots, events, "employer_training"), DOMAIN)
    assert d.messages[0]["text"] == messages.ASK_SECTOR_EMPLOYER == "In welke sector zit je bedrijf? Bijvoorbeeld zorg, techniek of bouw."
    assert "Ik werk nu niet" not in [b["title"] for b in d.messages[0]["buttons"]]


def test_an_employer_who_named_the_company_gets_its_fund(use_db):
    events = [user("wij zijn een installatiebedrijf en willen onze monteurs bijscholen", "employer_training")]
    found, _ = validate({"needs": ["employer_training"], "topic": "employer_training", "requested_slot": None},
                        events, "employer_training")
    assert found == {"sector": "installatie"}
    said, cards = show({"needs": ["employer_training"], **ZWOLLE, "sector": "installatie"})
    at = said.index(messages.SECTOR_INTRO_EMPLOYER.format(sector="de installatietechniek"))
    assert said[at + 1].startswith("Wij Techniek: ") and cards[-1]["audience"] == "werkgever"
    said, _ = show({"needs": ["employer_training"], **ZWOLLE, "sector": "onbekend"})
    assert messages.SECTOR_UNKNOWN_EMPLOYER in said


# --------------------------------------------------------------------------- not asked

@pytest.mark.parametrize("needs,text,audience", [
    (["ask_debt_help"], "ik heb schulden", None),
    (["ask_vacancies"], "ik ben lasser en zoek werk", None),
    (["ask_retraining"], "ik heb geen werk en wil omscholen", None),
    (["ask_career_advice"], "wat past bij mij", "werkzoekende"),
])
def test_no_sector_question_without_a_sectoral_route(use_db, needs, text, audience):
    slots = {"needs": needs, "topic": needs[0], "requested_slot": None, "audience": audience}
    assert required(slots, [user(text, needs[0])], needs[0]) == ["place"]


def test_a_switcher_without_work_who_names_the_sector_still_gets_its_route(use_db):
    events = [user("ik ben werkloos en wil omscholen naar de techniek", "ask_retraining")]
    slots = {"needs": ["ask_retraining"], "topic": "ask_retraining", "requested_slot": None}
    assert required(slots, events, "ask_retraining") == ["place", "sector"]
    assert validate(slots, events, "ask_retraining")[0] == {"sector": "techniek"}
    said, _ = show({"needs": ["ask_retraining"], **ZWOLLE, "sector": "techniek"})
    at = said.index(messages.SECTOR_INTRO.format(sector="de techniek"))
    assert said[at + 1].startswith("Techniekpact: ")


def test_database_down_during_the_answer(monkeypatch):
    with gids_database("postgresql://postgres@127.0.0.1:1/nothing", monkeypatch):
        found, _ = asked("ik wil omscholen", "in de bouw", sector_slot="in de bouw")
        assert found["sector"] == "onbekend"
