"""The WhatsApp channel of the gateway over real HTTP on 127.0.0.1, three ways: Meta's webhook
into the gateway (in this process, on the maintained runtime), the gateway to the real core (the
session's ``core`` fixture: ``rasa run`` with the trained model, the internal channel, the real
action server and the redacting SQLite tracker store), and the gateway to the Graph API test
server (graph_server.py). Nothing here imports Rasa or Sanic: they live in the core's runtime."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.channels.whatsapp import WhatsAppChannel, WhatsAppSettings
from bot.db import make_engine, migrate, session_scope
from bot.db.models import ChannelContact, ChannelMessageSeen
from bot.gateway.core import CoreClient
from bot.gateway.limits import MAX_BODY_BYTES, MAX_WEBHOOK_BYTES, KeyedLocks, RateLimiter
from tests.channels.graph_server import GraphTestServer
from tests.conftest import CORE_TOKEN, free_port, tracker_events

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"
# What the gids answers to "hoi" last: the topics, ten of them, as a WhatsApp list.
HOW_CAN_I_HELP = "Waar kan ik je mee helpen? Typ je vraag of kies een onderwerp."


def new_wa_id() -> str:
    """A Dutch mobile number as WhatsApp writes it (no "+"), unique per test. Never 31612345678:
    tests of the core check that nobody ever wrote to that conversation."""
    while True:
        wa_id = "316" + str(uuid.uuid4().int)[:8]
        if wa_id != "31612345678":
            return wa_id


def new_message_id() -> str:
    return "wamid.HBgL" + uuid.uuid4().hex


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook(*, messages: List[dict] = (), statuses: List[dict] = (), wa_id: Optional[str] = None,
            phone_number_id: str = PHONE_NUMBER_ID) -> Dict[str, Any]:
    value: Dict[str, Any] = {"messaging_product": "whatsapp",
                             "metadata": {"display_phone_number": "31850000000", "phone_number_id": phone_number_id}}
    if messages:
        value["contacts"] = [{"profile": {"name": "Test Persoon"}, "wa_id": wa_id or messages[0]["from"]}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}


def message_ids(body: Dict[str, Any]) -> List[str]:
    return [m["id"] for entry in body["entry"] for change in entry["changes"]
            for m in change["value"].get("messages", [])]


def text_message(wa_id: str, body: str, message_id: Optional[str] = None, timestamp: Optional[int] = None) -> dict:
    return {"from": wa_id, "id": message_id or new_message_id(), "timestamp": str(timestamp or int(time.time())),
            "type": "text", "text": {"body": body}}


def reply_message(wa_id: str, kind: str, reply_id: str, title: str = "Keuze") -> dict:
    return {"from": wa_id, "id": new_message_id(), "timestamp": str(int(time.time())), "type": "interactive",
            "interactive": {"type": kind, kind: {"id": reply_id, "title": title}}}


def media_message(wa_id: str, kind: str) -> dict:
    content = {"id": "1234567890", "mime_type": "image/jpeg", "sha256": "abc"} if kind != "location" \
        else {"latitude": 52.5, "longitude": 6.1}
    return {"from": wa_id, "id": new_message_id(), "timestamp": str(int(time.time())), "type": kind, kind: content}


def status_update(wa_id: str, status: str = "delivered") -> dict:
    return {"id": new_message_id(), "status": status, "timestamp": str(int(time.time())), "recipient_id": wa_id}


def settings(db_url: str, graph_url: str, **overrides: Any) -> WhatsAppSettings:
    values = dict(access_token=ACCESS_TOKEN, phone_number_id=PHONE_NUMBER_ID, app_secret=APP_SECRET,
                  verify_token=VERIFY_TOKEN, graph_api_url=graph_url, database_url=db_url,
                  max_attempts=4, backoff_seconds=0.5, timeout_seconds=5.0)
    values.update(overrides)
    return WhatsAppSettings(**values)


class SleepRecorder:
    """Stands in for asyncio.sleep in the Graph client: the tests see the waits it asked for
    (backoff, Retry-After) without waiting them out."""

    def __init__(self) -> None:
        self.waits: List[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


# --- what the core and the gids database hold ------------------------------------------------------

def user_events(tracker_db: Path, wa_id: str) -> List[dict]:
    """The person's messages as the core stored them (its sender id is the wa_id)."""
    return [e for e in tracker_events(tracker_db, wa_id) if e["event"] == "user"]


def user_texts(tracker_db: Path, wa_id: str) -> List[str]:
    return [e["text"] for e in user_events(tracker_db, wa_id)]


def seen_ids(db_url: str, ids: List[str]) -> List[str]:
    """Which of these message ids the gids database records as handled."""
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return sorted(session.execute(select(ChannelMessageSeen.message_id).where(
                ChannelMessageSeen.channel == "whatsapp", ChannelMessageSeen.message_id.in_(ids))).scalars())
    finally:
        engine.dispose()


def contact_time(db_url: str, wa_id: str):
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            return session.execute(select(ChannelContact.last_inbound_at).where(
                ChannelContact.channel == "whatsapp", ChannelContact.user_id == wa_id)).scalar_one_or_none()
    finally:
        engine.dispose()


def add_to_tracker(tracker_db: Path, wa_id: str, events: List[dict]) -> None:
    """Appends events to a conversation in the core's tracker store, as Rasa's SQLTrackerStore
    writes them (it reads them back on every turn). Only for what the trained gids never says
    itself, such as a menu that WhatsApp can only show as numbered text."""
    with sqlite3.connect(str(tracker_db)) as db:
        for event in events:
            db.execute("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                       "VALUES (?, ?, ?, ?, ?, ?)",
                       (wa_id, event["event"], event["timestamp"],
                        (event.get("parse_data") or {}).get("intent", {}).get("name"), event.get("name"),
                        json.dumps(event)))


def past_turn_with_menu(user_text: str, bot_text: str, buttons: List[dict], at: float) -> List[dict]:
    """Events of one finished turn at time ``at``: the person said user_text, the gids answered
    bot_text with these buttons and listens again."""
    def listen() -> dict:
        return {"event": "action", "timestamp": at, "metadata": {}, "name": "action_listen", "policy": None,
                "confidence": None, "action_text": None, "hide_rule_turn": False}
    user = {"event": "user", "timestamp": at, "metadata": {"channel": "whatsapp"}, "text": user_text,
            "parse_data": {"text": user_text, "intent": {"name": "greet", "confidence": 1.0}, "entities": []},
            "input_channel": "whatsapp", "message_id": new_message_id()}
    bot = {"event": "bot", "timestamp": at, "metadata": {}, "text": bot_text,
           "data": {"elements": None, "quick_replies": None, "buttons": buttons, "attachment": None,
                    "image": None, "custom": None}}
    return [listen(), user, bot, listen()]


# --- the gateway's WhatsApp webhook, served ---------------------------------------------------------

@dataclass
class Served:
    url: str
    channel: WhatsAppChannel

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhooks/whatsapp/webhook"

    async def post(self, body: Any, *, signature: Optional[str] = "auto", raw: Optional[bytes] = None,
                   drain: bool = True) -> tuple:
        """(status, text) of a POST to the webhook; by default after every answer was sent."""
        data = raw if raw is not None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            signature = sign(data)
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with aiohttp.ClientSession() as session:
            async with session.post(self.webhook_url, data=data, headers=headers) as resp:
                answer = (resp.status, await resp.text())
        if drain:
            assert await self.channel.drain(timeout=120)
        return answer

    async def get(self, params: Dict[str, str], path: str = "/webhooks/whatsapp/webhook") -> tuple:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.url + path, params=params) as resp:
                return resp.status, await resp.text()


@asynccontextmanager
async def serve_app(app: web.Application, channel: WhatsAppChannel) -> AsyncIterator[Served]:
    runner = web.AppRunner(app, access_log=None)   # as ``gids gateway`` runs it
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield Served(f"http://127.0.0.1:{port}", channel)
    finally:
        await runner.cleanup()


@asynccontextmanager
async def serve(channel: WhatsAppChannel) -> AsyncIterator[Served]:
    """The channel's routes in an aiohttp app set up as bot.gateway.app.make_app sets up the
    gateway's (same body limit, the channel closed on cleanup), on a free port. make_app itself is
    tested in test_whatsapp_webhook.py; this way a test can give the channel a fake sleep, a rate
    limiter with a clock of its own, or a core that is down."""
    app = web.Application(client_max_size=max(MAX_BODY_BYTES, MAX_WEBHOOK_BYTES))
    app.add_routes(channel.routes())

    async def close(_: web.Application) -> None:
        await channel.close()
        await channel.core.close()

    app.on_cleanup.append(close)
    async with serve_app(app, channel) as served:
        yield served


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def wa_db(tmp_path_factory) -> str:
    """The gids database of the tests' gateways (SQLite), migrated."""
    url = f"sqlite:///{tmp_path_factory.mktemp('whatsapp-db') / 'gids.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def core_url(core) -> str:
    return core[0]


@pytest.fixture(scope="session")
def tracker_db(core) -> Path:
    return core[1]


@pytest.fixture
async def graph() -> AsyncIterator[GraphTestServer]:
    server = GraphTestServer(PHONE_NUMBER_ID, ACCESS_TOKEN)
    await server.start(free_port())
    yield server
    await server.stop()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def make_channel(wa_db, graph, sleeps):
    """make_channel(core_url, db=..., core_token=..., per_sender=..., answer_timeout=..., **settings)
    -> a WhatsAppChannel on the gids database ``wa_db`` (or ``db``). Without core_url its core is
    down: a port nothing listens on. Tests that need the real core use ``channel_to_core``."""
    made: List[WhatsAppChannel] = []

    def make(core_url: Optional[str] = None, *, db: Optional[str] = None, core_token: str = CORE_TOKEN,
             per_sender: Optional[RateLimiter] = None, answer_timeout: float = 20.0,
             **overrides: Any) -> WhatsAppChannel:
        url = core_url or f"http://127.0.0.1:{free_port()}"
        channel = WhatsAppChannel(CoreClient(url, core_token, timeout_seconds=60),
                                  settings(db or wa_db, graph.base_url, **overrides), sleep=sleeps,
                                  per_sender=per_sender, locks=KeyedLocks(), answer_timeout=answer_timeout)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        await channel.close()
        await channel.core.close()


@pytest.fixture
def channel_to_core(make_channel, core_url):
    """make_channel with the real core."""
    def make(**overrides: Any) -> WhatsAppChannel:
        return make_channel(core_url, **overrides)
    return make


@pytest.fixture
async def served(channel_to_core) -> AsyncIterator[Served]:
    async with serve(channel_to_core()) as s:
        yield s
