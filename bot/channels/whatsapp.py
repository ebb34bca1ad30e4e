"""WhatsApp (Meta WhatsApp Cloud API), served by the gateway.

Webhook ``https://<host>/webhooks/whatsapp/webhook`` (GET: Meta's verification handshake, POST:
messages); the settings come from the environment (WHATSAPP_*, see WhatsAppSettings).

Inbound: every POST must carry Meta's ``X-Hub-Signature-256`` over the raw body. Each message goes
to the core (bot.core.channel) one at a time per person, in the order they came; its id is recorded
in ChannelMessageSeen only after the core answered, and Meta gets its 200 only then. So a crash, a
core that is down or a database that is down loses nothing: Meta delivers again (503), and a
redelivery of a handled message is skipped, also on another replica or after a restart. The
answers are sent to Graph after that, still in order. The core's sender id is the person's
WhatsApp id (wa_id: the phone number, international form, no "+"), so a handover can offer it as
contact; the web chat's ids (bot.gateway.ids) can never take that form. Button and list replies
arrive as the payload itself.

Outbound: text; buttons as WhatsApp reply buttons (at most 3, titles up to 20 characters), else as
a list (at most 10 rows, titles up to 24), else as numbered text, where a reply "2" then means the
second payload. Outside WhatsApp's 24-hour customer-service window only an approved template may be
sent. See graph_api.py for retries and why nothing is sent twice.

Logs hold neither message text nor phone numbers (``mask``)."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from aiohttp import web
from sqlalchemy.engine import Engine

from bot import messages
from bot.channels import records
from bot.channels.graph_api import DEFAULT_GRAPH_API_URL, OUTSIDE_WINDOW_ERROR, GraphClient
from bot.db import DatabaseUnavailable, engine_for, get_engine
from bot.gateway.core import CoreClient, CoreUnavailable
from bot.gateway.limits import MAX_MESSAGE_CHARS, MAX_WEBHOOK_BYTES, KeyedLocks, RateLimiter
from bot.gateway.live import LiveDesk
from bot import live as live_store
from bot.live import FeedItem

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"

# What a person reads (B1, "je").
TEXT_ONLY = "Ik kan alleen tekst lezen. Typ je vraag in een bericht."
CHOOSE_BY_NUMBER = "Typ het nummer van je keuze."
CHOOSE_DEFAULT_BODY = "Maak een keuze."
LIST_BUTTON = "Bekijk de keuzes"      # the button that opens a list: at most 20 characters
LIST_SECTION = "Keuzes"               # section title: at most 24 characters
IMAGE_LINK = "Bekijk de afbeelding: {url}"
ATTACHMENT_LINK = "Bekijk de bijlage: {url}"

# Limits of the Cloud API (interactive messages).
MAX_REPLY_BUTTONS, MAX_BUTTON_TITLE, MAX_BUTTON_ID = 3, 20, 256
MAX_LIST_ROWS, MAX_ROW_TITLE, MAX_ROW_ID = 10, 24, 200
MAX_INTERACTIVE_BODY = 1024
MAX_TEXT = 4096

# A minute's margin: the window runs from the person's message on Meta's clock, not ours.
WINDOW = timedelta(hours=24) - timedelta(minutes=1)
WINDOW_RECHECK = timedelta(seconds=60)
MENU_TTL = timedelta(hours=24)         # "2" a week after a menu is just "2"
SEEN_KEEP = timedelta(days=14)         # Meta stops redelivering after at most 7 days
SEEN_PRUNE_EVERY = timedelta(hours=1)

TEXT, CHOICE, UNSUPPORTED, IGNORED = "text", "choice", "unsupported", "ignored"
BUTTONS, LIST, NUMBERED, PLAIN = "buttons", "list", "numbered", "plain"

_NUMBER = re.compile(r"\s*(\d{1,2})\s*[.)]?\s*")

ENVIRONMENT = {
    "access_token": "WHATSAPP_ACCESS_TOKEN",
    "phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
    "app_secret": "WHATSAPP_APP_SECRET",
    "verify_token": "WHATSAPP_VERIFY_TOKEN",
    "graph_api_url": "WHATSAPP_GRAPH_API_URL",
    "template_name": "WHATSAPP_TEMPLATE_NAME",
    "template_language": "WHATSAPP_TEMPLATE_LANGUAGE",
}
REQUIRED = ("access_token", "phone_number_id", "app_secret", "verify_token")


def utcnow() -> datetime:
    """Naive UTC, as every time in the gids database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --- settings -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WhatsAppSettings:
    access_token: str = field(default="", repr=False)
    phone_number_id: str = ""
    app_secret: str = field(default="", repr=False)
    verify_token: str = field(default="", repr=False)
    graph_api_url: str = DEFAULT_GRAPH_API_URL
    template_name: str = ""
    template_language: str = "nl"
    database_url: str = field(default="", repr=False)  # "" = DATABASE_URL or var/gids.db
    max_attempts: int = 5
    backoff_seconds: float = 1.0
    timeout_seconds: float = 15.0

    @classmethod
    def load(cls, credentials: Optional[Mapping[str, Any]],
             environ: Mapping[str, str] = os.environ) -> "WhatsAppSettings":
        """A setting in credentials.yml wins; an empty or absent one comes from the environment.

        Rasa does expand ``${VAR}`` in credentials.yml, but stops the whole server when VAR is unset,
        which would break every installation without WhatsApp; hence the environment is read here."""
        credentials = dict(credentials or {})
        known = {f.name: f for f in fields(cls)}
        for key in set(credentials) - set(known):
            logger.warning("credentials.yml, WhatsApp: unknown setting %r is ignored", key)
        values: Dict[str, Any] = {}
        for name, spec in known.items():
            raw = credentials.get(name)
            if raw in (None, "") and name in ENVIRONMENT:
                raw = environ.get(ENVIRONMENT[name])
            value = "" if raw is None else str(raw).strip()  # a stray newline would break a header
            if not value:
                continue
            if isinstance(spec.default, str):
                values[name] = value
                continue
            try:
                values[name] = float(value) if isinstance(spec.default, float) else int(value)
            except ValueError:
                logger.warning("credentials.yml, WhatsApp: %s is not a number; the default is used", name)
        return cls(**values)

    def missing(self) -> List[str]:
        return [ENVIRONMENT[name] for name in REQUIRED if not getattr(self, name)]


# --- inbound --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Inbound:
    message_id: str
    sender: str          # wa_id
    kind: str            # text, choice, unsupported, ignored
    text: str
    sent_at: datetime    # naive UTC


@dataclass
class WebhookBatch:
    messages: List[Inbound] = field(default_factory=list)
    statuses: int = 0
    errors: int = 0
    skipped: int = 0     # malformed, or for another phone number of the same Meta app


def _sent_at(timestamp: Any, now: datetime) -> datetime:
    try:
        when = datetime.fromtimestamp(int(timestamp), timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return min(when, now)  # a clock ahead of ours must not stretch the 24-hour window


def parse_message(message: Any, now: datetime) -> Optional[Inbound]:
    """One entry of ``value.messages``; None when it lacks an id or a sender."""
    if not isinstance(message, dict):
        return None
    message_id, sender = message.get("id"), message.get("from")
    if not (isinstance(message_id, str) and message_id and isinstance(sender, str) and sender):
        return None
    kind, text = UNSUPPORTED, ""
    mtype = message.get("type")
    if mtype == "text":
        body = message["text"].get("body") if isinstance(message.get("text"), dict) else None
        kind, text = TEXT, body if isinstance(body, str) else ""
    elif mtype == "interactive" and isinstance(message.get("interactive"), dict):
        interactive = message["interactive"]
        sub = interactive.get("type")
        reply = interactive.get(sub) if sub in ("button_reply", "list_reply") else None
        if isinstance(reply, dict):
            # The id is the Rasa payload this channel sent ("/affirm", '/inform_location{...}').
            value = reply.get("id") or reply.get("title")
            if isinstance(value, str) and value:
                kind, text = CHOICE, value
    elif mtype == "button" and isinstance(message.get("button"), dict):
        # A quick-reply button of a template: its label is what the person said.
        value = message["button"].get("text") or message["button"].get("payload")
        if isinstance(value, str) and value:
            kind, text = TEXT, value
    elif mtype in ("reaction", "system", "ephemeral"):
        kind = IGNORED
    return Inbound(message_id, sender, kind, text, _sent_at(message.get("timestamp"), now))


def parse_webhook(body: Mapping[str, Any], phone_number_id: str, now: datetime) -> WebhookBatch:
    """The parts of a Cloud API webhook this channel acts on. Tolerant: Meta adds fields."""
    batch = WebhookBatch()
    entries = body.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or change.get("field", "messages") != "messages":
                continue
            meta = value.get("metadata")
            items = value.get("messages")
            if not isinstance(items, list):
                items = []
            if isinstance(meta, dict) and meta.get("phone_number_id") not in (None, phone_number_id):
                batch.skipped += len(items)
                continue
            batch.statuses += len(value.get("statuses") or [])
            batch.errors += len(value.get("errors") or [])
            for item in items:
                parsed = parse_message(item, now)
                if parsed is None:
                    batch.skipped += 1
                else:
                    batch.messages.append(parsed)
    return batch


# --- outbound rendering ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ButtonPlan:
    kind: str                               # buttons, list, numbered, plain
    body: str
    options: Tuple[Tuple[str, str], ...]    # (title, payload)

    @property
    def payloads(self) -> List[str]:
        return [payload for _, payload in self.options]


def plan_buttons(text: Optional[str], buttons: Iterable[Mapping[str, Any]]) -> ButtonPlan:
    """How a Rasa message with buttons goes to WhatsApp. Deterministic: the tracker holds the
    buttons, so after a restart the same plan tells whether a numbered menu was shown."""
    body = (text or "").strip()
    options: List[Tuple[str, str]] = []
    links: List[str] = []
    for button in buttons or []:
        if not isinstance(button, Mapping):
            continue
        title = str(button.get("title") or "").strip()
        payload = button.get("payload")
        if isinstance(payload, str) and payload.strip():
            options.append((title or payload.strip(), payload.strip()))
        elif button.get("url"):
            links.append(f"{title}: {button['url']}" if title else str(button["url"]))
    if links:
        body = "\n".join([body, *links]) if body else "\n".join(links)
    if not options:
        return ButtonPlan(PLAIN, body, ())
    interactive_body = body or CHOOSE_DEFAULT_BODY
    unique = len({p for _, p in options}) == len(options)
    fits = unique and len(interactive_body) <= MAX_INTERACTIVE_BODY
    if fits and len(options) <= MAX_REPLY_BUTTONS and all(
            len(t) <= MAX_BUTTON_TITLE and len(p) <= MAX_BUTTON_ID for t, p in options):
        return ButtonPlan(BUTTONS, interactive_body, tuple(options))
    if fits and len(options) <= MAX_LIST_ROWS and all(
            len(t) <= MAX_ROW_TITLE and len(p) <= MAX_ROW_ID for t, p in options):
        return ButtonPlan(LIST, interactive_body, tuple(options))
    return ButtonPlan(NUMBERED, body, tuple(options))


def interactive_payload(plan: ButtonPlan) -> Dict[str, Any]:
    action: Dict[str, Any]
    if plan.kind == BUTTONS:
        action = {"buttons": [{"type": "reply", "reply": {"id": p, "title": t}} for t, p in plan.options]}
        return {"type": "interactive", "interactive": {"type": "button", "body": {"text": plan.body},
                                                       "action": action}}
    rows = [{"id": p, "title": t} for t, p in plan.options]
    action = {"button": LIST_BUTTON, "sections": [{"title": LIST_SECTION, "rows": rows}]}
    return {"type": "interactive", "interactive": {"type": "list", "body": {"text": plan.body},
                                                   "action": action}}


def numbered_text(plan: ButtonPlan) -> str:
    menu = "\n".join(f"{i}. {title}" for i, (title, _) in enumerate(plan.options, start=1))
    return "\n\n".join(part for part in (plan.body, menu, CHOOSE_BY_NUMBER) if part)


def split_text(text: str, limit: int = MAX_TEXT) -> List[str]:
    """WhatsApp text messages hold at most 4,096 characters: cut at paragraphs, else hard."""
    text = text.strip()
    parts: List[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        while len(paragraph) > limit:
            parts.append(paragraph[:limit])
            paragraph = paragraph[limit:]
        current = paragraph
    if current:
        parts.append(current)
    return parts


def custom_to_text(custom: Any) -> Optional[str]:
    """A readable version of a custom message for WhatsApp, or None when there is none.

    The routing action sends a partner card as ``{"type": "partner_card", ...card}`` (also accepted:
    ``{"partner_card": {...}}``); the web widget draws it, WhatsApp gets bot.messages.partner_card."""
    if not isinstance(custom, Mapping):
        return None
    card = custom.get("partner_card")
    if not isinstance(card, Mapping):
        card = custom if custom.get("type") == "partner_card" else None
    if card is not None:
        if not (card.get("partner") and card.get("service")):
            return None
        contact = card.get("contact") if isinstance(card.get("contact"), Mapping) else {}
        return messages.partner_card({**card, "contact": contact})
    text = custom.get("text")
    return text if isinstance(text, str) and text.strip() else None


# --- helpers --------------------------------------------------------------------------------------

class MenuMemory:
    """The last numbered menu per person, in this process: a list of payloads, or None for "the
    last bot turn had no numbered menu". Absent = unknown (after a restart): ask the tracker."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._data: "OrderedDict[str, Tuple[Optional[List[str]], float]]" = OrderedDict()

    def set(self, user: str, payloads: Optional[List[str]]) -> None:
        self._data[user] = (payloads, time.time())
        self._data.move_to_end(user)
        while len(self._data) > self._size:
            self._data.popitem(last=False)

    def get(self, user: str) -> Tuple[bool, Optional[List[str]]]:
        if user not in self._data:
            return False, None
        payloads, at = self._data[user]
        return True, payloads if time.time() - at < MENU_TTL.total_seconds() else None


# --- answers --------------------------------------------------------------------------------------

class WhatsAppReplies:
    """The answers of one turn, sent to Graph in order."""

    def __init__(self, channel: "WhatsAppChannel", inbound_at: Optional[datetime] = None) -> None:
        self._channel = channel
        # When the message that started this turn was written: the window is open even when the
        # database cannot be read.
        self._last_inbound: Optional[datetime] = inbound_at
        self._checked_at: Optional[datetime] = None
        self._window_closed = False       # set when Graph says so (error 131047)
        self.sent = 0                     # messages Graph (maybe) took
        self._template_done = False       # the template (or the warning) is once per turn

    async def send_response(self, recipient_id: str, message: Mapping[str, Any]) -> None:
        # One bot message is one WhatsApp message: a text that comes with a custom payload (the
        # partner card) already is its readable form, so the custom part is not sent again.
        text = message.get("text") or ""
        buttons = message.get("buttons") or message.get("quick_replies")
        if buttons:
            await self.send_text_with_buttons(recipient_id, text, buttons)
        elif text.strip():
            await self.send_text_message(recipient_id, text)
        elif message.get("custom") is not None:
            await self.send_custom_json(recipient_id, message["custom"])
        if message.get("image"):
            await self.send_image_url(recipient_id, message["image"])
        if message.get("attachment"):
            await self.send_attachment(recipient_id, message["attachment"])

    async def send_text_message(self, recipient_id: str, text: str) -> None:
        await self._send_text(recipient_id, text, preview=False)

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]]) -> None:
        plan = plan_buttons(text, buttons)
        if plan.kind in (BUTTONS, LIST):
            await self._deliver(recipient_id, interactive_payload(plan), plan.kind)
        elif plan.kind == NUMBERED:
            if await self._send_text(recipient_id, numbered_text(plan), preview=False):
                self._channel.menus.set(recipient_id, plan.payloads)
        elif plan.body:
            await self._send_text(recipient_id, plan.body, preview=False)

    async def send_custom_json(self, recipient_id: str, json_message: Any) -> None:
        text = custom_to_text(json_message)
        if text:
            await self._send_text(recipient_id, text, preview=False)
        else:
            logger.debug("WhatsApp: a custom message without a text form was not sent")

    async def send_image_url(self, recipient_id: str, image: str) -> None:
        await self._send_text(recipient_id, IMAGE_LINK.format(url=image), preview=True)

    async def send_attachment(self, recipient_id: str, attachment: Any) -> None:
        url = attachment.get("url") if isinstance(attachment, Mapping) else attachment
        if isinstance(url, str) and url.strip():
            await self._send_text(recipient_id, ATTACHMENT_LINK.format(url=url.strip()), preview=True)

    async def _send_text(self, recipient_id: str, text: str, preview: bool) -> bool:
        delivered = False
        for part in split_text(text or ""):
            payload = {"type": "text", "text": {"preview_url": preview, "body": part}}
            delivered = await self._deliver(recipient_id, payload, "text") or delivered
        return delivered

    async def _deliver(self, recipient_id: str, content: Dict[str, Any], what: str) -> bool:
        """Send one message, or the template when the window is closed. True when it (maybe) went."""
        channel = self._channel
        if not channel.can_send:
            logger.warning("WhatsApp %s to %s not sent: %s not set", what, channel.mask(recipient_id),
                           ", ".join(channel.settings.missing()))
            return False
        if not await self._window_open(recipient_id):
            await self._send_template(recipient_id)
            return False
        result = await channel.graph.send(_envelope(recipient_id, content), who=channel.mask(recipient_id),
                                          what=what)
        if result.error_code == OUTSIDE_WINDOW_ERROR:
            self._window_closed = True  # Meta's clock decides; ours was behind
            await self._send_template(recipient_id)
            return False
        self.sent += bool(result.maybe_delivered)
        return result.maybe_delivered

    async def _window_open(self, recipient_id: str) -> bool:
        if self._window_closed:
            return False
        now = utcnow()
        if self._checked_at is None or now - self._checked_at > WINDOW_RECHECK:
            try:
                stored = await asyncio.to_thread(records.last_inbound, self._channel.engine, CHANNEL,
                                                 recipient_id)
            except DatabaseUnavailable:
                stored = None
                if self._last_inbound is None:
                    # Unknown: try free text; outside the window Graph answers 131047 and the
                    # template follows.
                    logger.warning("WhatsApp: database unavailable, 24-hour window of %s unknown",
                                   self._channel.mask(recipient_id))
                    return True
            self._checked_at = now
            if stored is not None and (self._last_inbound is None or stored > self._last_inbound):
                self._last_inbound = stored
        return self._last_inbound is not None and now - self._last_inbound < WINDOW

    async def _send_template(self, recipient_id: str) -> None:
        if self._template_done:
            return
        self._template_done = True
        settings, who = self._channel.settings, self._channel.mask(recipient_id)
        if not settings.template_name:
            logger.warning("WhatsApp: the 24-hour window of %s is closed and no template is configured "
                           "(WHATSAPP_TEMPLATE_NAME); nothing sent", who)
            return
        content = {"type": "template", "template": {"name": settings.template_name,
                                                    "language": {"code": settings.template_language}}}
        await self._channel.graph.send(_envelope(recipient_id, content), who=who, what="template")


def _envelope(recipient_id: str, content: Dict[str, Any]) -> Dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": recipient_id, **content}


# --- the webhook ----------------------------------------------------------------------------------

class WhatsAppChannel:
    """The WhatsApp Cloud API webhook. One instance serves all WhatsApp conversations."""

    def __init__(self, core: CoreClient, settings: Optional[WhatsAppSettings] = None, *,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 per_sender: Optional[RateLimiter] = None, locks: Optional[KeyedLocks] = None,
                 answer_timeout: float = 20.0) -> None:
        self.core = core
        self.settings = settings or WhatsAppSettings.load(None)
        s = self.settings
        self.graph = GraphClient(s.graph_api_url, s.phone_number_id, s.access_token,
                                 max_attempts=s.max_attempts, backoff_seconds=s.backoff_seconds,
                                 timeout_seconds=s.timeout_seconds, sleep=sleep)
        self.menus = MenuMemory()
        self.per_sender = per_sender or RateLimiter(burst=10, per_minute=30)
        self._locks = locks or KeyedLocks()
        self._in_flight: Set[str] = set()      # message ids this process is handling now
        self._tasks: Set[asyncio.Task] = set()
        self._engine: Optional[Engine] = None
        self._last_prune: Optional[datetime] = None
        self.live: Optional[LiveDesk] = None  # the live chat with staff (bot.gateway.live)
        # Meta waits about 20 s for the 200; a slower core means "deliver again" (503).
        self.answer_timeout = answer_timeout
        # Pseudonyms in logs: keyed, because phone numbers are few enough to hash them all.
        self._mask_key = (s.app_secret or os.urandom(16).hex()).encode()
        if s.missing():
            logger.warning("WhatsApp channel not fully configured (%s not set): its webhook refuses "
                           "requests it cannot check and nothing can be sent", ", ".join(s.missing()))

    # -- shared state ---------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = engine_for(self.settings.database_url) if self.settings.database_url else get_engine()
        return self._engine

    @property
    def can_send(self) -> bool:
        return bool(self.settings.access_token and self.settings.phone_number_id)

    def mask(self, wa_id: str) -> str:
        return "wa:" + hmac.new(self._mask_key, wa_id.encode(), hashlib.sha256).hexdigest()[:10]

    async def drain(self, timeout: Optional[float] = None) -> bool:
        """Wait until every background send is done; False when ``timeout`` passed first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            _, pending = await asyncio.wait(set(self._tasks), timeout=remaining)
            if pending and deadline is not None and loop.time() >= deadline:
                return False
        return True

    async def close(self) -> None:
        if not await self.drain(timeout=30):
            logger.error("WhatsApp: stopped with %d answers still being sent", len(self._tasks))
        await self.graph.close()

    def _spawn(self, coro: Awaitable[Any], what: str) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # a task nobody references may be garbage-collected mid-way

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                exc = t.exception()
                logger.error("WhatsApp: %s failed (%s)", what, type(exc).__name__)
                logger.debug("WhatsApp: %s failed", what, exc_info=exc)
        task.add_done_callback(done)
        return task

    # -- webhook --------------------------------------------------------------------------------

    def verify_challenge(self, args: Mapping[str, Any]) -> Optional[str]:
        """Meta's subscription handshake: the challenge to echo, or None to refuse."""
        mode, token = args.get("hub.mode"), args.get("hub.verify_token")
        challenge = args.get("hub.challenge")
        expected = self.settings.verify_token
        if not (expected and mode == "subscribe" and isinstance(token, str) and isinstance(challenge, str)):
            return None
        if not hmac.compare_digest(token.encode("utf-8", "replace"), expected.encode("utf-8")):
            return None
        return challenge if len(challenge) <= 200 else None

    def signature_ok(self, raw: bytes, header: Optional[str]) -> bool:
        secret = self.settings.app_secret
        if not secret or not header or not header.startswith("sha256="):
            return False
        expected = hmac.new(secret.encode("utf-8"), raw, hashlib.sha256).hexdigest()
        given = header[len("sha256="):].strip().lower()
        return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii"))

    def routes(self) -> list:
        return [web.get("/webhooks/whatsapp/", self.health),
                web.get("/webhooks/whatsapp/webhook", self.verify),
                web.post("/webhooks/whatsapp/webhook", self.receive)]

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def verify(self, request: web.Request) -> web.Response:
        args = {key: request.query.get(key) for key in ("hub.mode", "hub.verify_token", "hub.challenge")}
        challenge = self.verify_challenge(args)
        if challenge is None:
            logger.warning("WhatsApp webhook verification refused (wrong mode or verify token)")
            return web.Response(text="forbidden", status=403)
        return web.Response(text=challenge)

    async def receive(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_WEBHOOK_BYTES:
            return web.Response(text="too large", status=413)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.Response(text="too large", status=413)
        if not self.signature_ok(raw, request.headers.get("X-Hub-Signature-256")):
            logger.warning("WhatsApp webhook: missing or wrong signature, request refused")
            return web.Response(text="invalid signature", status=403)
        try:
            body = json.loads(raw)
        except ValueError:
            return web.Response(text="the body is not valid JSON", status=400)
        if not isinstance(body, dict):
            return web.Response(text="the body must be a JSON object", status=400)
        return await self.accept(body)

    async def accept(self, body: Mapping[str, Any]) -> web.Response:
        """Handle a verified delivery: 200 when every message in it is handled (now or before),
        503 when one could not be (Meta then delivers the whole batch again)."""
        now = utcnow()
        batch = parse_webhook(body, self.settings.phone_number_id, now)
        if batch.statuses or batch.errors or batch.skipped:
            logger.debug("WhatsApp webhook: %d statuses, %d errors ignored, %d messages skipped",
                         batch.statuses, batch.errors, batch.skipped)
        results = await asyncio.gather(*(self._handle(inbound) for inbound in batch.messages))
        if self._last_prune is None or now - self._last_prune > SEEN_PRUNE_EVERY:
            self._last_prune = now
            self._spawn(asyncio.to_thread(records.purge_seen, self.engine, now - SEEN_KEEP),
                        "pruning old message ids")
        if not all(results):
            logger.error("WhatsApp webhook: %d of %d messages not handled; asked Meta to deliver again",
                         results.count(False), len(results))
            return web.Response(text="not handled, deliver again later", status=503)
        return web.Response(text="ok")

    async def _handle(self, inbound: Inbound) -> bool:
        """True when the message is handled (now, or before). The answers are sent afterwards."""
        key = inbound.message_id
        if key in self._in_flight:
            return True  # this process has it; Meta's second copy needs no second turn
        self._in_flight.add(key)
        answered: "asyncio.Future[bool]" = asyncio.get_running_loop().create_future()
        try:
            self._spawn(self._process(inbound, answered), "handling a message")
            try:
                return await asyncio.wait_for(asyncio.shield(answered), self.answer_timeout)
            except asyncio.TimeoutError:
                return False
        finally:
            self._in_flight.discard(key)

    async def _process(self, inbound: Inbound, answered: "asyncio.Future[bool]") -> None:
        def settle(ok: bool) -> None:
            if not answered.done():
                answered.set_result(ok)

        # One message at a time per person, in the order they came, answers included.
        async with self._locks.hold(inbound.sender):
            try:
                if await asyncio.to_thread(records.is_handled, self.engine, CHANNEL, inbound.message_id):
                    logger.info("WhatsApp: message from %s already handled, skipped", self.mask(inbound.sender))
                    settle(True)
                    return
                await asyncio.to_thread(records.touch_contact, self.engine, CHANNEL, inbound.sender,
                                        inbound.sent_at)
            except DatabaseUnavailable:
                settle(False)
                return
            replies = WhatsAppReplies(self, inbound_at=inbound.sent_at)
            answers: Sequence[Mapping[str, Any]] = []
            live_replies: Sequence[FeedItem] = []
            if inbound.kind == UNSUPPORTED:
                self.core.metrics.refused(CHANNEL, "unsupported")
                answers = [{"text": TEXT_ONLY}]
            # A choice carries what the person's app sent as the reply id: capped and counted like
            # text (the core refuses over 5,000 characters, which would be a 503 for ever).
            elif inbound.kind in (TEXT, CHOICE) and len(inbound.text) > MAX_MESSAGE_CHARS:
                self.core.metrics.refused(CHANNEL, "too_long")
                answers = [{"text": messages.MESSAGE_TOO_LONG}]
            elif inbound.kind in (TEXT, CHOICE) and not self.per_sender.allow(inbound.sender):
                self.core.metrics.refused(CHANNEL, "rate_limited")
                answers = [{"text": messages.SLOW_DOWN}]
            elif inbound.kind != IGNORED:
                stored = None
                if self.live is not None:
                    try:
                        # The WhatsApp id keeps a redelivered message from being stored twice.
                        stored = await self.live.person_message(CHANNEL, inbound.sender, inbound.text,
                                                                client_ref=inbound.message_id)
                    except DatabaseUnavailable:
                        settle(False)  # Meta delivers again
                        return
                if stored is not None:
                    live_replies = stored.replies  # for the staff member; a crisis answer comes now
                else:
                    text = inbound.text
                    if inbound.kind == TEXT:
                        text = await self._numbered_choice(inbound.sender, text) or text
                    try:
                        answers = await self.core.turn(inbound.sender, text, CHANNEL, message_id=inbound.message_id)
                    except CoreUnavailable as exc:
                        logger.error("WhatsApp: %s; Meta will deliver the message again", exc)
                        settle(False)
                        return
                    self.menus.set(inbound.sender, None)  # this turn answers (or passes) any earlier menu
            try:
                new = await asyncio.to_thread(records.claim_message, self.engine, CHANNEL,
                                              inbound.message_id, utcnow())
            except DatabaseUnavailable:
                # The core has it; a redelivery would be a second turn. Answer now and say so.
                logger.error("WhatsApp: handled message from %s could not be recorded", self.mask(inbound.sender))
                new = True
            settle(True)
            if not new:
                # Another replica recorded it first and sends its turn's answers: the person gets
                # one turn's answers, not two (graph_api.py: nothing twice).
                logger.warning("WhatsApp: message from %s was handled twice (two deliveries at once); "
                               "the other replica sends the answers", self.mask(inbound.sender))
                return
            for answer in answers:
                await replies.send_response(inbound.sender, answer)
            for item in live_replies:
                error = await self.send_live(item)
                if self.live is not None:
                    await self.live.delivered(item.id, error)

    # -- live chat with staff (bot.gateway.live) -----------------------------------------------

    async def send_live(self, item: FeedItem) -> Optional[str]:
        """Sends one live chat message; None when Graph took it, else why not (for staff)."""
        replies = WhatsAppReplies(self)
        if not self.can_send:
            return "WhatsApp is niet ingesteld"
        if not await replies._window_open(item.conversation_id):
            return "buiten het 24-uursvenster van WhatsApp"
        text = f"{item.staff_name}: {item.text}" if item.author == "staff" and item.staff_name else item.text
        await replies.send_response(item.conversation_id, {"text": text, "buttons": item.buttons})
        return None if replies.sent else "WhatsApp nam het bericht niet aan"

    async def deliver_live(self, item: FeedItem) -> None:
        """The desk's delivery: one gateway claims the message, sends it and records the result."""
        desk = self.live
        if desk is None or not await desk.db(live_store.claim_delivery, item.id):
            return
        error = await self.send_live(item)
        await desk.delivered(item.id, error)
        if error:
            logger.warning("WhatsApp: live chat message to %s not delivered: %s", self.mask(item.conversation_id),
                           error)

    async def _numbered_choice(self, sender: str, text: str) -> Optional[str]:
        match = _NUMBER.fullmatch(text or "")
        if not match:
            return None
        known, payloads = self.menus.get(sender)
        if not known:
            payloads = await self._menu_from_core(sender)
        number = int(match.group(1))
        if payloads and 1 <= number <= len(payloads):
            return payloads[number - 1]
        return None

    async def _menu_from_core(self, sender: str) -> Optional[List[str]]:
        """After a restart (or on another replica): the numbered menu of the last bot turn, which
        the core keeps in the tracker with each bot message's buttons."""
        try:
            last = await self.core.last_bot_message(sender)
        except CoreUnavailable as exc:  # the message itself must still go through
            logger.warning("WhatsApp: no numbered menu from the core (%s)", exc)
            return None
        if not last or not last.get("buttons"):
            return None
        if time.time() - float(last.get("timestamp") or 0) >= MENU_TTL.total_seconds():
            return None
        plan = plan_buttons(last.get("text"), last["buttons"])
        return plan.payloads if plan.kind == NUMBERED else None
