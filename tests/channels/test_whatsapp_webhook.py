"""The gateway's WhatsApp webhook over real HTTP: Meta's handshake, signatures, what reaches the
real core (read back from its tracker store), and that a delivery Meta repeats is handled once,
also after a restart and across two gateways sharing one database; the core or the database down
means 503 and nothing recorded; caps and rates keep messages from the core."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest

from bot import messages
from bot.privacy import redact
from bot.channels.whatsapp import TEXT_ONLY, WhatsAppChannel
from bot.gateway.app import GatewaySettings, make_app
from bot.gateway.limits import MAX_MESSAGE_CHARS, MAX_WEBHOOK_BYTES, RateLimiter
from tests.channels.conftest import (APP_SECRET, HOW_CAN_I_HELP, VERIFY_TOKEN, contact_time, media_message, message_ids,
                                     new_message_id, new_wa_id, reply_message, seen_ids, serve, serve_app, settings,
                                     sign, status_update, text_message, user_events, user_texts, webhook)
from tests.conftest import CORE_TOKEN, free_port, tracker_events


def bodies(graph, wa_id):
    """What the person read, in order: text bodies, the body of interactive messages, template names."""
    out = []
    for m in graph.delivered_to(wa_id):
        if m["type"] == "text":
            out.append(m["text"]["body"])
        elif m["type"] == "interactive":
            out.append(m["interactive"]["body"]["text"])
        else:
            out.append(f"template {m['template']['name']}")
    return out


def turns(tracker_db, wa_id):
    """The core's turns in this conversation: (what the person said, the gids's texts). A new
    session's greeting (action_session_start runs before the person's message is logged) belongs
    to the turn that follows it."""
    out, greeting, starting = [], [], False
    for event in tracker_events(tracker_db, wa_id):
        if event["event"] == "action" and event.get("name") == "action_session_start":
            starting = True
        elif event["event"] == "user":
            out.append((event["text"], greeting))
            greeting, starting = [], False
        elif event["event"] == "bot" and event.get("text"):
            if starting or not out:
                greeting.append(event["text"])
            else:
                out[-1][1].append(event["text"])
    return out


def bot_texts(tracker_db, wa_id):
    return [text for _, said in turns(tracker_db, wa_id) for text in said]


def as_stored(texts):
    """What the redacting tracker store keeps of sent texts: a partner card's e-mail address
    reaches the person but is stored as "[e-mailadres]" like every other address."""
    return [redact(t) for t in texts]


# --- verification handshake ------------------------------------------------------------------------

@pytest.fixture
async def offline(make_channel):
    """The webhook with its core down: anything that reached for the core would get a 503."""
    async with serve(make_channel()) as s:
        yield s


async def test_the_handshake_echoes_the_challenge_for_the_right_token(offline):
    status, body = await offline.get({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                      "hub.challenge": "1158201444"})
    assert (status, body) == (200, "1158201444")
    assert await offline.get({}, path="/webhooks/whatsapp/") == (200, '{"status": "ok"}')


async def test_the_handshake_is_refused_for_a_wrong_token_or_mode(offline):
    good = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    for params in ({**good, "hub.verify_token": "guessed"},
                   {**good, "hub.verify_token": VERIFY_TOKEN + "x"},
                   {**good, "hub.verify_token": APP_SECRET},
                   {**good, "hub.mode": "unsubscribe"},
                   {"hub.mode": "subscribe", "hub.challenge": "42"},
                   {}):
        status, body = await offline.get(params)
        assert status == 403, params
        assert "42" not in body
    # A challenge is a short number; an echo of anything long is refused.
    status, body = await offline.get({**good, "hub.challenge": "4" * 201})
    assert status == 403 and "4" * 201 not in body


async def test_without_a_configured_verify_token_nothing_verifies(make_channel):
    async with serve(make_channel(verify_token="")) as s:
        status, _ = await s.get({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "7"})
    assert status == 403


# --- signatures and bad bodies -----------------------------------------------------------------------

async def test_missing_or_forged_signatures_are_refused_and_nothing_is_processed(served, graph, tracker_db, wa_db):
    wa_id = new_wa_id()
    delivery = webhook(messages=[text_message(wa_id, "ik heb schulden")])
    body = json.dumps(delivery).encode()
    other = json.dumps(webhook(messages=[text_message(wa_id, "iets anders")])).encode()
    attempts = [
        None,                                       # no header at all
        sign(body, "not-the-app-secret"),           # signed with another secret
        sign(other),                                # a real signature of another body
        sign(body).replace("sha256=", "sha1="),     # wrong scheme
        "sha256=",                                  # empty
        "sha256=" + "é" * 64,                       # not even hex
        sign(body)[:-1],                            # one character short
    ]
    for signature in attempts:
        status, _ = await served.post(None, raw=body, signature=signature)
        assert status == 403, signature
    assert tracker_events(tracker_db, wa_id) == []
    assert graph.attempts == []
    assert seen_ids(wa_db, message_ids(delivery)) == []
    assert contact_time(wa_db, wa_id) is None
    # The refused message was not recorded as seen: signed properly it is handled.
    status, _ = await served.post(None, raw=body)
    assert status == 200
    assert user_texts(tracker_db, wa_id) == ["ik heb schulden"]
    assert seen_ids(wa_db, message_ids(delivery)) == message_ids(delivery)


async def test_the_signature_is_checked_on_the_raw_bytes(served, tracker_db):
    wa_id = new_wa_id()
    # The same JSON with other spacing has another signature; what Meta signed is what counts.
    raw = json.dumps(webhook(messages=[text_message(wa_id, "hoi")]), indent=2).encode()
    status, _ = await served.post(None, raw=raw, signature=sign(json.dumps(json.loads(raw)).encode()))
    assert status == 403
    assert tracker_events(tracker_db, wa_id) == []
    status, _ = await served.post(None, raw=raw, signature=sign(raw))
    assert status == 200
    assert user_texts(tracker_db, wa_id) == ["hoi"]


async def test_app_secret_is_not_the_verify_token(served, tracker_db):
    # A body signed with the verify token (a common mix-up) is refused.
    wa_id = new_wa_id()
    body = json.dumps(webhook(messages=[text_message(wa_id, "hoi")])).encode()
    assert (await served.post(None, raw=body, signature=sign(body, VERIFY_TOKEN)))[0] == 403
    assert tracker_events(tracker_db, wa_id) == []
    assert (await served.post(None, raw=body, signature=sign(body, APP_SECRET)))[0] == 200
    assert user_texts(tracker_db, wa_id) == ["hoi"]


async def test_a_body_that_is_not_json_gets_400(offline, graph):
    for raw in (b"{not json", b"\xff\xfe\x00", b""):
        status, body = await offline.post(None, raw=raw)
        assert status == 400, raw
        assert "JSON" in body
    for value in ([1, 2, 3], "text", 5, None):
        status, _ = await offline.post(value)
        assert status == 400, value
    assert graph.attempts == []


async def test_a_body_over_the_webhook_limit_gets_413(offline, graph):
    wa_id = new_wa_id()
    padding = "x" * MAX_WEBHOOK_BYTES
    delivery = webhook(messages=[text_message(wa_id, "hoi")])
    delivery["padding"] = padding
    status, _ = await offline.post(delivery)   # properly signed, still too large
    assert status == 413
    assert graph.attempts == []


async def test_without_an_app_secret_every_post_is_refused(channel_to_core, tracker_db):
    wa_id = new_wa_id()
    async with serve(channel_to_core(app_secret="")) as s:
        body = json.dumps(webhook(messages=[text_message(wa_id, "hoi")])).encode()
        for signature in (None, sign(body, ""), sign(body)):
            status, _ = await s.post(None, raw=body, signature=signature)
            assert status == 403
    assert tracker_events(tracker_db, wa_id) == []


# --- what reaches the core ---------------------------------------------------------------------------

async def test_a_text_message_reaches_the_core_as_the_person_and_the_answers_go_back(served, graph, tracker_db,
                                                                                    wa_db):
    wa_id, message_id = new_wa_id(), new_message_id()
    written = int(time.time()) - 30
    status, _ = await served.post(webhook(messages=[text_message(wa_id, "Ik zoek werk in Zwolle",
                                                                 message_id, timestamp=written)]))
    assert status == 200
    # The core's conversation is the wa_id itself.
    [said] = user_events(tracker_db, wa_id)
    assert said["text"] == "Ik zoek werk in Zwolle"
    assert said["input_channel"] == "whatsapp"
    assert said["metadata"]["channel"] == "whatsapp"
    assert said["message_id"] == message_id
    assert said["parse_data"]["intent"]["name"] == "ask_vacancies"
    # Every answer of the turn went to the person through the Graph API, in the core's order.
    assert graph.unauthorised == 0
    sent = graph.delivered_to(wa_id)
    assert sent and all(m["messaging_product"] == "whatsapp" for m in sent)
    assert as_stored(bodies(graph, wa_id)) == bot_texts(tracker_db, wa_id)
    assert messages.PLACE_FOUND.format(gemeente="Zwolle", region="Zwolle") in bodies(graph, wa_id)
    # The 24-hour window starts when the person wrote; the message is recorded as handled.
    assert contact_time(wa_db, wa_id) == datetime.fromtimestamp(written, timezone.utc).replace(tzinfo=None)
    assert seen_ids(wa_db, [message_id]) == [message_id]


async def test_button_and_list_replies_give_the_core_the_payload_itself(served, tracker_db):
    wa_id = new_wa_id()
    await served.post(webhook(messages=[text_message(wa_id, "hoi")]))
    # The title says something else: the core must get the payload, not a guess from the title.
    await served.post(webhook(messages=[reply_message(wa_id, "list_reply", "/ask_language_help", "Schulden")]))
    await served.post(webhook(messages=[reply_message(wa_id, "button_reply", "/ask_debt_help", "Nederlands leren")]))
    said = user_events(tracker_db, wa_id)
    assert [e["text"] for e in said] == ["hoi", "/ask_language_help", "/ask_debt_help"]
    assert [e["parse_data"]["intent"]["name"] for e in said[1:]] == ["ask_language_help", "ask_debt_help"]


async def test_status_callbacks_are_ignored(offline, graph, wa_db):
    wa_id = new_wa_id()
    for status_name in ("sent", "delivered", "read", "failed"):
        status, _ = await offline.post(webhook(statuses=[status_update(wa_id, status_name)]))
        assert status == 200           # the core is down: 200 means nobody asked it anything
    assert graph.attempts == []
    assert contact_time(wa_db, wa_id) is None


async def test_images_audio_locations_get_a_short_answer_that_the_gids_reads_text(offline, graph, wa_db):
    wa_id = new_wa_id()
    sent = [media_message(wa_id, kind) for kind in ("image", "audio", "location", "sticker", "document")]
    for message in sent:
        status, _ = await offline.post(webhook(messages=[message]))
        assert status == 200           # answered without the core (which is down)
    assert graph.texts_to(wa_id) == [TEXT_ONLY] * 5
    assert contact_time(wa_db, wa_id) is not None  # writing anything opens the 24-hour window
    # Handled is handled: Meta's redelivery gets no second answer.
    assert (await offline.post(webhook(messages=sent[:1])))[0] == 200
    assert graph.texts_to(wa_id) == [TEXT_ONLY] * 5
    assert seen_ids(wa_db, [m["id"] for m in sent]) == sorted(m["id"] for m in sent)


async def test_a_reaction_gets_no_answer(offline, graph):
    wa_id = new_wa_id()
    reaction = {"from": wa_id, "id": new_message_id(), "timestamp": str(int(time.time())),
                "type": "reaction", "reaction": {"message_id": "wamid.x", "emoji": "👍"}}
    assert (await offline.post(webhook(messages=[reaction])))[0] == 200
    assert graph.attempts == []


async def test_messages_for_another_phone_number_of_the_app_are_left_alone(offline, graph, wa_db):
    wa_id = new_wa_id()
    delivery = webhook(messages=[text_message(wa_id, "hoi")], phone_number_id="999")
    status, _ = await offline.post(delivery)
    assert status == 200
    assert graph.attempts == []
    assert seen_ids(wa_db, message_ids(delivery)) == [] and contact_time(wa_db, wa_id) is None


async def test_several_messages_in_one_delivery_reach_the_core_in_order(served, graph, tracker_db):
    wa_id, other = new_wa_id(), new_wa_id()
    texts = ["hoi", "ik heb schulden", "ik woon in Zwolle", "dank je"]
    batch = [text_message(wa_id, t) for t in texts]
    batch.insert(2, text_message(other, "ik zoek werk"))
    assert (await served.post(webhook(messages=batch)))[0] == 200
    assert user_texts(tracker_db, wa_id) == texts
    assert user_texts(tracker_db, other) == ["ik zoek werk"]
    # The answers too: one turn's answers after the other, as the core gave them.
    assert as_stored(bodies(graph, wa_id)) == bot_texts(tracker_db, wa_id)
    assert as_stored(bodies(graph, other)) == bot_texts(tracker_db, other)


async def test_a_later_message_time_never_moves_back(served, wa_db):
    wa_id = new_wa_id()
    now = int(time.time())
    await served.post(webhook(messages=[text_message(wa_id, "hoi", timestamp=now - 10)]))
    await served.post(webhook(messages=[text_message(wa_id, "dank je", timestamp=now - 3600)]))
    expected = datetime.fromtimestamp(now - 10, timezone.utc).replace(tzinfo=None)
    assert contact_time(wa_db, wa_id) == expected
    # A sender clock in the future does not stretch the window.
    await served.post(webhook(messages=[text_message(wa_id, "doei", timestamp=now + 86400)]))
    assert contact_time(wa_db, wa_id) < datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=5)


# --- handled once ------------------------------------------------------------------------------------

async def test_a_repeated_delivery_is_handled_once_also_after_a_restart(channel_to_core, graph, tracker_db,
                                                                         wa_db):
    wa_id = new_wa_id()
    delivery = webhook(messages=[text_message(wa_id, "ik heb schulden")])
    async with serve(channel_to_core()) as s:
        assert (await s.post(delivery))[0] == 200
        answered = bodies(graph, wa_id)
        assert answered
        assert (await s.post(delivery))[0] == 200   # Meta retries when our 200 got lost
    # A new process: a new channel, a new app, the same database.
    async with serve(channel_to_core()) as s:
        assert (await s.post(delivery))[0] == 200
    assert user_texts(tracker_db, wa_id) == ["ik heb schulden"]
    assert bodies(graph, wa_id) == answered and as_stored(answered) == bot_texts(tracker_db, wa_id)


async def test_a_redelivery_to_another_gateway_sharing_the_database_is_skipped(db_url, channel_to_core, graph,
                                                                                tracker_db):
    """Two replicas on one gids database (SQLite and PostgreSQL): Meta's second delivery of the
    same messages reaches the other replica, which skips them."""
    people = [new_wa_id() for _ in range(4)]
    deliveries = [webhook(messages=[text_message(wa_id, "ik zoek werk")]) for wa_id in people]
    async with serve(channel_to_core(db=db_url)) as a, serve(channel_to_core(db=db_url)) as b:
        for delivery in deliveries:
            assert (await a.post(delivery))[0] == 200
        sent = len(graph.delivered)
        for delivery in deliveries:
            assert (await b.post(delivery))[0] == 200
    assert len(graph.delivered) == sent
    for wa_id in people:
        assert user_texts(tracker_db, wa_id) == ["ik zoek werk"]
        assert as_stored(bodies(graph, wa_id)) == bot_texts(tracker_db, wa_id)
    ids = [i for d in deliveries for i in message_ids(d)]
    assert seen_ids(db_url, ids) == sorted(ids)


async def test_two_gateways_receiving_the_same_delivery_at_once(db_url, channel_to_core, graph, tracker_db,
                                                               caplog):
    """At the same moment on two replicas: the message is recorded once, and the person gets one
    turn's answers, never two. (Both replicas may have asked the core: a message is recorded
    only after the core answered, so that a crash never loses one.)"""
    caplog.set_level(logging.WARNING)
    people = [new_wa_id() for _ in range(8)]
    deliveries = [webhook(messages=[text_message(wa_id, f"vraag {i} over werk")]) for i, wa_id in enumerate(people)]
    async with serve(channel_to_core(db=db_url)) as a, serve(channel_to_core(db=db_url)) as b:
        for delivery in deliveries:
            answers = await asyncio.gather(a.post(delivery, drain=False), b.post(delivery, drain=False))
            assert [status for status, _ in answers] == [200, 200]
        assert await a.channel.drain(120) and await b.channel.drain(120)
    doubled = 0
    for i, wa_id in enumerate(people):
        core_turns = turns(tracker_db, wa_id)
        assert [said for said, _ in core_turns] in ([f"vraag {i} over werk"], [f"vraag {i} over werk"] * 2)
        doubled += len(core_turns) - 1
        assert bodies(graph, wa_id) in [answers for _, answers in core_turns]
    ids = [i for d in deliveries for i in message_ids(d)]
    assert seen_ids(db_url, ids) == sorted(ids)
    assert caplog.text.count("was handled twice") == doubled


# --- the core or the database down --------------------------------------------------------------------

async def test_a_message_is_recorded_only_after_the_core_answered(make_channel, channel_to_core, graph,
                                                                   tracker_db, wa_db, caplog):
    wa_id = new_wa_id()
    delivery = webhook(messages=[text_message(wa_id, "ik heb schulden")])
    async with serve(make_channel()) as down:                  # the core is down
        status, body = await down.post(delivery)
        assert status == 503 and "again" in body
        assert (await down.post(delivery))[0] == 503         # and stays so until it is back
    assert seen_ids(wa_db, message_ids(delivery)) == []
    assert graph.attempts == []
    assert tracker_events(tracker_db, wa_id) == []
    assert "Meta will deliver the message again" in caplog.text
    # Meta delivers again once the core is back: handled, once.
    async with serve(channel_to_core()) as up:
        assert (await up.post(delivery))[0] == 200
        assert (await up.post(delivery))[0] == 200
    assert user_texts(tracker_db, wa_id) == ["ik heb schulden"]
    assert seen_ids(wa_db, message_ids(delivery)) == message_ids(delivery)
    assert as_stored(bodies(graph, wa_id)) == bot_texts(tracker_db, wa_id)


async def test_a_core_that_refuses_the_gateway_is_a_503_and_the_log_names_nobody(channel_to_core, graph,
                                                                                 tracker_db, wa_db, caplog):
    """A wrong core token (GIDS_CORE_TOKEN differs): the core answers 401, nothing is handled."""
    wa_id = new_wa_id()
    channel = channel_to_core(core_token="not-the-core-token")
    delivery = webhook(messages=[text_message(wa_id, "ik heb schulden")])
    async with serve(channel) as s:
        assert (await s.post(delivery))[0] == 503
    assert tracker_events(tracker_db, wa_id) == [] and graph.attempts == []
    assert seen_ids(wa_db, message_ids(delivery)) == []
    assert "the core answered 401" in caplog.text
    assert wa_id not in caplog.text and "schulden" not in caplog.text


async def test_a_core_slower_than_meta_waits_gets_a_503_and_the_redelivery_is_skipped(channel_to_core, graph,
                                                                                       tracker_db, wa_db):
    """Meta waits about 20 s: when the core takes longer, Meta hears 503, the turn still finishes
    and is recorded, and Meta's next delivery is not a second turn."""
    wa_id = new_wa_id()
    delivery = webhook(messages=[text_message(wa_id, "ik heb schulden")])
    channel = channel_to_core(answer_timeout=0)              # no core answers in no time
    async with serve(channel) as s:
        assert (await s.post(delivery))[0] == 503            # drained: the turn finished meanwhile
        assert seen_ids(wa_db, message_ids(delivery)) == message_ids(delivery)
        answered = bodies(graph, wa_id)
        assert as_stored(answered) == bot_texts(tracker_db, wa_id) and answered
        channel.answer_timeout = 20.0
        assert (await s.post(delivery))[0] == 200
    assert user_texts(tracker_db, wa_id) == ["ik heb schulden"]
    assert bodies(graph, wa_id) == answered


async def test_database_down_asks_meta_to_deliver_again(channel_to_core, graph, tracker_db, wa_db):
    wa_id = new_wa_id()
    delivery = webhook(messages=[text_message(wa_id, "ik heb schulden")])
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/gids"
    async with serve(channel_to_core(db=unreachable)) as s:
        status, body = await s.post(delivery)
    assert status == 503
    assert "again" in body
    assert tracker_events(tracker_db, wa_id) == []       # the core never saw it
    assert graph.attempts == []
    # The database is back (Meta delivers again): handled once.
    async with serve(channel_to_core()) as s:
        assert (await s.post(delivery))[0] == 200
        assert (await s.post(delivery))[0] == 200
    assert user_texts(tracker_db, wa_id) == ["ik heb schulden"]


# --- caps and rates: what never reaches the core ------------------------------------------------------

async def test_a_message_over_5000_characters_never_reaches_the_core(served, graph, tracker_db, wa_db):
    wa_id = new_wa_id()
    long = text_message(wa_id, "ik heb schulden " * 400)              # 6,400 characters
    assert len(long["text"]["body"]) > MAX_MESSAGE_CHARS
    assert (await served.post(webhook(messages=[long])))[0] == 200
    assert tracker_events(tracker_db, wa_id) == []
    assert graph.texts_to(wa_id) == [messages.MESSAGE_TOO_LONG]
    assert seen_ids(wa_db, [long["id"]]) == [long["id"]]
    assert (await served.post(webhook(messages=[long])))[0] == 200    # a redelivery: nothing again
    assert graph.texts_to(wa_id) == [messages.MESSAGE_TOO_LONG]
    # One character over the cap is over it; a reply whose id is that long (no real button has
    # one) neither reaches the core; 5,000 characters is still a message.
    over = text_message(wa_id, "a" * (MAX_MESSAGE_CHARS + 1))
    long_choice = reply_message(wa_id, "list_reply", "/" + "a" * MAX_MESSAGE_CHARS)
    for message in (over, long_choice):
        assert (await served.post(webhook(messages=[message])))[0] == 200
    assert tracker_events(tracker_db, wa_id) == []
    assert graph.texts_to(wa_id) == [messages.MESSAGE_TOO_LONG] * 3
    at_the_cap = "schulden" * (MAX_MESSAGE_CHARS // len("schulden"))
    assert len(at_the_cap) == MAX_MESSAGE_CHARS
    assert (await served.post(webhook(messages=[text_message(wa_id, at_the_cap)])))[0] == 200
    assert [len(t) for t in user_texts(tracker_db, wa_id)] == [MAX_MESSAGE_CHARS]


async def test_too_many_messages_from_one_person_get_slow_down(channel_to_core, graph, tracker_db, wa_db):
    """A burst of 3 and a clock that stands still: the 4th message and later get SLOW_DOWN and
    never reach the core; another person is not held back."""
    limiter = RateLimiter(burst=3, per_minute=30, clock=lambda: 1000.0)
    wa_id, other = new_wa_id(), new_wa_id()
    said = ["hoi", "ik heb schulden", "Zwolle", "hallo?", "ben je er nog"]
    deliveries = [webhook(messages=[text_message(wa_id, text)]) for text in said]
    async with serve(channel_to_core(per_sender=limiter)) as s:
        for delivery in deliveries:
            assert (await s.post(delivery))[0] == 200
        choice = reply_message(wa_id, "button_reply", "/affirm", "Ja, graag")
        assert (await s.post(webhook(messages=[choice])))[0] == 200     # buttons count too
        assert (await s.post(webhook(messages=[text_message(other, "hoi")])))[0] == 200
        before = len(graph.delivered)
        assert (await s.post(deliveries[-1]))[0] == 200                  # a redelivery: skipped
        assert len(graph.delivered) == before
    assert user_texts(tracker_db, wa_id) == said[:3]
    assert user_texts(tracker_db, other) == ["hoi"]
    sent = bodies(graph, wa_id)
    assert sent[-3:] == [messages.SLOW_DOWN] * 3 and sent.count(messages.SLOW_DOWN) == 3
    assert as_stored(sent[:-3]) == bot_texts(tracker_db, wa_id)
    ids = [i for d in deliveries for i in message_ids(d)] + [choice["id"]]
    assert seen_ids(wa_db, ids) == sorted(ids)


# --- the gateway as make_app builds it -----------------------------------------------------------------

async def test_the_gateway_app_serves_the_whatsapp_webhook(core_url, graph, tracker_db, wa_db):
    app = make_app(GatewaySettings(core_url=core_url, core_token=CORE_TOKEN, secret="s"),
                   whatsapp=settings(wa_db, graph.base_url))
    channel = app["whatsapp"]
    assert isinstance(channel, WhatsAppChannel) and channel.core is app["core"]
    wa_id = new_wa_id()
    async with serve_app(app, channel) as s:
        status, body = await s.get({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                    "hub.challenge": "99"})
        assert (status, body) == (200, "99")
        assert (await s.post(webhook(messages=[text_message(wa_id, "hoi")])))[0] == 200
        forged = json.dumps(webhook(messages=[text_message(wa_id, "nog een keer")])).encode()
        assert (await s.post(None, raw=forged, signature=sign(forged, "guess")))[0] == 403
        big = webhook(messages=[text_message(wa_id, "hoi")])
        big["padding"] = "x" * MAX_WEBHOOK_BYTES
        assert (await s.post(big))[0] == 413
        assert (await s.get({}, path="/health"))[0] == 200
    assert user_texts(tracker_db, wa_id) == ["hoi"]
    assert bodies(graph, wa_id)[-1] == HOW_CAN_I_HELP
    assert as_stored(bodies(graph, wa_id)) == bot_texts(tracker_db, wa_id)


async def test_the_gateway_app_with_its_core_down_asks_meta_to_deliver_again(graph, wa_db):
    app = make_app(GatewaySettings(core_url=f"http://127.0.0.1:{free_port()}", core_token=CORE_TOKEN, secret="s",
                                   core_timeout=5),
                   whatsapp=settings(wa_db, graph.base_url))
    delivery = webhook(messages=[text_message(new_wa_id(), "hoi")])
    async with serve_app(app, app["whatsapp"]) as s:
        assert (await s.post(delivery))[0] == 503
    assert seen_ids(wa_db, message_ids(delivery)) == [] and graph.attempts == []
