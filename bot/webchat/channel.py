"""The socket.io channel for the web chat widget: Rasa's own, with two bugs fixed.

1. Rasa 3.6's ``SocketIOOutput.send_custom_json`` calls ``sio.emit(event, **json_message)``, so
   the keys of a custom message become keyword arguments of ``emit``. The gids's partner card
   (``{"type": "partner_card", ...}``) then raises ``TypeError`` in the middle of a turn: the rest
   of the answer is lost and the tracker of that turn is not saved. Here a message with a custom
   payload goes out as ONE event, ``{"text": ..., "custom": {...}}``: the widget shows the card
   and keeps the text as its fallback.
2. With ``session_persistence: true`` Rasa calls ``sio.enter_room(...)`` without ``await``; since
   python-socketio 5.10 that is a coroutine, so the browser never joins its session's room and
   never receives an answer (RasaHQ/rasa#13027). Here the join is awaited.

Everything else is Rasa's channel unchanged.

Use it in credentials.yml (same settings as ``socketio``):

    bot.webchat.channel.WebchatInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
"""
from __future__ import annotations

import inspect
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

# What the widget stores and sends back: Rasa's uuid4().hex, or another plain id of a client.
# Anything else (a 5 MB string, an object) gets a fresh id rather than becoming a sender id.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class WebchatOutput(SocketIOOutput):
    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        custom = message.get("custom")
        if not isinstance(custom, dict):
            await super().send_response(recipient_id, message)
            return
        event: Dict[Text, Any] = {"custom": custom}
        if message.get("text"):
            event["text"] = message["text"]
        buttons = message.get("buttons") or message.get("quick_replies")
        if buttons:
            event["quick_replies"] = [{"content_type": "text", "title": b.get("title"), "payload": b.get("payload")}
                                      for b in buttons]
        await self._send_message(recipient_id, event)
        rest = {k: v for k, v in message.items() if k in ("image", "attachment", "elements")}
        if rest:
            await super().send_response(recipient_id, rest)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class WebchatInput(SocketIOInput):
    """Rasa's socket.io input; only the output channel it hands to Rasa differs."""

    @classmethod
    def name(cls) -> Text:
        # The same name as Rasa's channel: trackers and the handover records say "socketio".
        return "socketio"

    def get_output_channel(self) -> Optional[OutputChannel]:
        if self.sio is None:
            return super().get_output_channel()
        return WebchatOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def with_webchat_output(message: UserMessage) -> Any:
            # Rasa's handler builds its own SocketIOOutput; swap it for ours before Rasa sees it.
            if isinstance(message.output_channel, SocketIOOutput):
                message.output_channel = WebchatOutput(message.output_channel.sio,
                                                       message.output_channel.bot_message_evt)
            return await on_new_message(message)

        blueprint = super().blueprint(with_webchat_output)
        sio = self.sio

        # Registered after Rasa's handler for the same event, so this one replaces it.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict] = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = (requested if isinstance(requested, str) and SESSION_ID.fullmatch(requested)
                          else uuid.uuid4().hex)
            if self.session_persistence:
                joined = sio.enter_room(sid, session_id, namespace=self.namespace)
                if inspect.isawaitable(joined):  # a coroutine since python-socketio 5.10
                    await joined
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        return blueprint
