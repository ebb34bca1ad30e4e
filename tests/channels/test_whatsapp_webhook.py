"""The WhatsApp webhook over real HTTP: Meta's handshake, signatures, what reaches Rasa, and that a
delivery Meta repeats (or two replicas receive) is handled once, also after a restart."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bot.channels.whatsapp import TEXT_ONLY
from bot.db import make_engine, session_scope
from bot.db.models import ChannelContact, ChannelMessageSeen
from tests.channels.conftest import (APP_SECRET, VERIFY_TOKEN, RecordingAgent, media_message, new_message_id,
                                     new_wa_id, reply_message, serve, sign, status_update, text_message, webhook)


def contact_time(db_url: str, wa_id: str):
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return session.execute(select(ChannelContact.last_inbound_at).where(
                ChannelContact.channel == "whatsapp", ChannelContact.user_id == wa_id)).scalar_one_or_none()
    finally:
        engine.dispose()


# --- verification handshake ------------------------------------------------------------------------

async def test_the_handshake_echoes_the_challenge_for_the_right_token(served):
    status, body = await served.get({"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                     "hub.challenge": "1158201444"})
    assert (status, body) == (200, "1158201444")


async def test_the_handshake_is_refused_for_a_wrong_token_or_mode(served):
    good = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    for params in ({**good, "hub.verify_token": "guessed"},
                   {**good, "hub.verify_token": VERIFY_TOKEN + "x"},
                   {**good, "hub.mode": "unsubscribe"},
                   {"hub.mode": "subscribe", "hub.challenge": "42"},
                   {}):
        status, body = await served.get(params)
        assert status == 403, params
        assert "42" not in body


async def test_without_a_configured_verify_token_nothing_verifies(make_channel):
    async with serve(make_channel(verify_token=""), RecordingAgent()) as s:
        status, _ = await s.get({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "7"})
    assert status == 403


# --- signatures and bad bodies -----------------------------------------------------------------------

async def test_missing_or_forged_signatures_are_refused_and_nothing_is_processed(served, graph):
    wa_id = new_wa_id()
    body = json.dumps(webhook(messages=[text_message(wa_id, "ik heb schulden")])).encode()
    other = json.dumps(webhook(messages=[text_message(wa_id, "iets anders")])).encode()
    attempts = [
        None,                                       # no header at all
        sign(body, "not-the-app-secret"),           # signed with another secret
        sign(other),                                # a real signature of another body
        sign(body).replace("sha256=", "sha1="),     # wrong scheme
        "sha256=",                                  # empty
        "sha256=" + "é" * 64,                       # not even hex
    ]
    for signature in attempts:
        status, _ = await served.post(None, raw=body, signature=signature)
        assert status == 403, signature
    assert served.agent.received == []
    assert graph.attempts == []
    # The refused message was not recorded as seen: signed properly it is handled.
    status, _ = await served.post(None, raw=body)
    assert status == 200
    assert served.agent.texts(wa_id) == ["ik heb schulden"]


async def test_the_signature_is_checked_on_the_raw_bytes(served):
    wa_id = new_wa_id()
    # The same JSON with other spacing has another signature; what Meta signed is what counts.
    raw = json.dumps(webhook(messages=[text_message(wa_id, "hoi")]), indent=2).encode()
    status, _ = await served.post(None, raw=raw, signature=sign(json.dumps(json.loads(raw)).encode()))
    assert status == 403
    status, _ = await served.post(None, raw=raw, signature=sign(raw))
    assert status == 200
    assert served.agent.texts(wa_id) == ["hoi"]


async def test_a_body_that_is_not_json_gets_400(served):
    for raw in (b"{not json", b"\xff\xfe\x00", b""):
        status, body = await served.post(None, raw=raw)
        assert status == 400, raw
        assert "JSON" in body
    status, _ = await served.post([1, 2, 3])
    assert status == 400
    assert served.agent.received == []


async def test_without_an_app_secret_every_post_is_refused(make_channel):
    agent = RecordingAgent()
    async with serve(make_channel(app_secret=""), agent) as s:
        body = json.dumps(webhook(messages=[text_message(new_wa_id(), "hoi")])).encode()
        for signature in (None, sign(body, ""), sign(body)):
            status, _ = await s.post(None, raw=body, signature=signature)
            assert status == 403
    assert agent.received == []


# --- what reaches Rasa -------------------------------------------------------------------------------

async def test_a_text_message_reaches_rasa_as_the_person_with_channel_metadata(served, graph, db_url):
    wa_id, message_id = new_wa_id(), new_message_id()
    written = int(time.time()) - 30
    status, _ = await served.post(webhook(messages=[text_message(wa_id, "Ik zoek werk in Zwolle",
                                                                 message_id, timestamp=written)]))
    assert status == 200
    [message] = served.agent.received
    assert message.sender_id == wa_id
    assert message.text == "Ik zoek werk in Zwolle"
    assert message.input_channel == "whatsapp"
    assert message.metadata == {"channel": "whatsapp"}
    assert message.message_id == message_id
    assert message.output_channel.name() == "whatsapp"
    # The answer went to the person through the Graph API, with the bearer token.
    assert graph.unauthorised == 0
    [sent] = graph.delivered_to(wa_id)
    assert sent["messaging_product"] == "whatsapp" and sent["type"] == "text"
    assert sent["text"]["body"] == "Dat heb ik gelezen."
    # The 24-hour window starts when the person wrote.
    assert contact_time(db_url, wa_id) == datetime.fromtimestamp(written, timezone.utc).replace(tzinfo=None)


async def test_button_and_list_replies_give_rasa_the_payload_itself(served):
    wa_id = new_wa_id()
    location = '/inform_location{"location":"Zwolle"}'
    await served.post(webhook(messages=[reply_message(wa_id, "button_reply", "/affirm", "Ja, graag")]))
    await served.post(webhook(messages=[reply_message(wa_id, "list_reply", location, "Zwolle")]))
    assert served.agent.texts(wa_id) == ["/affirm", location]


async def test_status_callbacks_are_ignored(served, graph):
    wa_id = new_wa_id()
    for status_name in ("sent", "delivered", "read", "failed"):
        status, _ = await served.post(webhook(statuses=[status_update(wa_id, status_name)]))
        assert status == 200
    assert served.agent.received == []
    assert graph.attempts == []


async def test_images_audio_locations_get_a_short_answer_that_the_gids_reads_text(served, graph, db_url):
    wa_id = new_wa_id()
    for kind in ("image", "audio", "location", "sticker", "document"):
        status, _ = await served.post(webhook(messages=[media_message(wa_id, kind)]))
        assert status == 200
    assert served.agent.received == []
    assert graph.texts_to(wa_id) == [TEXT_ONLY] * 5
    assert contact_time(db_url, wa_id) is not None  # writing anything opens the 24-hour window


async def test_a_reaction_gets_no_answer(served, graph):
    wa_id = new_wa_id()
    reaction = {"from": wa_id, "id": new_message_id(), "timestamp": str(int(time.time())),
                "type": "reaction", "reaction": {"message_id": "wamid.x", "emoji": "👍"}}
    assert (await served.post(webhook(messages=[reaction])))[0] == 200
    assert served.agent.received == [] and graph.attempts == []


async def test_messages_for_another_phone_number_of_the_app_are_left_alone(served, graph):
    wa_id = new_wa_id()
    status, _ = await served.post(webhook(messages=[text_message(wa_id, "hoi")], phone_number_id="999"))
    assert status == 200
    assert served.agent.received == [] and graph.attempts == []


async def test_several_messages_of_one_person_reach_rasa_in_order(served):
    wa_id = new_wa_id()
    texts = [f"bericht {i}" for i in range(6)]
    await served.post(webhook(messages=[text_message(wa_id, t) for t in texts]))
    assert served.agent.texts(wa_id) == texts


# --- handled once ------------------------------------------------------------------------------------

async def test_a_repeated_delivery_is_handled_once_also_after_a_restart(make_channel, graph, db_url):
    wa_id = new_wa_id()
    body = webhook(messages=[text_message(wa_id, "ik heb schulden")])
    first = RecordingAgent()
    async with serve(make_channel(), first) as s:
        assert (await s.post(body))[0] == 200
        assert (await s.post(body))[0] == 200   # Meta retries when our 200 got lost
    assert first.texts(wa_id) == ["ik heb schulden"]
    # A new process: a new channel instance, a new app, the same database.
    second = RecordingAgent()
    async with serve(make_channel(), second) as s:
        assert (await s.post(body))[0] == 200
    assert second.received == []
    assert len(graph.delivered_to(wa_id)) == 1


async def test_two_replicas_receiving_the_same_delivery_handle_it_once(any_db_url, graph, sleeps):
    from bot.channels.whatsapp import WhatsAppInput
    from tests.channels.conftest import settings

    agents = [RecordingAgent(), RecordingAgent()]
    bodies = [webhook(messages=[text_message(new_wa_id(), f"vraag {i}")]) for i in range(10)]
    channels = [WhatsAppInput(settings(any_db_url, graph.base_url), sleep=sleeps) for _ in agents]
    async with serve(channels[0], agents[0]) as a, serve(channels[1], agents[1]) as b:
        for body in bodies:
            answers = await asyncio.gather(a.post(body, drain=False), b.post(body, drain=False))
            assert [status for status, _ in answers] == [200, 200]
        assert await a.channel.drain(60) and await b.channel.drain(60)
    handled = sorted(agents[0].texts() + agents[1].texts())
    assert handled == sorted(f"vraag {i}" for i in range(10))
    engine = make_engine(any_db_url)
    with session_scope(engine) as session:
        ids = {m["id"] for body in bodies for m in body["entry"][0]["changes"][0]["value"]["messages"]}
        seen = session.execute(select(ChannelMessageSeen.message_id).where(
            ChannelMessageSeen.message_id.in_(ids))).scalars().all()
    engine.dispose()
    assert sorted(seen) == sorted(ids)


async def test_not_ready_assistant_asks_meta_to_deliver_again(make_channel):
    wa_id = new_wa_id()
    agent = RecordingAgent(ready=False)
    body = webhook(messages=[text_message(wa_id, "hoi")])
    async with serve(make_channel(), agent) as s:
        status, _ = await s.post(body)
        assert status == 503
        agent.ready = True
        status, _ = await s.post(body)  # Meta's redelivery
        assert status == 200
    assert agent.texts(wa_id) == ["hoi"]


async def test_database_down_asks_meta_to_deliver_again(make_channel, tmp_path):
    # A database without the channel tables fails like an unreachable one.
    agent = RecordingAgent()
    async with serve(make_channel(db=f"sqlite:///{tmp_path / 'empty.db'}"), agent) as s:
        status, body = await s.post(webhook(messages=[text_message(new_wa_id(), "hoi")]))
    assert status == 503
    assert "again" in body
    assert agent.received == []


async def test_a_later_message_time_never_moves_back(served, db_url):
    wa_id = new_wa_id()
    now = int(time.time())
    await served.post(webhook(messages=[text_message(wa_id, "later", timestamp=now - 10)]))
    await served.post(webhook(messages=[text_message(wa_id, "eerder, laat bezorgd", timestamp=now - 3600)]))
    expected = datetime.fromtimestamp(now - 10, timezone.utc).replace(tzinfo=None)
    assert contact_time(db_url, wa_id) == expected
    # A sender clock in the future does not stretch the window.
    await served.post(webhook(messages=[text_message(wa_id, "toekomst", timestamp=now + 86400)]))
    assert contact_time(db_url, wa_id) < datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=5)


async def test_app_secret_is_not_the_verify_token(served):
    # A body signed with the verify token (a common mix-up) is refused.
    body = json.dumps(webhook(messages=[text_message(new_wa_id(), "hoi")])).encode()
    assert (await served.post(None, raw=body, signature=sign(body, VERIFY_TOKEN)))[0] == 403
    assert (await served.post(None, raw=body, signature=sign(body, APP_SECRET)))[0] == 200


async def test_a_failure_while_handling_is_logged_and_the_next_message_still_goes(make_channel, caplog):
    class Failing(RecordingAgent):
        async def handle_message(self, message):
            if message.text == "boem":
                raise RuntimeError("kapot bij 31612345678")
            await super().handle_message(message)

    wa_id = new_wa_id()
    agent = Failing()
    async with serve(make_channel(), agent) as s:
        assert (await s.post(webhook(messages=[text_message(wa_id, "boem")])))[0] == 200
        assert (await s.post(webhook(messages=[text_message(wa_id, "daarna")])))[0] == 200
    assert agent.texts(wa_id) == ["daarna"]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "WhatsApp: handling a message failed (RuntimeError)" in errors
    assert "31612345678" not in "\n".join(errors)
