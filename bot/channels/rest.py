"""A REST endpoint for scripts and the terminal chat, served by the gateway.

``POST /webhooks/rest/webhook {"message": "...", "sender": "<id>"}`` → a JSON list of bot messages
(``recipient_id``, ``text``, ``buttons``, ``custom``, ``image``), as Rasa's REST channel answered.
Without ``sender`` a new conversation starts; its id is in the ``X-Gids-Conversation`` header and
in every message's ``recipient_id``: send it along with the next message. An id the gateway did not
issue is refused (403), so a script cannot read or write anyone else's conversation."""
from __future__ import annotations

import logging
from typing import Any, Optional

from aiohttp import web

from bot import messages
from bot.db import DatabaseUnavailable
from bot.gateway.core import CoreClient, CoreUnavailable
from bot.gateway.ids import ConversationIds
from bot.gateway.limits import MAX_MESSAGE_CHARS, KeyedLocks, RateLimiter
from bot.gateway.live import LiveDesk

logger = logging.getLogger(__name__)

CHANNEL = "rest"


class RestEndpoint:
    def __init__(self, core: CoreClient, ids: ConversationIds, *, per_client: Optional[RateLimiter] = None,
                 per_conversation: Optional[RateLimiter] = None, locks: Optional[KeyedLocks] = None) -> None:
        self.core, self.ids = core, ids
        self.locks = locks or KeyedLocks()
        self.per_client = per_client or RateLimiter(burst=20, per_minute=60)
        self.per_conversation = per_conversation or RateLimiter(burst=10, per_minute=30)
        self.live: Optional[LiveDesk] = None  # the live chat with staff (bot.gateway.live)

    def routes(self) -> list:
        return [web.post("/webhooks/rest/webhook", self.webhook)]

    async def webhook(self, request: web.Request) -> web.Response:
        try:
            body: Any = await request.json()
        except ValueError:
            self.core.metrics.refused(CHANNEL, "bad_request")
            return web.json_response({"error": "de body is geen JSON"}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            self.core.metrics.refused(CHANNEL, "bad_request")
            return web.json_response({"error": 'stuur {"message": "...", "sender": "..."}'}, status=400)
        token = body.get("sender")
        if token is None:
            token = self.ids.issue(CHANNEL)
        sender = self.ids.sender(CHANNEL, token)
        if sender is None:
            self.core.metrics.refused(CHANNEL, "refused_id")
            return web.json_response({"error": "onbekend gesprek: laat sender weg voor een nieuw gesprek"},
                                     status=403)
        headers = {"X-Gids-Conversation": token}
        text = body["message"]
        if len(text) > MAX_MESSAGE_CHARS:
            self.core.metrics.refused(CHANNEL, "too_long")
            return web.json_response([{"recipient_id": token, "text": messages.MESSAGE_TOO_LONG}],
                                     status=413, headers=headers)
        if not (self.per_client.allow(request.remote or "?") and self.per_conversation.allow(sender)):
            self.core.metrics.refused(CHANNEL, "rate_limited")
            return web.json_response([{"recipient_id": token, "text": messages.SLOW_DOWN}], status=429,
                                     headers={**headers, "Retry-After": "10"})
        async with self.locks.hold(sender):
            if self.live is not None:
                try:
                    stored = await self.live.person_message(CHANNEL, sender, text)
                except DatabaseUnavailable:
                    stored = None  # the core decides; a paused core answers nothing
                if stored is not None:
                    # For the staff member in the live chat; only a crisis answer comes back here.
                    return web.json_response([{"recipient_id": token, "text": item.text} for item in stored.replies],
                                             headers=headers)
            try:
                answers = await self.core.turn(sender, text, CHANNEL)
            except CoreUnavailable as exc:
                logger.error("REST: %s", exc)
                return web.json_response([{"recipient_id": token, "text": messages.GIDS_DOWN}], status=503,
                                         headers={**headers, "Retry-After": "30"})
        return web.json_response([{**answer, "recipient_id": token} for answer in answers], headers=headers)
