"""What the gids sends on WhatsApp, over real HTTP to the Graph API test server: buttons, lists and
numbered menus (and a number as the answer, also after a restart, read back from the real core),
partner cards, retries without doubles, the 24-hour window, and logs without personal data."""
from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

from bot import messages
from bot.channels import records
from bot.channels.whatsapp import CHOOSE_BY_NUMBER, TEXT_ONLY, WhatsAppReplies, utcnow
from bot.db import make_engine
from tests.channels.conftest import (HOW_CAN_I_HELP, add_to_tracker, new_wa_id, past_turn_with_menu, reply_message,
                                     serve, text_message, user_events, user_texts, webhook)
from tests.conftest import free_port, tracker_events

TOPICS = [("Werk zoeken", "/ask_vacancies"), ("Iets nieuws leren", "/ask_retraining"),
          ("Schulden", "/ask_debt_help"), ("Nederlands leren", "/ask_language_help"),
          ("Uitkering", "/ask_benefits"), ("Advies over werk", "/ask_career_advice"),
          ("Ontslag", "/ask_dismissal_help"), ("Leren en werken", "/ask_apprenticeship"),
          ("Ik zoek personeel", "/employer_hiring"), ("Personeel opleiden", "/employer_training")]
# Real payloads of the gids, with titles too long for a list row: WhatsApp shows numbered text.
LONG_TOPICS = [("Ik zoek werk bij mij in de buurt", "/ask_vacancies"),
               ("Ik heb schulden en zorgen over geld", "/ask_debt_help"),
               ("Ik wil beter Nederlands leren spreken", "/ask_language_help")]


def buttons(pairs):
    return [{"title": title, "payload": payload} for title, payload in pairs]


CARD = {"partner_type": "gemeente", "partner": "Gemeente Zwolle", "service": "Gratis hulp bij schulden.",
        "conditions": "Je woont in Zwolle.", "scope": "gemeente", "audience": "werkzoekende",
        "contact": {"phone": "14 038", "website": "https://www.zwolle.nl"}, "verified": False}


async def send(channel, wa_id, bot_messages, written=None):
    """One turn's answers, as the channel sends them after the core answered a message the person
    wrote at ``written`` (default: now)."""
    replies = WhatsAppReplies(channel, inbound_at=utcnow() if written is None else written)
    for message in bot_messages:
        await replies.send_response(wa_id, dict(message))


async def say(served, wa_id, text):
    status, _ = await served.post(webhook(messages=[text_message(wa_id, text)]))
    assert status == 200


@pytest.fixture
def offline(make_channel):
    """A channel whose core is down: for what is sent, which needs no core."""
    return make_channel()


# --- buttons ------------------------------------------------------------------------------------------

async def test_up_to_three_short_buttons_become_reply_buttons(offline, graph):
    wa_id = new_wa_id()
    await send(offline, wa_id, [{"text": "Wil je hulp?", "buttons": buttons([("Ja, graag", "/affirm"),
                                                                             ("Nee, dank je", "/deny")])}])
    [sent] = graph.delivered_to(wa_id)
    assert sent["type"] == "interactive"
    interactive = sent["interactive"]
    assert interactive["type"] == "button"
    assert interactive["body"]["text"] == "Wil je hulp?"
    assert [(b["reply"]["id"], b["reply"]["title"]) for b in interactive["action"]["buttons"]] == \
        [("/affirm", "Ja, graag"), ("/deny", "Nee, dank je")]


async def test_the_ten_topics_of_the_real_gids_are_a_list_whose_reply_is_the_payload(served, graph, tracker_db):
    wa_id = new_wa_id()
    await say(served, wa_id, "hoi")
    topics = graph.delivered_to(wa_id)[-1]             # the core's last answer to "hoi"
    assert topics["type"] == "interactive" and topics["interactive"]["type"] == "list"
    assert topics["interactive"]["body"]["text"] == HOW_CAN_I_HELP
    rows = topics["interactive"]["action"]["sections"][0]["rows"]
    assert [(r["title"], r["id"]) for r in rows] == TOPICS
    await served.post(webhook(messages=[reply_message(wa_id, "list_reply", "/ask_debt_help", "Schulden")]))
    [_, chosen] = user_events(tracker_db, wa_id)
    assert chosen["text"] == "/ask_debt_help"
    assert chosen["parse_data"]["intent"]["name"] == "ask_debt_help"
    assert messages.ASK_PLACE in graph.texts_to(wa_id)


async def test_a_title_over_20_characters_makes_a_list_and_over_24_numbered_text(offline, graph):
    wa_id = new_wa_id()
    await send(offline, wa_id, [{"text": "Kies", "buttons": buttons([("Hulp bij je schulden nu", "/x")])},
                                {"text": "Kies", "buttons": buttons([("Hulp bij al je schulden, nu", "/y")])}])
    first, second = graph.delivered_to(wa_id)
    assert first["interactive"]["type"] == "list"
    assert second["type"] == "text"
    assert second["text"]["body"] == f"Kies\n\n1. Hulp bij al je schulden, nu\n\n{CHOOSE_BY_NUMBER}"


async def test_a_number_means_that_choice_of_the_numbered_menu(channel_to_core, graph, tracker_db):
    wa_id = new_wa_id()
    channel = channel_to_core()
    async with serve(channel) as s:
        await say(s, wa_id, "hoi")
        await send(channel, wa_id, [{"text": "Waar wil je hulp bij?", "buttons": buttons(LONG_TOPICS)}])
        body = graph.texts_to(wa_id)[-1]
        assert body == ("Waar wil je hulp bij?\n\n1. Ik zoek werk bij mij in de buurt\n"
                        "2. Ik heb schulden en zorgen over geld\n3. Ik wil beter Nederlands leren spreken\n\n"
                        + CHOOSE_BY_NUMBER)
        await say(s, wa_id, " 2. ")
        # The menu was answered: a number in the next turn is just a number.
        await say(s, wa_id, "2")
    said = user_events(tracker_db, wa_id)
    assert [e["text"] for e in said] == ["hoi", "/ask_debt_help", "2"]
    assert said[1]["parse_data"]["intent"]["name"] == "ask_debt_help"


async def test_more_than_ten_choices_are_numbered(offline, graph):
    wa_id = new_wa_id()
    places = [(f"Plaats {i}", f'/inform_location{{"gemeente_code": "GM{i:04d}"}}') for i in range(1, 13)]
    await send(offline, wa_id, [{"text": "Welke gemeente bedoel je?", "buttons": buttons(places)}])
    body = graph.texts_to(wa_id)[-1]
    assert body.startswith("Welke gemeente bedoel je?\n\n1. Plaats 1\n2. Plaats 2\n")
    assert "12. Plaats 12" in body
    _, payloads = offline.menus.get(wa_id)
    assert payloads == [payload for _, payload in places]


async def test_a_number_outside_the_menu_or_other_text_passes_unchanged(channel_to_core, graph, tracker_db):
    wa_id = new_wa_id()
    channel = channel_to_core()
    async with serve(channel) as s:
        await send(channel, wa_id, [{"text": "Kies", "buttons": buttons(LONG_TOPICS)}])
        await say(s, wa_id, "7")
        await send(channel, wa_id, [{"text": "Kies", "buttons": buttons(LONG_TOPICS)}])
        await say(s, wa_id, "ik wil 2 dingen")
        await send(channel, wa_id, [{"text": "Kies", "buttons": buttons(LONG_TOPICS)}])
        await say(s, wa_id, "0")
    assert user_texts(tracker_db, wa_id) == ["7", "ik wil 2 dingen", "0"]


async def test_the_numbered_menu_is_known_after_a_restart(channel_to_core, graph, tracker_db):
    """A new gateway process knows nothing: it asks the core for the last bot message, which has
    the menu's buttons in its tracker. The trained gids never sends more than ten choices, so the
    menu is put in the core's tracker as Rasa stores a bot message."""
    wa_id = new_wa_id()
    async with serve(channel_to_core()) as before:
        await say(before, wa_id, "hoi")
    menu = past_turn_with_menu("welke hulp is er", "Waar wil je hulp bij?", buttons(LONG_TOPICS), time.time())
    add_to_tracker(tracker_db, wa_id, menu[2:])          # the gids's message and listen, not the person's
    async with serve(channel_to_core()) as after:      # a restart: a new channel, the same core
        await say(after, wa_id, "3")
    said = user_events(tracker_db, wa_id)
    assert [e["text"] for e in said] == ["hoi", "/ask_language_help"]
    assert said[-1]["parse_data"]["intent"]["name"] == "ask_language_help"


async def test_after_a_restart_a_list_is_no_numbered_menu(channel_to_core, graph, tracker_db):
    """The topics went out as a WhatsApp list: its reply is the payload, so "2" is just "2"."""
    wa_id = new_wa_id()
    async with serve(channel_to_core()) as before:
        await say(before, wa_id, "hoi")
    assert graph.delivered_to(wa_id)[-1]["interactive"]["type"] == "list"
    async with serve(channel_to_core()) as after:
        await say(after, wa_id, "2")
    assert user_texts(tracker_db, wa_id) == ["hoi", "2"]


@pytest.mark.parametrize("age,expected", [(timedelta(minutes=1), "/ask_debt_help"),
                                          (timedelta(hours=23), "/ask_debt_help"),
                                          (timedelta(hours=25), "2")])
async def test_a_numbered_menu_older_than_a_day_is_not_used(channel_to_core, tracker_db, age, expected):
    """Straight from the core's tracker (as after a restart): a stale menu does not turn "2" into a choice."""
    wa_id = new_wa_id()
    add_to_tracker(tracker_db, wa_id, past_turn_with_menu("welke hulp is er", "Kies maar", buttons(LONG_TOPICS),
                                                          time.time() - age.total_seconds()))
    async with serve(channel_to_core()) as s:
        await say(s, wa_id, "2")
    assert user_texts(tracker_db, wa_id) == ["welke hulp is er", expected]


async def test_without_the_core_a_number_after_a_restart_is_not_lost(make_channel, channel_to_core, tracker_db):
    """The core cannot say what the last menu was (it is down): the message is not handled yet,
    and Meta's redelivery, with the core back, still gets its choice."""
    wa_id = new_wa_id()
    add_to_tracker(tracker_db, wa_id, past_turn_with_menu("welke hulp is er", "Kies maar", buttons(LONG_TOPICS),
                                                          time.time()))
    delivery = webhook(messages=[text_message(wa_id, "1")])
    async with serve(make_channel()) as down:
        assert (await down.post(delivery))[0] == 503
    async with serve(channel_to_core()) as up:
        assert (await up.post(delivery))[0] == 200
    assert user_texts(tracker_db, wa_id) == ["welke hulp is er", "/ask_vacancies"]


# --- other kinds of bot messages -------------------------------------------------------------------

async def test_a_partner_card_is_sent_once_as_readable_text(offline, graph):
    wa_id = new_wa_id()
    card_text = messages.partner_card(CARD)
    await send(offline, wa_id, [{"text": card_text, "custom": {"type": "partner_card", "topic": "ask_debt_help",
                                                               **CARD}},
                                {"custom": {"partner_card": CARD}},
                                {"custom": {"widget": "carousel", "items": [1, 2]}}])
    assert graph.texts_to(wa_id) == [card_text, card_text]
    assert "Bel: 14 038" in card_text and "{" not in card_text


async def test_the_real_partner_cards_arrive_once_each_as_text(served, graph):
    wa_id = new_wa_id()
    for line in ("ik heb schulden", "Hoogezand"):
        await say(served, wa_id, line)
    texts = graph.texts_to(wa_id)
    cards = [t for t in texts if t.startswith("Gemeente Midden-Groningen: ")]
    assert len(cards) == 1
    assert not any(t.lstrip().startswith("{") for t in texts)


async def test_an_image_and_an_attachment_are_sent_as_links(offline, graph):
    wa_id = new_wa_id()
    await send(offline, wa_id, [{"text": "Zo ziet het eruit.", "image": "https://example.org/kaart.png"},
                                {"attachment": {"url": " https://example.org/folder.pdf "}}])
    first, second, third = graph.delivered_to(wa_id)
    assert first["text"]["body"] == "Zo ziet het eruit."
    assert "https://example.org/kaart.png" in second["text"]["body"]
    assert second["text"]["preview_url"] is True
    assert "https://example.org/folder.pdf" in third["text"]["body"]


async def test_a_very_long_text_is_split_into_whatsapp_sized_messages(offline, graph):
    wa_id = new_wa_id()
    long_text = "\n\n".join(["Dit is een zin over werk. " * 40] * 8)  # about 8,300 characters
    await send(offline, wa_id, [{"text": long_text}])
    parts = graph.texts_to(wa_id)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "\n\n".join(parts) == long_text.strip()


# --- retries, and nothing twice --------------------------------------------------------------------

ONE = [{"text": "Dat heb ik gelezen."}]


async def test_429_is_retried_after_the_time_graph_asks(offline, graph, sleeps):
    wa_id = new_wa_id()
    graph.fail_next(2, 429, retry_after="2", error_code=130429)
    await send(offline, wa_id, ONE)
    assert len(graph.attempts) == 3
    assert graph.texts_to(wa_id) == ["Dat heb ik gelezen."]
    assert sleeps.waits == [2.0, 2.0]


async def test_500_is_retried_with_growing_backoff(offline, graph, sleeps):
    wa_id = new_wa_id()
    graph.fail_next(3, 500)
    await send(offline, wa_id, ONE)
    assert len(graph.attempts) == 4
    assert graph.texts_to(wa_id) == ["Dat heb ik gelezen."]
    # Backoff 0.5 s doubling, with jitter between half and all of it.
    assert len(sleeps.waits) == 3
    for wait, ceiling in zip(sleeps.waits, (0.5, 1.0, 2.0)):
        assert ceiling / 2 <= wait <= ceiling


async def test_a_graph_error_during_a_real_turn_is_retried_and_every_answer_goes_once_in_order(
        served, graph, sleeps, tracker_db):
    wa_id = new_wa_id()
    graph.fail_next(1, 503)
    graph.fail_next(1, 400, error_code=131056)   # "too many messages to this person": retried too
    await say(served, wa_id, "ik heb schulden")
    bot = [e["text"] for e in tracker_events(tracker_db, wa_id) if e["event"] == "bot" and e.get("text")]
    sent = [m["text"]["body"] if m["type"] == "text" else m["interactive"]["body"]["text"]
            for m in graph.delivered_to(wa_id)]
    assert sent == bot
    assert len(graph.attempts) == len(bot) + 2 and len(sleeps.waits) == 2


async def test_retries_are_bounded(offline, graph, sleeps, caplog):
    wa_id = new_wa_id()
    graph.fail_next(10, 503)
    await send(offline, wa_id, ONE)
    assert len(graph.attempts) == 4  # max_attempts in the test settings
    assert graph.delivered == []
    assert "not sent after 4 attempts" in caplog.text


async def test_a_retry_after_beyond_the_limit_is_not_waited_for(offline, graph, sleeps):
    graph.fail_next(1, 429, retry_after="3600")
    await send(offline, new_wa_id(), ONE)
    assert len(graph.attempts) == 1 and sleeps.waits == []


async def test_other_4xx_are_not_retried_and_logged_without_personal_data(served, graph, sleeps, caplog,
                                                                          tracker_db):
    caplog.set_level(logging.DEBUG)
    wa_id = new_wa_id()
    graph.fail_next(1, 400, error_code=100)
    await say(served, wa_id, "Mijn BSN is 123456782 en ik heb schulden")
    assert graph.attempts[0] not in graph.delivered                 # the first answer: refused, not retried
    assert len(graph.attempts) == len(graph.delivered) + 1
    assert sleeps.waits == []
    assert "Graph error code 100" in caplog.text
    assert served.channel.mask(wa_id) in caplog.text
    assert wa_id not in caplog.text and wa_id[2:] not in caplog.text
    assert "123456782" not in caplog.text and "schulden" not in caplog.text
    assert graph.attempts[0]["text"]["body"] not in caplog.text


async def test_a_timed_out_request_is_not_repeated(make_channel, graph, sleeps):
    # It may have reached Meta: sending it again could double it. The next message still goes.
    wa_id = new_wa_id()
    graph.hang_next(2)
    await send(make_channel(timeout_seconds=0.3), wa_id, [{"text": "Eerste."}, {"text": "Tweede."}])
    assert [m["text"]["body"] for m in graph.attempts] == ["Eerste.", "Tweede."]
    assert graph.texts_to(wa_id) == ["Tweede."]
    assert sleeps.waits == []


async def test_a_504_from_a_proxy_is_not_repeated(offline, graph, sleeps, caplog):
    wa_id = new_wa_id()
    graph.fail_next(1, 504)
    await send(offline, wa_id, [{"text": "Eerste."}, {"text": "Tweede."}])
    assert [m["text"]["body"] for m in graph.attempts] == ["Eerste.", "Tweede."]
    assert sleeps.waits == [] and "delivery unknown" in caplog.text


async def test_an_unreachable_graph_api_is_retried_because_nothing_left(make_channel, sleeps, caplog):
    dead = f"http://127.0.0.1:{free_port()}/v25.0"
    await send(make_channel(graph_api_url=dead), new_wa_id(), ONE)
    assert len(sleeps.waits) == 3
    assert "not reachable" in caplog.text


async def test_a_wrong_access_token_is_not_retried(make_channel, graph, sleeps):
    await send(make_channel(access_token="expired"), new_wa_id(), ONE)
    assert graph.unauthorised == 1 and sleeps.waits == []


async def test_without_credentials_nothing_is_sent(make_channel, graph, caplog):
    await send(make_channel(access_token=""), new_wa_id(), ONE)
    assert graph.attempts == [] and graph.unauthorised == 0
    assert "WHATSAPP_ACCESS_TOKEN not set" in caplog.text


# --- the 24-hour customer-service window -----------------------------------------------------------

def set_last_inbound(db_url, wa_id, ago):
    engine = make_engine(db_url)
    records.touch_contact(engine, "whatsapp", wa_id, utcnow() - ago)
    engine.dispose()


TURN = [{"text": "Heb je nog hulp nodig?", "buttons": buttons([("Ja", "/affirm"), ("Nee", "/deny")])},
        {"text": "Ik ben er nog."}]


async def test_inside_the_window_free_text_goes(make_channel, graph, wa_db):
    wa_id = new_wa_id()
    set_last_inbound(wa_db, wa_id, timedelta(hours=23))
    await send(make_channel(template_name="gids_verder_praten"), wa_id, TURN, utcnow() - timedelta(hours=23))
    assert [m["type"] for m in graph.delivered_to(wa_id)] == ["interactive", "text"]


async def test_after_24_hours_the_template_goes_once_per_turn(make_channel, graph, wa_db):
    wa_id = new_wa_id()
    written = utcnow() - timedelta(hours=25)
    set_last_inbound(wa_db, wa_id, timedelta(hours=25))
    channel = make_channel(template_name="gids_verder_praten", template_language="nl")
    await send(channel, wa_id, TURN, written)
    [sent] = graph.delivered_to(wa_id)
    assert sent["type"] == "template"
    assert sent["template"] == {"name": "gids_verder_praten", "language": {"code": "nl"}}
    await send(channel, wa_id, TURN, written)  # a next turn sends it again, once
    assert [m["type"] for m in graph.delivered_to(wa_id)] == ["template", "template"]


async def test_a_person_never_seen_counts_as_outside_the_window(make_channel, graph):
    wa_id = new_wa_id()
    replies = WhatsAppReplies(make_channel(template_name="gids_verder_praten"))   # no message to answer
    for message in TURN:
        await replies.send_response(wa_id, dict(message))
    assert [m["type"] for m in graph.delivered_to(wa_id)] == ["template"]


async def test_after_24_hours_without_a_template_nothing_is_sent(make_channel, graph, wa_db, caplog):
    wa_id = new_wa_id()
    set_last_inbound(wa_db, wa_id, timedelta(hours=30))
    await send(make_channel(template_name=""), wa_id, TURN, utcnow() - timedelta(hours=30))
    assert graph.attempts == []
    assert caplog.text.count("no template is configured") == 1


@pytest.mark.parametrize("hours,expected", [(23, "free text"), (25, "template")])
async def test_a_message_meta_delivers_a_day_late_is_answered_inside_the_window_only(
        channel_to_core, graph, tracker_db, hours, expected):
    """Meta redelivers for days (the core was down): the answer to a message written 25 hours ago
    may only be the template. The core still had the turn."""
    wa_id = new_wa_id()
    written = int(time.time()) - hours * 3600
    async with serve(channel_to_core(template_name="gids_verder_praten")) as s:
        status, _ = await s.post(webhook(messages=[text_message(wa_id, "ik heb schulden", timestamp=written)]))
    assert status == 200
    assert user_texts(tracker_db, wa_id) == ["ik heb schulden"]
    kinds = [m["type"] for m in graph.delivered_to(wa_id)]
    if expected == "template":
        assert kinds == ["template"]
    else:
        assert kinds and "template" not in kinds


async def test_a_late_message_is_in_the_window_when_the_person_wrote_since(channel_to_core, graph, wa_db):
    wa_id = new_wa_id()
    set_last_inbound(wa_db, wa_id, timedelta(minutes=5))
    async with serve(channel_to_core(template_name="gids_verder_praten")) as s:
        await s.post(webhook(messages=[text_message(wa_id, "hoi", timestamp=int(time.time()) - 26 * 3600)]))
    kinds = {m["type"] for m in graph.delivered_to(wa_id)}
    assert kinds and "template" not in kinds


async def test_when_meta_says_the_window_closed_the_template_follows(channel_to_core, graph, tracker_db):
    wa_id = new_wa_id()
    graph.outside_window.add(wa_id)
    async with serve(channel_to_core(template_name="gids_verder_praten")) as s:
        await say(s, wa_id, "hoi")
    assert [m["type"] for m in graph.attempts] == ["text", "template"]   # the rest of the turn: not tried
    assert [m["type"] for m in graph.delivered_to(wa_id)] == ["template"]
    assert user_texts(tracker_db, wa_id) == ["hoi"]


async def test_a_new_message_reopens_the_window(served, graph, wa_db):
    wa_id = new_wa_id()
    set_last_inbound(wa_db, wa_id, timedelta(days=3))
    await say(served, wa_id, "hoi, ben ik er weer")
    kinds = [m["type"] for m in graph.delivered_to(wa_id)]
    assert kinds and "template" not in kinds


@pytest.mark.parametrize("kind", ["button_reply", "list_reply"])
async def test_a_choice_also_opens_the_window(channel_to_core, graph, tracker_db, kind):
    wa_id = new_wa_id()
    async with serve(channel_to_core(template_name="gids_verder_praten")) as s:
        await s.post(webhook(messages=[reply_message(wa_id, kind, "/ask_debt_help")]))
    assert messages.ASK_PLACE in graph.texts_to(wa_id)
    assert "template" not in {m["type"] for m in graph.delivered_to(wa_id)}
    assert user_texts(tracker_db, wa_id) == ["/ask_debt_help"]


async def test_with_the_database_down_the_window_of_a_message_being_answered_is_open(make_channel, graph):
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/gids"
    channel = make_channel(db=unreachable, template_name="gids_verder_praten")
    wa_id = new_wa_id()
    await send(channel, wa_id, ONE)                               # the message was written just now
    assert graph.texts_to(wa_id) == ["Dat heb ik gelezen."]
    other = new_wa_id()
    await send(channel, other, ONE, utcnow() - timedelta(hours=30))   # written long ago: the template
    assert [m["type"] for m in graph.delivered_to(other)] == ["template"]


# --- logs ---------------------------------------------------------------------------------------------

async def test_logs_of_a_whole_conversation_hold_no_phone_number_or_text(served, graph, caplog, tracker_db):
    caplog.set_level(logging.DEBUG)
    wa_id = new_wa_id()
    said = ["ik heb schulden", "Hoogezand", "Mijn naam is Sanne de Vries"]
    graph.fail_next(1, 500)
    for text in said:
        await say(served, wa_id, text)
    # Meta's message ids encode the number (base64); here it is in plain sight, so a logged id shows.
    await served.post(webhook(messages=[{"from": wa_id, "id": "wamid.x" + wa_id, "type": "image", "image": {}}]))
    await send(served.channel, wa_id, [{"text": "Kies", "buttons": buttons(LONG_TOPICS)}])
    await say(served, wa_id, "2")
    assert TEXT_ONLY in graph.texts_to(wa_id)
    logs = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "attempt 1 of 4" in logs          # the retry was logged
    assert wa_id not in logs and wa_id[2:] not in logs and wa_id[-8:] not in logs
    for text in said + [m["text"]["body"] for m in graph.delivered_to(wa_id) if m["type"] == "text"]:
        assert text not in logs, text
    assert "Sanne" not in logs and "Hoogezand" not in logs and "/ask_debt_help" not in logs
