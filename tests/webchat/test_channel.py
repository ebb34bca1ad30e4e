"""bot.webchat.channel: Rasa's socket.io channel with the partner card sent as one event and the
session room joined for real. Without a Rasa server; test_webchat_model.py uses it for real."""
from __future__ import annotations

import inspect

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOOutput
from socketio import AsyncServer

from bot.webchat.channel import WebchatInput, WebchatOutput

CARD = {"type": "partner_card", "topic": "ask_debt_help", "partner_type": "gemeente",
        "partner": "Gemeente Zwolle", "service": "De gemeente helpt je gratis als je schulden hebt.",
        "conditions": "", "scope": "gemeente", "audience": "werkzoekende", "contact": {}, "verified": False}


class RecordingSio:
    """Records emits; its emit has python-socketio's exact signature, so a call that the real
    server would refuse is refused here too."""

    def __init__(self):
        self.emitted = []

    async def emit(self, event, data=None, to=None, room=None, skip_sid=None, namespace=None, callback=None,
                   ignore_queue=False):
        self.emitted.append((event, data, room))


def test_the_recorder_has_the_real_emit_signature():
    assert inspect.signature(RecordingSio.emit) == inspect.signature(AsyncServer.emit)


async def test_rasa_s_own_channel_cannot_send_the_partner_card():
    # Why this channel exists: Rasa 3.6 passes the card's keys to emit() as keyword arguments.
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        await SocketIOOutput(RecordingSio(), "bot_uttered").send_response(
            "s1", {"text": "Gemeente Zwolle: ...", "custom": dict(CARD)})


async def test_a_partner_card_goes_out_as_one_event_with_its_text():
    sio = RecordingSio()
    await WebchatOutput(sio, "bot_uttered").send_response("s1", {"text": "Gemeente Zwolle: hulp", "custom": dict(CARD)})
    assert sio.emitted == [("bot_uttered", {"custom": CARD, "text": "Gemeente Zwolle: hulp"}, "s1")]


async def test_custom_with_buttons_and_image_keeps_them():
    sio = RecordingSio()
    await WebchatOutput(sio, "bot_uttered").send_response("s1", {
        "custom": {"type": "note"}, "buttons": [{"title": "Ja", "payload": "/affirm"}], "image": "https://x.nl/a.png"})
    assert sio.emitted == [
        ("bot_uttered", {"custom": {"type": "note"},
                         "quick_replies": [{"content_type": "text", "title": "Ja", "payload": "/affirm"}]}, "s1"),
        ("bot_uttered", {"attachment": {"type": "image", "payload": {"src": "https://x.nl/a.png"}}}, "s1"),
    ]


async def test_other_messages_are_sent_as_rasa_sends_them():
    sio = RecordingSio()
    out = WebchatOutput(sio, "bot_uttered")
    await out.send_response("s1", {"text": "Eén.\n\nTwee."})
    await out.send_response("s1", {"text": "Kies", "buttons": [{"title": "Ja, graag", "payload": "/affirm"}]})
    await out.send_custom_json("s1", {"type": "partner_card", "partner": "X"})
    assert sio.emitted == [
        ("bot_uttered", {"text": "Eén."}, "s1"),
        ("bot_uttered", {"text": "Twee."}, "s1"),
        ("bot_uttered", {"text": "Kies", "quick_replies": [
            {"content_type": "text", "title": "Ja, graag", "payload": "/affirm"}]}, "s1"),
        ("bot_uttered", {"custom": {"type": "partner_card", "partner": "X"}}, "s1"),
    ]


@pytest.fixture
def channel():
    received = []

    async def on_new_message(message: UserMessage):
        received.append(message)

    ch = WebchatInput.from_credentials({"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
                                        "session_persistence": True})
    ch.blueprint(on_new_message)
    ch.received = received
    ch.joined, ch.confirmed = [], []

    async def enter_room(sid, room, namespace=None):
        ch.joined.append((sid, room))

    async def emit(event, data=None, room=None, namespace=None, **kwargs):
        ch.confirmed.append((event, data, room))

    ch.sio.enter_room, ch.sio.emit = enter_room, emit
    return ch


@pytest.mark.parametrize("data,kept", [
    ({"session_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}, True),
    ({"session_id": None}, False),
    (None, False),
    ({"session_id": "x" * 5000}, False),
    ({"session_id": "<script>"}, False),
    ({"session_id": {"nested": "object"}}, False),
])
async def test_session_request_joins_the_room_for_real(channel, data, kept):
    await channel.sio.handlers["/"]["session_request"]("sid-1", data)
    (sid, room), = channel.joined  # awaited: the join happened
    assert sid == "sid-1"
    if kept:
        assert room == data["session_id"]
    else:
        assert len(room) == 32 and room != (data or {}).get("session_id")
    assert channel.confirmed == [("session_confirm", room, "sid-1")]


async def test_a_user_message_reaches_rasa_with_the_fixed_output_channel(channel):
    await channel.sio.handlers["/"]["user_uttered"]("sid-1", {"message": "ik heb schulden",
                                                              "session_id": "0f1e2d3c4b5a6978"})
    message, = channel.received
    assert (message.text, message.sender_id, message.input_channel) == ("ik heb schulden", "0f1e2d3c4b5a6978",
                                                                       "socketio")
    assert isinstance(message.output_channel, WebchatOutput)
    assert isinstance(channel.get_output_channel(), WebchatOutput)
