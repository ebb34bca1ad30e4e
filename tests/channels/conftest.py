"""Real HTTP both ways on 127.0.0.1: the WhatsApp channel mounted by Rasa's own
``rasa.core.run.configure_app`` in a Sanic server, and the Graph API test server it sends to."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional

import aiohttp
import pytest
from sanic import Sanic
from sqlalchemy import create_engine, text

from bot.channels.whatsapp import WhatsAppInput, WhatsAppSettings
from bot.db import migrate
from tests.channels.graph_server import GraphTestServer
from tests.conftest import free_port, require_service

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
ACCESS_TOKEN = "test-access-token"
PHONE_NUMBER_ID = "106540352242922"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def new_wa_id() -> str:
    """A Dutch mobile number as WhatsApp writes it (no "+"), unique per test."""
    return "316" + str(uuid.uuid4().int)[:8]


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


@dataclass
class RecordingAgent:
    """Stands where Rasa's Agent stands (``app.ctx.agent``): records each UserMessage and answers
    through the message's own output channel, as Rasa's processor does."""
    answers: Dict[str, List[dict]] = field(default_factory=dict)   # incoming text -> bot messages
    default: List[dict] = field(default_factory=lambda: [{"text": "Dat heb ik gelezen."}])
    received: List[Any] = field(default_factory=list)
    ready: bool = True
    tracker_store: Any = None   # a real Rasa tracker store, to test the numbered menu after a restart

    def is_ready(self) -> bool:
        return self.ready

    async def handle_message(self, message) -> None:
        self.received.append(message)
        out = self.answers.get(message.text, self.default)
        for bot_message in out:
            await message.output_channel.send_response(message.sender_id, json.loads(json.dumps(bot_message)))
        if self.tracker_store is not None:
            from rasa.shared.core.events import BotUttered, UserUttered

            tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
            tracker.update(UserUttered(message.text, input_channel=message.input_channel))
            for bot_message in out:
                data = {k: v for k, v in bot_message.items() if k != "text"}
                tracker.update(BotUttered(bot_message.get("text"), data=data))
            await self.tracker_store.save(tracker)

    def texts(self, wa_id: Optional[str] = None) -> List[str]:
        return [m.text for m in self.received if wa_id is None or m.sender_id == wa_id]


@dataclass
class Served:
    url: str
    channel: WhatsAppInput
    agent: Any

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhooks/whatsapp/webhook"

    async def post(self, body: Any, *, signature: Optional[str] = "auto", raw: Optional[bytes] = None,
                   drain: bool = True) -> tuple:
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
            assert await self.channel.drain(timeout=60)
        return answer

    async def get(self, params: Dict[str, str]) -> tuple:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.webhook_url, params=params) as resp:
                return resp.status, await resp.text()


@asynccontextmanager
async def serve(channel: WhatsAppInput, agent: Any) -> AsyncIterator[Served]:
    """The channel in a Rasa Sanic app (route /webhooks/whatsapp/...) on a free port."""
    from rasa.core.run import configure_app

    Sanic.test_mode = True  # several apps of the same name in one process
    app = configure_app([channel], enable_api=False)
    app.ctx.agent = agent
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield Served(f"http://127.0.0.1:{port}", channel, agent)
    finally:
        await server.before_stop()
        for connection in list(server.connections):
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()


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
        import asyncio

        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('whatsapp-db') / 'gids.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def any_db_url(request, tmp_path_factory):
    """The gids database on SQLite and on PostgreSQL (127.0.0.1:5432), migrated."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('whatsapp-any') / 'gids.db'}"
        migrate.upgrade(url)
        yield url
        return
    require_service("PostgreSQL", 5432)
    name = f"gids_whatsapp_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    migrate.upgrade(url)
    yield url
    from bot.db import engine_for

    engine_for(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


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
async def make_channel(db_url, graph, sleeps):
    made: List[WhatsAppInput] = []

    def make(**overrides: Any) -> WhatsAppInput:
        url = overrides.pop("db", db_url)
        made.append(WhatsAppInput(settings(url, graph.base_url, **overrides), sleep=sleeps))
        return made[-1]
    yield make
    for channel in made:
        await channel.graph.close()


@pytest.fixture
async def served(make_channel) -> AsyncIterator[Served]:
    channel = make_channel()
    async with serve(channel, RecordingAgent()) as s:
        yield s
