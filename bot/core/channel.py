"""The internal channel between the gateway and the core: the only way in for a person's message.

credentials-core.yml key ``bot.core.channel.GatewayInput``; routes under ``/webhooks/gateway/``:

- ``POST /webhooks/gateway/webhook`` ``{"sender", "message", "channel", "message_id", "metadata"}``
  → ``{"messages": [...]}``: one turn, answered with the bot messages as Rasa produced them (text,
  buttons, custom, image, attachment), so each channel of the gateway renders them in its own way;
- ``POST /webhooks/gateway/last_bot_message`` ``{"sender"}`` → the last bot message of the
  conversation when the person has not spoken since (WhatsApp's numbered menus after a restart);
- ``POST /webhooks/gateway/resume`` ``{"sender", "what"}`` → ``{"messages": [...]}``: a live chat with
  staff ended (bot/live): the pause ends and the gids speaks again ("back": it says so;
  "unavailable": nobody picked the chat up, so it offers the handover);
- ``GET /webhooks/gateway/`` → ``{"status": "ok"}`` for health checks (no token needed).

Every other route needs ``Authorization: Bearer <token>``: GIDS_CORE_TOKEN, or on one machine the
token made once in var/core-token (bot.tokens). An empty token refuses everything. The gateway has
already checked the size, the rate and the conversation id; the core checks the size again so a
misconfigured proxy cannot hand it megabytes to redact and classify."""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.tokens import CORE_TOKEN, bearer_ok, shared_secret

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 5000
# The channels the gateway speaks for; the tracker records the name, actions read it (a WhatsApp
# conversation offers its number as contact), and handover records show it.
CHANNELS = ("socketio", "whatsapp", "rest")
_MESSAGE_KEYS = ("text", "buttons", "quick_replies", "custom", "image", "attachment", "elements")


class GatewayOutput(CollectingOutputChannel):
    """Collects each bot message whole, as Rasa hands it over: a text with a partner card stays
    one message, so the web chat draws one card and WhatsApp sends one message."""

    @classmethod
    def name(cls) -> Text:
        return "gateway"

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        kept = {key: message[key] for key in _MESSAGE_KEYS if message.get(key) not in (None, "", [])}
        if kept:
            self.messages.append({"recipient_id": recipient_id, **kept})


class GatewayInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "GatewayInput":
        return cls(token=shared_secret(CORE_TOKEN))

    def __init__(self, token: str = "") -> None:
        from bot.core import action_calls, nlu_thread

        # Before the first message (bench/core/PROFILE.md): the NLU off the event loop, and the
        # action server's answers checked without re-checking their schema each time.
        nlu_thread.install()
        action_calls.install()
        self.token = token.strip()
        if not self.token:
            logger.error("%s is not set: the gateway channel refuses every request", CORE_TOKEN)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("gateway_webhook")

        def refuse(request: Request) -> Optional[HTTPResponse]:
            if not bearer_ok(self.token, request.headers.get("Authorization")):
                return response.json({"error": "unauthorized"}, status=401)
            body = request.json if request.body else None
            if not isinstance(body, dict):
                return response.json({"error": "a JSON object is needed"}, status=400)
            sender = body.get("sender")
            if not isinstance(sender, str) or not 1 <= len(sender) <= 128:
                return response.json({"error": "sender"}, status=400)
            return None

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            problem = refuse(request)
            if problem is not None:
                return problem
            body = request.json
            text = body.get("message")
            channel = body.get("channel")
            if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
                return response.json({"error": "message"}, status=413 if isinstance(text, str) else 400)
            if channel not in CHANNELS:
                return response.json({"error": "channel"}, status=400)
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or (callable(getattr(agent, "is_ready", None)) and not agent.is_ready()):
                return response.json({"error": "the core is not ready"}, status=503)
            message_id = body.get("message_id") if isinstance(body.get("message_id"), str) else None
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            output = GatewayOutput()
            await on_new_message(UserMessage(text, output, body["sender"], input_channel=channel,
                                             message_id=message_id, metadata={**metadata, "channel": channel}))
            return response.json({"messages": output.messages})

        @bp.route("/resume", methods=["POST"])
        async def resume(request: Request) -> HTTPResponse:
            problem = refuse(request)
            if problem is not None:
                return problem
            what = request.json.get("what")
            if what not in RESUMES:
                return response.json({"error": "what"}, status=400)
            agent = getattr(request.app.ctx, "agent", None)
            if agent is None or getattr(agent, "processor", None) is None or (
                    callable(getattr(agent, "is_ready", None)) and not agent.is_ready()):
                return response.json({"error": "the core is not ready"}, status=503)
            output = GatewayOutput()
            await _resume(agent, request.json["sender"], what, output)
            return response.json({"messages": output.messages})

        @bp.route("/last_bot_message", methods=["POST"])
        async def last_bot_message(request: Request) -> HTTPResponse:
            problem = refuse(request)
            if problem is not None:
                return problem
            agent = getattr(request.app.ctx, "agent", None)
            store = getattr(agent, "tracker_store", None)
            if store is None:
                return response.json({"error": "the core is not ready"}, status=503)
            tracker = await store.retrieve(request.json["sender"])
            return response.json({"message": _last_bot_message(tracker.events if tracker else [])})

        return bp


# After a live chat with staff (bot/live): the slot the actions read, and the action the gids
# speaks with again. "unavailable": nobody picked the chat up, so the handover is offered.
RESUMES = {"unavailable": ("unavailable", "action_offer_handover"), "back": (None, "utter_live_back")}


async def _resume(agent: Any, sender: str, what: str, output: GatewayOutput) -> None:
    """Ends the pause that action_start_live_chat began and lets the gids speak once, then listen,
    as one change of the tracker under the conversation's lock (Rasa 3.6's processor API)."""
    from rasa.core.policies.policy import PolicyPrediction
    from rasa.shared.core.events import ConversationResumed, SlotSet

    slot_value, action_name = RESUMES[what]
    processor = agent.processor
    async with agent.lock_store.lock(sender):
        tracker = await processor.fetch_tracker_and_update_session(sender, output)
        tracker.update(ConversationResumed())
        tracker.update(SlotSet("live_chat_state", slot_value))
        for name in (action_name, "action_listen"):
            action = processor._get_action(name)
            prediction = PolicyPrediction.for_action_name(processor.domain, name, "live_chat")
            await processor._run_action(action, tracker, output, processor.nlg, prediction)
        await processor.save_tracker(tracker)


def _last_bot_message(events: List[Any]) -> Optional[Dict[str, Any]]:
    from rasa.shared.core.events import BotUttered, UserUttered

    for event in reversed(events):
        if isinstance(event, UserUttered):
            return None
        if isinstance(event, BotUttered):
            return {"text": event.text, "buttons": event.data.get("buttons") or event.data.get("quick_replies"),
                    "timestamp": event.timestamp}
    return None
