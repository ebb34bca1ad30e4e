"""The routing actions with rasa_sdk Tracker objects against a real database (SQLite and
PostgreSQL), the way the action server calls them."""
from __future__ import annotations

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.routing import ActionAskPlace, ActionSetTopic, ActionShowServices, ValidateRoutingForm
from bot import config, messages
from tests.conftest import gids_database

DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())


@pytest.fixture
def use_db(db_url, monkeypatch):
    with gids_database(db_url, monkeypatch):
        yield db_url


def tracker(slots=None, text="", intent=None, entities=None, ranking=None):
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0} if intent else {},
              "entities": entities or [], "intent_ranking": ranking or []}
    return Tracker(sender_id="t", slots=slots or {}, latest_message=latest, events=[], paused=False,
                   followup_action=None, active_loop={"name": "routing_form"}, latest_action_name="action_listen")


def slot_events(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def validate(text, slots=None, entities=None):
    slots = {"requested_slot": "place", **(slots or {})}
    d = CollectingDispatcher()
    result = ValidateRoutingForm().validate_place(text, d, tracker(slots or {}, text, "inform_location", entities), DOMAIN)
    return result, [m.get("text") for m in d.messages], d.messages


def test_place_resolves_to_gemeente_and_region(use_db):
    result, said, _ = validate("ik woon in Hoogezand")
    assert result["gemeente_code"] == "GM1952" and result["region_code"] == "AM01"
    assert said == [messages.PLACE_FOUND.format(gemeente="Midden-Groningen", region="Groningen")]


def test_a_region_called_regio_is_not_named_twice(use_db):
    _, said, _ = validate("Zwolle")
    assert said == [messages.PLACE_FOUND.format(gemeente="Zwolle", region="Zwolle")]
    assert "regio Regio" not in said[0]


def test_employer_hears_about_the_company(use_db):
    result, said, _ = validate("Veenendaal", {"topic": "employer_hiring"})
    assert result["gemeente_code"] == "GM0345"
    assert said[0].startswith("Je bedrijf zit in de gemeente Veenendaal")


def test_ambiguous_place_leads_to_buttons(use_db):
    result, said, _ = validate("Haren")
    assert result["place"] is None and said == []
    assert set(result["place_candidates"]) == {"GM0014", "GM0828"}
    d = CollectingDispatcher()
    ActionAskPlace().run(d, tracker({"place_candidates": result["place_candidates"], "location": "Haren"}), DOMAIN)
    buttons = d.messages[0]["buttons"]
    assert d.messages[0]["text"] == messages.ASK_PLACE_CHOOSE.format(name="Haren")
    assert [b["title"] for b in buttons] == ["Groningen", "Oss"]
    assert buttons[1]["payload"] == '/inform_location{"gemeente_code": "GM0828"}'
    assert all(len(b["title"]) <= 20 for b in buttons)


def test_button_choice_resolves_by_code(use_db):
    result, _, _ = validate('/inform_location{"gemeente_code": "GM0828"}',
                            entities=[{"entity": "gemeente_code", "value": "GM0828"}])
    assert result["gemeente_code"] == "GM0828" and result["gemeente_name"] == "Oss"


@pytest.mark.parametrize("text,expected", [
    ("1234 SS", messages.POSTCODE_INVALID.format(place="1234 SS")),
    ("xyzzy", messages.PLACE_UNKNOWN.format(place="xyzzy")),
    ("   ", messages.PLACE_EMPTY),
    ("'; DROP TABLE gemeente; --", messages.PLACE_UNKNOWN.format(place="'; DROP TABLE gemeente; --")),
])
def test_bad_places_get_a_clear_answer_and_the_question_again(use_db, text, expected):
    result, said, _ = validate(text)
    assert result["place"] is None
    assert said == [expected]


def test_typo_gets_suggestions_or_resolves(use_db):
    result, _, _ = validate("Amsterdm")
    assert result["gemeente_code"] == "GM0363"


def test_ten_thousand_characters_and_emoji(use_db):
    result, said, _ = validate("🙈" * 10 + "x" * 10_000)
    assert result["place"] is None and len(said) == 1 and len(said[0]) < 200


def test_abroad_is_answered_kindly_and_gets_national_services(use_db):
    result, said, _ = validate("Antwerpen")
    assert said == [messages.PLACE_ABROAD]
    assert result["place"] == "buitenland" and result["gemeente_code"] is None
    d = CollectingDispatcher()
    ActionShowServices().run(d, tracker({"needs": ["ask_vacancies"], **result}), DOMAIN)
    cards = [m["custom"] for m in d.messages if m.get("custom")]
    assert cards and all(c["scope"] == "national" for c in cards)


def test_database_down_is_said_and_nothing_is_set(monkeypatch):
    with gids_database("postgresql://postgres@127.0.0.1:1/nothing", monkeypatch):
        result, said, _ = validate("Zwolle")
        assert result == {"place": None}
        assert said == [messages.DATABASE_DOWN]
        d = CollectingDispatcher()
        events = ActionShowServices().run(d, tracker({"needs": ["ask_debt_help"], "gemeente_code": "GM0193"}), DOMAIN)
        assert events == [] and [m["text"] for m in d.messages] == [messages.DATABASE_DOWN]


def test_show_services_cards_for_the_gemeente(use_db):
    d = CollectingDispatcher()
    events = ActionShowServices().run(d, tracker({"needs": ["ask_debt_help"], "gemeente_code": "GM1952",
                                                  "place": "Hoogezand"}), DOMAIN)
    texts = [m["text"] for m in d.messages]
    assert texts[0] == messages.SERVICES_INTRO.format(topic="schulden")
    assert texts[1].startswith("Gemeente Midden-Groningen: ")
    cards = [m["custom"] for m in d.messages if m.get("custom")]
    assert cards[0]["scope"] == "gemeente" and len(cards) <= 3
    assert texts[-1] == messages.UNVERIFIED
    slots = slot_events(events)
    assert slots.pop("routed_topics") == ["ask_debt_help"]
    # The first card is who a handover goes to.
    assert (slots.pop("handover_partner_id"), slots.pop("handover_partner_name"), slots.pop("handover_topic")) == (
        "gemeente-GM1952", "Gemeente Midden-Groningen", "ask_debt_help")
    assert isinstance(slots.pop("handover_service_id"), int) and slots == {}


def test_several_needs_debts_first(use_db):
    d = CollectingDispatcher()
    ActionShowServices().run(d, tracker({"needs": ["ask_retraining", "ask_debt_help"], "gemeente_code": "GM0599"}), DOMAIN)
    texts = [m["text"] for m in d.messages]
    assert texts[0] == messages.SEVERAL_NEEDS.format(needs="schulden en omscholing of een opleiding", first="schulden")
    intros = [t for t in texts if t.startswith("Hier vind je hulp bij")]
    assert intros == [messages.SERVICES_INTRO.format(topic="schulden"),
                      messages.SERVICES_INTRO.format(topic="omscholing of een opleiding")]


def test_set_topic_remembers_needs_and_uses_an_earlier_place(use_db):
    d = CollectingDispatcher()
    # The core's NeedFinder sends every need of the message as a "need" entity, most urgent first.
    needs = [{"entity": "need", "value": "ask_debt_help", "start": 0, "end": 8},
             {"entity": "need", "value": "ask_retraining", "start": 12, "end": 21}]
    events = ActionSetTopic().run(d, tracker({"needs": ["ask_vacancies"], "location": "Zwolle"},
                                             "schulden en omscholen", "ask_retraining", entities=needs), DOMAIN)
    slots = slot_events(events)
    assert slots["needs"] == ["ask_vacancies", "ask_debt_help", "ask_retraining"]
    assert slots["topic"] == "ask_debt_help"
    assert slots["gemeente_code"] == "GM0193" and slots["place"] == "Zwolle"


def test_set_topic_without_need_entities_takes_the_intent(use_db):
    # A button payload ("/ask_debt_help") or a model without the NeedFinder: the intent alone.
    ranking = [{"name": "ask_debt_help", "confidence": 0.6}, {"name": "ask_retraining", "confidence": 0.3}]
    events = ActionSetTopic().run(CollectingDispatcher(), tracker({}, "/ask_debt_help", "ask_debt_help",
                                                                  ranking=ranking), DOMAIN)
    assert slot_events(events)["needs"] == ["ask_debt_help"]
    assert slot_events(events)["topic"] == "ask_debt_help"


def test_set_topic_with_an_ambiguous_earlier_place_prepares_the_choice(use_db):
    events = ActionSetTopic().run(CollectingDispatcher(), tracker({"location": "Bergen"}, "", "ask_vacancies"), DOMAIN)
    slots = slot_events(events)
    assert "gemeente_code" not in slots
    assert set(slots["place_candidates"]) == {"GM0373", "GM0893"}


def test_a_place_remembered_from_earlier_is_validated_as_said_then(use_db):
    d = CollectingDispatcher()
    t = tracker({"requested_slot": None}, "ik wil nederlands leren", "ask_language_help")
    result = ValidateRoutingForm().validate_place("9711 AB", d, t, DOMAIN)
    assert result["gemeente_code"] == "GM0014"
