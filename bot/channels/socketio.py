"""The web chat widget's socket.io endpoint, served by the gateway (path ``/socket.io``).

The protocol is the one the widget (bot/channels/webchat/static/widget.js) has always spoken with Rasa's
socket.io channel: ``session_request {session_id}`` → ``session_confirm <id>``, then
``user_uttered {message, session_id}`` → ``bot_uttered`` events to the session's room, so every
tab and reconnect of one conversation sees the answers.

What the gateway adds: the session id is one the gateway issued and signed (bot.gateway.ids); an
id it did not issue gets a new conversation, never someone else's. A message is at most
MAX_MESSAGE_CHARS, a socket.io packet at most MAX_BODY_BYTES, and both the connection and the
conversation are rate-limited; the person gets a plain answer for each, and nothing reaches the
core. One turn at a time per conversation, in order.

During a live chat with staff (bot.gateway.live) the person's messages go to the staff member, not
to the core; the widget gets ``live_message`` events (and ``live_typing``) in the room
``live:<conversation>``, and after a reconnect sends ``live_sync {after: <last id>}`` to get what
it missed."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Mapping, Optional

import socketio

from bot import messages
from bot.db import DatabaseUnavailable
from bot.gateway.core import CoreClient, CoreUnavailable
from bot.gateway.ids import ConversationIds
from bot.gateway.limits import MAX_BODY_BYTES, MAX_MESSAGE_CHARS, KeyedLocks, RateLimiter
from bot.gateway.live import LiveDesk
from bot.gateway.live import room as live_room
from bot.live import FeedItem

logger = logging.getLogger(__name__)

CHANNEL = "socketio"
USER_EVENT, BOT_EVENT = "user_uttered", "bot_uttered"
LIVE_EVENT = "live_message"   # a live chat message (bot.live.FeedItem.for_person)


def _quick_replies(buttons: Any) -> List[Dict[str, Any]]:
    return [{"content_type": "text", "title": b.get("title"), "payload": b.get("payload", b.get("title"))}
            for b in buttons or [] if isinstance(b, Mapping)]


def widget_events(message: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The ``bot_uttered`` events for one bot message, as the widget draws them.

    Paragraphs of a text become separate bubbles and buttons go with the last one (as Rasa's
    socket.io channel did); a text with a custom payload (a partner card) is ONE event, so the
    widget shows the card and keeps the text as its fallback."""
    events: List[Dict[str, Any]] = []
    raw_text = message.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    buttons = message.get("buttons") or message.get("quick_replies")
    custom = message.get("custom")
    if isinstance(custom, dict):
        event: Dict[str, Any] = {"custom": custom}
        if text:
            event["text"] = text
        if buttons:
            event["quick_replies"] = _quick_replies(buttons)
        events.append(event)
    elif text.strip() or buttons:
        parts = text.strip().split("\n\n") if text.strip() else [""]
        events.extend({"text": part} for part in parts)
        if buttons:
            events[-1]["quick_replies"] = _quick_replies(buttons)
    if message.get("image"):
        events.append({"attachment": {"type": "image", "payload": {"src": message["image"]}}})
    if message.get("attachment"):
        events.append({"attachment": message["attachment"]})
    if message.get("elements"):
        events.append({"attachment": {"type": "template",
                                      "payload": {"template_type": "generic", "elements": message["elements"]}}})
    return events


class WebchatEndpoint:
    def __init__(self, core: CoreClient, ids: ConversationIds, *, cors_origins: Any = "*",
                 per_connection: Optional[RateLimiter] = None, per_conversation: Optional[RateLimiter] = None,
                 locks: Optional[KeyedLocks] = None) -> None:
        self.core, self.ids = core, ids
        self.locks = locks or KeyedLocks()
        self.per_connection = per_connection or RateLimiter(burst=10, per_minute=30)
        self.per_conversation = per_conversation or RateLimiter(burst=10, per_minute=30)
        self.sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=cors_origins,
                                        max_http_buffer_size=MAX_BODY_BYTES, logger=False, engineio_logger=False)
        self.sio.on("session_request", self.session_request)
        self.sio.on(USER_EVENT, self.user_uttered)
        self.sio.on("live_sync", self.live_sync)
        # The live chat with staff (bot.gateway.live), when the gateway has one.
        self.live: Optional[LiveDesk] = None

    def attach(self, app: Any) -> None:
        self.sio.attach(app, socketio_path="socket.io")

    async def session_request(self, sid: str, data: Any = None) -> None:
        requested = data.get("session_id") if isinstance(data, dict) else None
        token = requested if self.ids.sender(CHANNEL, requested) else self.ids.issue(CHANNEL)
        previous = (await self.sio.get_session(sid)).get("token")
        if previous and previous != token:
            await self.sio.leave_room(sid, previous)
            old_sender = self.ids.sender(CHANNEL, previous)
            if old_sender:
                await self.sio.leave_room(sid, live_room(old_sender))
        await self.sio.save_session(sid, {"token": token})
        await self.sio.enter_room(sid, token)
        sender = self.ids.sender(CHANNEL, token)
        if sender:
            await self.sio.enter_room(sid, live_room(sender))
        await self.sio.emit("session_confirm", token, to=sid)

    async def live_sync(self, sid: str, data: Any = None) -> None:
        """After a (re)connect the widget asks for the live chat messages after the last one it
        shows; it drops any it already has (by id), so nothing is shown twice."""
        token = (await self.sio.get_session(sid)).get("token")
        sender = self.ids.sender(CHANNEL, token) if token else None
        after = data.get("after") if isinstance(data, dict) else None
        if self.live is None or sender is None or not isinstance(after, int) or isinstance(after, bool):
            return
        try:
            items = await self.live.replay(sender, after)
        except DatabaseUnavailable as exc:
            logger.error("web chat: live chat messages not replayed: %s", exc)
            return
        for item in items:
            await self.sio.emit(LIVE_EVENT, item.for_person(), to=sid)

    async def deliver_live(self, item: FeedItem) -> None:
        await self.sio.emit(LIVE_EVENT, item.for_person(), room=live_room(item.conversation_id))

    async def live_typing(self, conversation_id: str) -> None:
        await self.sio.emit("live_typing", {}, room=live_room(conversation_id))

    async def _say(self, to: str, text: str) -> None:
        await self.sio.emit(BOT_EVENT, {"text": text}, to=to)

    async def user_uttered(self, sid: str, data: Any = None) -> None:
        token = (await self.sio.get_session(sid)).get("token")
        if not isinstance(data, dict) or not token or data.get("session_id") not in (None, token):
            # No session_request first, or a conversation this connection did not join.
            logger.info("web chat: a message without this connection's session was ignored")
            return
        text = data.get("message")
        if not isinstance(text, str):
            self.core.metrics.refused(CHANNEL, "bad_request")
            return
        if len(text) > MAX_MESSAGE_CHARS:
            self.core.metrics.refused(CHANNEL, "too_long")
            await self._say(sid, messages.MESSAGE_TOO_LONG)
            return
        sender = self.ids.sender(CHANNEL, token)
        if sender is None:
            # The session holds only ids this gateway issued; after a change of GIDS_GATEWAY_SECRET
            # they no longer verify, and the widget starts a new conversation.
            logger.info("web chat: a message for a conversation id this gateway did not sign was ignored")
            self.core.metrics.refused(CHANNEL, "refused_id")
            return
        if not (self.per_connection.allow(sid) and self.per_conversation.allow(sender)):
            self.core.metrics.refused(CHANNEL, "rate_limited")
            await self._say(sid, messages.SLOW_DOWN)
            return
        async with self.locks.hold(sender):
            live_unknown = False
            if self.live is not None:
                ref = data.get("client_ref")
                try:
                    stored = await self.live.person_message(CHANNEL, sender, text,
                                                            client_ref=ref if isinstance(ref, str) else None)
                except DatabaseUnavailable as exc:
                    logger.error("web chat: live chat unknown: %s", exc)
                    stored, live_unknown = None, True
                if stored is not None:
                    # The staff member reads it from the database; the crisis answer comes now.
                    for item in stored.replies:
                        await self.sio.emit(LIVE_EVENT, item.for_person(), room=live_room(sender))
                    return
            try:
                answers = await self.core.turn(sender, text, CHANNEL)
            except CoreUnavailable as exc:
                logger.error("web chat: %s", exc)
                await self._say(sid, messages.GIDS_DOWN)
                return
            if not answers and live_unknown:
                # A paused core answers nothing: the message was meant for a staff member.
                await self._say(sid, messages.LIVE_NOT_DELIVERED)
            for answer in answers:
                for event in widget_events(answer):
                    await self.sio.emit(BOT_EVENT, event, room=token)
