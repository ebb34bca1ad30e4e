"""What the gids sends on WhatsApp, over real HTTP to the Graph API test server: buttons, lists and
numbered menus, partner cards, retries without doubles, and the 24-hour window."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

from bot import messages
from bot.channels import records
from bot.channels.whatsapp import CHOOSE_BY_NUMBER, utcnow
from bot.db import make_engine
from tests.channels.conftest import RecordingAgent, new_wa_id, reply_message, serve, text_message, webhook
from tests.conftest import free_port

TOPICS = [("Werk zoeken", "/ask_vacancies"), ("Iets nieuws leren", "/ask_retraining"),
          ("Schulden", "/ask_debt_help"), ("Nederlands leren", "/ask_language_help"),
          ("Uitkering", "/ask_benefits"), ("Advies over werk", "/ask_career_advice"),
          ("Ontslag", "/ask_dismissal_help"), ("Leren en werken", "/ask_apprenticeship"),
          ("Ik zoek personeel", "/employer_hiring"), ("Personeel opleiden", "/employer_training")]


def buttons(pairs):
    return [{"title": title, "payload": payload} for title, payload in pairs]


CARD = {"partner_type": "gemeente", "partner": "Gemeente Zwolle", "service": "Gratis hulp bij schulden.",
        "conditions": "Je woont in Zwolle.", "scope": "gemeente", "audience": "werkzoekende",
        "contact": {"phone": "14 038", "website": "https://www.zwolle.nl"}, "verified": False}


async def say(served, wa_id, text):
    status, _ = await served.post(webhook(messages=[text_message(wa_id, text)]))
    assert status == 200


# --- buttons ------------------------------------------------------------------------------------------

async def test_up_to_three_short_buttons_become_reply_buttons(served, graph):
    wa_id = new_wa_id()
    served.agent.answers["hoi"] = [{"text": "Wil je hulp?", "buttons": buttons([("Ja, graag", "/affirm"),
                                                                                 ("Nee, dank je", "/deny")])}]
    await say(served, wa_id, "hoi")
    [sent] = graph.delivered_to(wa_id)
    assert sent["type"] == "interactive"
    interactive = sent["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"]["text"] == "Wil je hulp?"
    assert [(b["reply"]["id"], b["reply"]["title"]) for b in interactive["action"]["buttons"]] == \
        [("/affirm", "Ja, graag"), ("/deny", "Nee, dank je")]


async def test_ten_topics_become_a_list_whose_reply_is_the_payload(served, graph):
    wa_id = new_wa_id()
    served.agent.answers["hoi"] = [{"text": "Waar kan ik je mee helpen?", "buttons": buttons(TOPICS)}]
    await say(served, wa_id, "hoi")
    [sent] = graph.delivered_to(wa_id)
    assert sent["interactive"]["type"] == "list"
    rows = sent["interactive"]["action"]["sections"][0]["rows"]
    assert [(r["title"], r["id"]) for r in rows] == TOPICS
    await served.post(webhook(messages=[reply_message(wa_id, "list_reply", "/ask_debt_help", "Schulden")]))
    assert served.agent.texts(wa_id)[-1] == "/ask_debt_help"


async def test_a_title_over_20_characters_makes_a_list_and_over_24_numbered_text(served, graph):
    wa_id = new_wa_id()
    served.agent.answers["a"] = [{"text": "Kies", "buttons": buttons([("Hulp bij je schulden nu", "/x")])}]
    served.agent.answers["b"] = [{"text": "Kies", "buttons": buttons([("Hulp bij al je schulden, nu", "/y")])}]
    await say(served, wa_id, "a")
    await say(served, wa_id, "b")
    first, second = graph.delivered_to(wa_id)
    assert first["interactive"]["type"] == "list"
    assert second["type"] == "text"
    assert second["text"]["body"] == f"Kies\n\n1. Hulp bij al je schulden, nu\n\n{CHOOSE_BY_NUMBER}"


async def test_more_than_ten_choices_are_numbered_and_a_number_means_that_choice(served, graph):
    wa_id = new_wa_id()
    places = [(f"Plaats {i}", f'/inform_location{{"gemeente_code": "GM{i:04d}"}}') for i in range(1, 13)]
    served.agent.answers["welke"] = [{"text": "Welke gemeente bedoel je?", "buttons": buttons(places)}]
    await say(served, wa_id, "welke")
    body = graph.texts_to(wa_id)[-1]
    assert body.startswith("Welke gemeente bedoel je?\n\n1. Plaats 1\n2. Plaats 2\n")
    assert "12. Plaats 12" in body
    await say(served, wa_id, " 2. ")
    assert served.agent.texts(wa_id)[-1] == places[1][1]
    # The menu was answered: a number in the next turn is just a number.
    await say(served, wa_id, "2")
    assert served.agent.texts(wa_id)[-1] == "2"


async def test_a_number_outside_the_menu_or_other_text_passes_unchanged(served):
    wa_id = new_wa_id()
    served.agent.answers["welke"] = [{"text": "Kies", "buttons": buttons(
        [(f"Keuze met een heel lange naam {i}", f"/choice_{i}") for i in range(3)])}]
    await say(served, wa_id, "welke")
    await say(served, wa_id, "7")
    assert served.agent.texts(wa_id)[-1] == "7"
    await say(served, wa_id, "welke")
    await say(served, wa_id, "ik wil 2 dingen")
    assert served.agent.texts(wa_id)[-1] == "ik wil 2 dingen"


async def test_the_numbered_menu_is_known_after_a_restart(make_channel, graph, tmp_path):
    """The last menu is read back from Rasa's tracker store (here a real SQLTrackerStore)."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    wa_id = new_wa_id()
    options = [(f"Gemeente nummer {i} in de regio", f"/choose_{i}") for i in range(1, 5)]
    answers = {"welke": [{"text": "Welke bedoel je?", "buttons": buttons(options)}]}
    tracker_db = str(tmp_path / "tracker.db")
    first = RecordingAgent(answers=answers, tracker_store=SQLTrackerStore(Domain.empty(), db=tracker_db))
    async with serve(make_channel(), first) as s:
        await say(s, wa_id, "welke")
    assert graph.texts_to(wa_id)[-1].startswith("Welke bedoel je?\n\n1. Gemeente nummer 1")
    second = RecordingAgent(answers=answers, tracker_store=SQLTrackerStore(Domain.empty(), db=tracker_db))
    async with serve(make_channel(), second) as s:
        await say(s, wa_id, "3")
    assert second.texts(wa_id) == ["/choose_3"]


# --- other kinds of bot messages -------------------------------------------------------------------

async def test_a_partner_card_is_sent_once_as_readable_text(served, graph):
    wa_id = new_wa_id()
    card_text = messages.partner_card(CARD)
    served.agent.answers["kaart"] = [{"text": card_text, "custom": {"type": "partner_card", "topic": "ask_debt_help",
                                                                   **CARD}}]
    served.agent.answers["alleen json"] = [{"custom": {"partner_card": CARD}}]
    served.agent.answers["onbekend"] = [{"custom": {"widget": "carousel", "items": [1, 2]}}]
    await say(served, wa_id, "kaart")
    await say(served, wa_id, "alleen json")
    await say(served, wa_id, "onbekend")
    assert graph.texts_to(wa_id) == [card_text, card_text]
    assert "Bel: 14 038" in card_text and "{" not in card_text


async def test_an_image_is_sent_as_a_link(served, graph):
    wa_id = new_wa_id()
    served.agent.answers["plaatje"] = [{"text": "Zo ziet het eruit.", "image": "https://example.org/kaart.png"}]
    await say(served, wa_id, "plaatje")
    first, second = graph.delivered_to(wa_id)
    assert first["text"]["body"] == "Zo ziet het eruit."
    assert "https://example.org/kaart.png" in second["text"]["body"]
    assert second["text"]["preview_url"] is True


async def test_a_very_long_text_is_split_into_whatsapp_sized_messages(served, graph):
    wa_id = new_wa_id()
    long_text = "\n\n".join(["Dit is een zin over werk. " * 40] * 8)  # about 8,300 characters
    served.agent.answers["lang"] = [{"text": long_text}]
    await say(served, wa_id, "lang")
    parts = graph.texts_to(wa_id)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == long_text.strip()


# --- retries, and nothing twice --------------------------------------------------------------------

async def test_429_is_retried_after_the_time_graph_asks(served, graph, sleeps):
    wa_id = new_wa_id()
    graph.fail_next(2, 429, retry_after="2", error_code=130429)
    await say(served, wa_id, "hoi")
    assert len(graph.attempts) == 3
    assert graph.texts_to(wa_id) == ["Dat heb ik gelezen."]
    assert sleeps.waits == [2.0, 2.0]


async def test_500_is_retried_with_growing_backoff(served, graph, sleeps):
    wa_id = new_wa_id()
    graph.fail_next(3, 500)
    await say(served, wa_id, "hoi")
    assert len(graph.attempts) == 4
    assert graph.texts_to(wa_id) == ["Dat heb ik gelezen."]
    # Backoff 0.5 s doubling, with jitter between half and all of it.
    assert len(sleeps.waits) == 3
    for wait, ceiling in zip(sleeps.waits, (0.5, 1.0, 2.0)):
        assert ceiling / 2 <= wait <= ceiling


async def test_retries_are_bounded(served, graph, sleeps, caplog):
    wa_id = new_wa_id()
    graph.fail_next(10, 503)
    await say(served, wa_id, "hoi")
    assert len(graph.attempts) == 4  # max_attempts in the test settings
    assert graph.delivered == []
    assert "not sent after 4 attempts" in caplog.text


async def test_a_retry_after_beyond_the_limit_is_not_waited_for(served, graph, sleeps):
    graph.fail_next(1, 429, retry_after="3600")
    await say(served, new_wa_id(), "hoi")
    assert len(graph.attempts) == 1 and sleeps.waits == []


async def test_other_4xx_are_not_retried_and_logged_without_personal_data(served, graph, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    wa_id = new_wa_id()
    graph.fail_next(1, 400, error_code=100)
    await say(served, wa_id, "Mijn BSN is 123456782 en ik heb schulden")
    assert len(graph.attempts) == 1 and sleeps.waits == []
    assert "Graph error code 100" in caplog.text
    assert served.channel.mask(wa_id) in caplog.text
    assert wa_id not in caplog.text
    assert "123456782" not in caplog.text and "schulden" not in caplog.text
    assert "Dat heb ik gelezen" not in caplog.text


async def test_a_timed_out_request_is_not_repeated(make_channel, graph, sleeps):
    # It may have reached Meta: sending it again could double it. The next message still goes.
    agent = RecordingAgent(default=[{"text": "Eerste."}, {"text": "Tweede."}])
    wa_id = new_wa_id()
    graph.hang_next(2)
    async with serve(make_channel(timeout_seconds=0.3), agent) as s:
        await say(s, wa_id, "hoi")
    assert [m["text"]["body"] for m in graph.attempts] == ["Eerste.", "Tweede."]
    assert graph.texts_to(wa_id) == ["Tweede."]
    assert sleeps.waits == []


async def test_an_unreachable_graph_api_is_retried_because_nothing_left(make_channel, graph, sleeps, caplog):
    dead = f"http://127.0.0.1:{free_port()}/v20.0"
    agent = RecordingAgent()
    async with serve(make_channel(graph_api_url=dead), agent) as s:
        await say(s, new_wa_id(), "hoi")
    assert len(sleeps.waits) == 3
    assert "not reachable" in caplog.text


async def test_a_wrong_access_token_is_not_retried(make_channel, graph, sleeps):
    async with serve(make_channel(access_token="expired"), RecordingAgent()) as s:
        await say(s, new_wa_id(), "hoi")
    assert graph.unauthorised == 1 and sleeps.waits == []


# --- the 24-hour customer-service window -----------------------------------------------------------

def set_last_inbound(db_url, wa_id, ago):
    engine = make_engine(db_url)
    records.touch_contact(engine, "whatsapp", wa_id, utcnow() - ago)
    engine.dispose()


async def send_turn(channel, wa_id, bot_messages):
    """A turn Rasa starts itself (reminder, trigger_intent): get_output_channel(), no inbound message."""
    output = channel.get_output_channel()
    for message in bot_messages:
        await output.send_response(wa_id, dict(message))


TURN = [{"text": "Heb je nog hulp nodig?", "buttons": buttons([("Ja", "/affirm"), ("Nee", "/deny")])},
        {"text": "Ik ben er nog."}]


async def test_inside_the_window_free_text_goes(make_channel, graph, db_url):
    wa_id = new_wa_id()
    set_last_inbound(db_url, wa_id, timedelta(hours=23))
    await send_turn(make_channel(template_name="gids_verder_praten"), wa_id, TURN)
    assert [m["type"] for m in graph.delivered_to(wa_id)] == ["interactive", "text"]


async def test_after_24_hours_the_template_goes_once_per_turn(make_channel, graph, db_url):
    wa_id = new_wa_id()
    set_last_inbound(db_url, wa_id, timedelta(hours=25))
    channel = make_channel(template_name="gids_verder_praten", template_language="nl")
    await send_turn(channel, wa_id, TURN)
    [sent] = graph.delivered_to(wa_id)
    assert sent["type"] == "template"
    assert sent["template"] == {"name": "gids_verder_praten", "language": {"code": "nl"}}
    await send_turn(channel, wa_id, TURN)  # a next turn sends it again, once
    assert [m["type"] for m in graph.delivered_to(wa_id)] == ["template", "template"]


async def test_a_person_never_seen_counts_as_outside_the_window(make_channel, graph):
    wa_id = new_wa_id()
    await send_turn(make_channel(template_name="gids_verder_praten"), wa_id, TURN)
    assert [m["type"] for m in graph.delivered_to(wa_id)] == ["template"]


async def test_after_24_hours_without_a_template_nothing_is_sent(make_channel, graph, db_url, caplog):
    wa_id = new_wa_id()
    set_last_inbound(db_url, wa_id, timedelta(hours=30))
    await send_turn(make_channel(template_name=""), wa_id, TURN)
    assert graph.attempts == []
    assert caplog.text.count("no template is configured") == 1


async def test_when_meta_says_the_window_closed_the_template_follows(graph, make_channel):
    wa_id = new_wa_id()
    graph.outside_window.add(wa_id)
    agent = RecordingAgent(default=[{"text": "Een."}, {"text": "Twee."}])
    async with serve(make_channel(template_name="gids_verder_praten"), agent) as s:
        await say(s, wa_id, "hoi")
    assert [m["type"] for m in graph.attempts] == ["text", "template"]
    assert [m["type"] for m in graph.delivered_to(wa_id)] == ["template"]


async def test_a_new_message_reopens_the_window(served, graph, db_url):
    wa_id = new_wa_id()
    set_last_inbound(db_url, wa_id, timedelta(days=3))
    await say(served, wa_id, "hoi, ben ik er weer")
    assert graph.texts_to(wa_id) == ["Dat heb ik gelezen."]


@pytest.mark.parametrize("kind", ["button_reply", "list_reply"])
async def test_a_choice_also_opens_the_window(served, graph, kind):
    wa_id = new_wa_id()
    await served.post(webhook(messages=[reply_message(wa_id, kind, "/affirm")]))
    assert graph.texts_to(wa_id) == ["Dat heb ik gelezen."]
    assert served.agent.texts(wa_id) == ["/affirm"]


async def test_logs_of_a_whole_conversation_hold_no_phone_number_or_text(served, graph, caplog):
    caplog.set_level(logging.DEBUG)
    wa_id = new_wa_id()
    served.agent.answers["welke"] = [{"text": "Kies maar", "buttons": buttons(
        [(f"Een lange keuze nummer {i} hier", f"/c{i}") for i in range(12)])}]
    graph.fail_next(1, 500)
    await say(served, wa_id, "welke")
    await say(served, wa_id, "3")
    await served.post(webhook(messages=[{"from": wa_id, "id": "wamid.x", "type": "image", "image": {}}]))
    whatsapp_logs = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot.channels"))
    assert whatsapp_logs  # the retry was logged
    assert wa_id not in whatsapp_logs and wa_id[2:] not in whatsapp_logs
    assert "Kies maar" not in whatsapp_logs and "welke" not in whatsapp_logs


async def test_a_numbered_menu_older_than_a_day_is_not_used(make_channel):
    """Straight from the tracker (as after a restart): a stale menu does not turn "2" into a choice."""
    from types import SimpleNamespace

    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import BotUttered, UserUttered

    store = InMemoryTrackerStore(Domain.empty())
    app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(tracker_store=store)))
    menu = buttons([(f"Een keuze met een lange naam {i}", f"/c{i}") for i in range(3)])
    channel = make_channel()
    for wa_id, age in ((new_wa_id(), timedelta(hours=1)), (new_wa_id(), timedelta(hours=25))):
        tracker = await store.get_or_create_tracker(wa_id)
        tracker.update(UserUttered("welke"))
        tracker.update(BotUttered("Kies", data={"buttons": menu}, timestamp=time.time() - age.total_seconds()))
        await store.save(tracker)
        expected = "/c1" if age < timedelta(hours=24) else None
        assert await channel._numbered_choice(wa_id, "2", app) == expected
