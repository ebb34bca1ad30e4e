"""The trained assistant end to end: the Rasa model with a real action server, message in,
messages out — the way a person meets the gids. Needs the model that setup.sh trains."""
from __future__ import annotations

import uuid

import pytest
import yaml

from bot import config

pytestmark = pytest.mark.model

DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())


def response_text(name: str) -> str:
    return DOMAIN["responses"][name][0]["text"]


async def say(agent, text, sender=None):
    sender = sender or f"test-{uuid.uuid4().hex}"
    return sender, await agent.handle_text(text, sender_id=sender)


def texts(messages):
    return [m.get("text") for m in messages]


async def test_first_message_gets_the_welcome_with_privacy_note_and_an_answer(agent):
    _, out = await say(agent, "ik heb schulden en ik weet niet wat ik moet doen")
    said = texts(out)
    assert said[:3] == [response_text("utter_welcome"), response_text("utter_what_i_do"),
                        response_text("utter_privacy_note")]
    assert "computer" in said[0]
    assert said[-1] == response_text("utter_topic_ask_debt_help")


@pytest.mark.parametrize("message,intent", [
    ("Geachte heer/mevrouw, ik wil graag een opleiding tot verpleegkundige volgen", "ask_retraining"),
    ("ik kan mijn huur niet meer betalen", "ask_debt_help"),
    ("waar kan ik nederlandse les krijgen", "ask_language_help"),
    ("hebben jullie vacatures voor chauffeur", "ask_vacancies"),
    ("hoe vraag ik ww aan", "ask_benefits"),
    ("ik weet niet welk werk bij mij past", "ask_career_advice"),
    ("ik ben ontslagen, mag dat zomaar", "ask_dismissal_help"),
    ("ik zoek een bbl plek in de techniek", "ask_apprenticeship"),
    ("wij zoeken personeel voor ons restaurant", "employer_hiring"),
    ("ik wil mijn medewerkers laten bijscholen", "employer_training"),
])
async def test_each_topic_gets_its_answer(agent, message, intent):
    sender, _ = await say(agent, "hallo")
    _, out = await say(agent, message, sender)
    assert texts(out) == [response_text(f"utter_topic_{intent}")]


async def test_crisis_wins_over_everything(agent):
    sender, _ = await say(agent, "ik heb schulden")
    _, out = await say(agent, "door al die schulden wil ik niet meer leven", sender)
    said = " ".join(texts(out))
    assert "113" in said and "0800-0113" in said and "112" in said


async def test_crisis_caught_by_keywords_even_inside_an_odd_message(agent):
    _, out = await say(agent, "blabla xyz zelfmoord 🙈")
    assert any("0800-0113" in t for t in texts(out))


async def test_two_stage_fallback(agent):
    sender, out = await say(agent, "qwrtz plimp vrox")
    assert texts(out)[-1] == response_text("utter_clarify")
    assert len(out[-1]["buttons"]) == 10
    _, out = await say(agent, "zzzt brrr fnorp", sender)
    assert texts(out) == [response_text("utter_offer_contact")]


@pytest.mark.parametrize("message,reason_response", [
    ("", "utter_empty_message"),
    ("     ", "utter_empty_message"),
    ("🙈🙈🙈", "utter_no_words"),
    ("مرحبا أريد عملا من فضلك", "utter_other_language"),
])
async def test_odd_input_is_answered_calmly(agent, message, reason_response):
    sender, _ = await say(agent, "hoi")
    _, out = await say(agent, message, sender)
    assert texts(out) == [response_text(reason_response), response_text("utter_clarify")]


async def test_html_is_read_as_text(agent):
    sender, _ = await say(agent, "hoi")
    _, out = await say(agent, "<b>ik heb schulden</b><script>alert('x')</script>", sender)
    assert texts(out) == [response_text("utter_topic_ask_debt_help")]


async def test_five_thousand_characters(agent):
    story = ("Ik werk al twintig jaar in de bouw en mijn rug doet steeds meer pijn. " * 80)[:5000]
    story += " Ik wil graag een opleiding doen voor ander werk."
    sender, _ = await say(agent, "hoi")
    _, out = await say(agent, story, sender)
    assert len(out) >= 1 and all(t for t in texts(out))
    assert texts(out)[0] in {response_text(f"utter_topic_{i}") for i in ("ask_retraining", "ask_career_advice")}


async def test_a_thumbs_up_is_an_answer_not_noise(agent):
    sender, _ = await say(agent, "hoi")
    _, out = await say(agent, "👍", sender)
    assert texts(out) == [response_text("utter_how_can_i_help")]


async def test_place_and_postcode_are_remembered(agent):
    sender, out = await say(agent, "ik woon in Hoogezand")
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.get_slot("location") == "Hoogezand"
    _, out = await say(agent, "mijn postcode is 9711 AB", sender)
    tracker = await agent.tracker_store.retrieve(sender)
    assert tracker.get_slot("postcode") == "9711 AB"


async def test_bot_challenge_and_human(agent):
    sender, _ = await say(agent, "hoi")
    _, out = await say(agent, "ben jij een robot?", sender)
    assert "computer" in texts(out)[0]
    _, out = await say(agent, "ik wil met een echte medewerker praten", sender)
    assert texts(out) == [response_text("utter_request_human")]
