"""Fixtures for the handover tests: a fresh seeded database per test (SQLite and PostgreSQL),
handovers made with bot.handover.create_handover, and real receivers on 127.0.0.1: an aiosmtpd
SMTP server and an aiohttp webhook endpoint that can fail on purpose.

The outbox is global state (deliver_due sends whatever is due), so every test gets its own
database: a copy of a seeded SQLite file, or a PostgreSQL database made from a seeded template."""
from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import ssl
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import pytest
from aiohttp import web

from bot.db import make_engine, session_scope
from bot.db.models import Gemeente, Partner
from bot.handover import TranscriptEntry, create_handover
from tests.conftest import free_port


# What a person typed and shared: none of it may reach an e-mail or a log line.
CONTACT_NAME = "Fatima El Amrani"
CONTACT_PHONE = "0612345678"
TRANSCRIPT = (
    TranscriptEntry("persoon", "Ik heb schulden en ik wil een andere baan leren"),
    TranscriptEntry("gids", "Hulp bij schulden krijg je bij je gemeente."),
    TranscriptEntry("persoon", "Mijn werkgever betaalt al twee maanden niet <script>alert(1)</script>"),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db_url(request, fresh_seeded_db):
    """A migrated, seeded database of its own for one test, on SQLite and on PostgreSQL."""
    return fresh_seeded_db(request.param)


@pytest.fixture
def fresh_engine(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_handover(fresh_engine):
    """make_handover(partner_id, email=..., webhook=...) sets the partner's handover channels and
    creates a handover for it (with contact details and a transcript); returns its reference."""
    def make(partner_id: str = "uwv", *, email: Optional[str] = None, webhook: Optional[str] = None,
             gemeente_code: str = "GM0014", topics=("ask_debt_help", "ask_retraining"),
             audience: str = "werkzoekende", reason: str = "routing") -> str:
        with session_scope(fresh_engine) as session:
            partner = session.get(Partner, partner_id)
            partner.handover_email = email
            partner.handover_webhook = webhook
            gemeente = session.get(Gemeente, gemeente_code)
            handover = create_handover(
                session, conversation_id=f"conv-{uuid.uuid4().hex[:8]}", channel="socketio",
                partner_id=partner_id, contact_name=CONTACT_NAME, contact_method="phone",
                contact_value=CONTACT_PHONE, transcript=TRANSCRIPT, topics=topics,
                region_code=gemeente.region_code, gemeente_code=gemeente_code, audience=audience,
                reason=reason, summary="Schulden; wil omscholing.")
            return handover.reference
    return make


# --------------------------------------------------------------------------- webhook receiver

@dataclass
class Seen:
    key: Optional[str]
    signature: Optional[str]
    body: bytes
    answer: str


@dataclass
class WebhookReceiver:
    """Answers each request with the next item of ``script`` ("500", "404", "drop", "hang", "200"),
    then with 200. ``hang`` keeps the request open until the test ends (the client times out)."""
    url: str = ""
    script: List[str] = field(default_factory=list)
    seen: List[Seen] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    on_request: Optional[Callable[[], None]] = None  # runs while a request is being answered

    @property
    def accepted(self) -> Counter:
        """Idempotency key → number of requests this receiver accepted (answered 2xx)."""
        return Counter(s.key for s in self.seen if s.answer == "200")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        answer = self.script.pop(0) if self.script else "200"
        if self.on_request is not None:
            self.on_request()
        self.seen.append(Seen(request.headers.get("Idempotency-Key"),
                              request.headers.get("X-Gids-Signature"), body, answer))
        if answer == "drop":
            request.transport.abort()  # the connection goes away without any answer
            await self.release.wait()
        if answer == "hang":
            await self.release.wait()
        if answer == "200":
            self.arrived.set()
            return web.json_response({"ok": True})
        return web.Response(status=int(answer) if answer.isdigit() else 500, text="nee")


# ------------------------------------------------------------------------------ SMTP server

class MailHandler:
    def __init__(self) -> None:
        self.received: List[Dict] = []
        self.refuse_rcpt: Optional[str] = None  # an SMTP reply to every RCPT, e.g. a 550

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "data": envelope.content, "login": getattr(session, "login_data", None)})
        return "250 Message accepted"


@pytest.fixture
def smtp_server(monkeypatch):
    """An aiosmtpd server on 127.0.0.1 and the GIDS_SMTP_* settings that point to it."""
    from aiosmtpd.controller import Controller

    handler = MailHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("GIDS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("GIDS_SMTP_PORT", str(port))
    monkeypatch.setenv("GIDS_SMTP_FROM", "Werkcentrum Gids <gids@werkcentrum.example>")
    monkeypatch.delenv("GIDS_SMTP_STARTTLS", raising=False)
    monkeypatch.delenv("GIDS_SMTP_USER", raising=False)
    yield handler
    controller.stop()


@pytest.fixture(autouse=True)
def _clean_notify_env(monkeypatch):
    for name in ("GIDS_SMTP_HOST", "GIDS_SMTP_PORT", "GIDS_SMTP_USER", "GIDS_SMTP_PASSWORD",
                 "GIDS_SMTP_STARTTLS", "GIDS_SMTP_FROM", "GIDS_CONSOLE_URL", "GIDS_WEBHOOK_SECRET",
                 "GIDS_WEBHOOK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)



@pytest.fixture(autouse=True)
def _no_personal_data_in_logs(caplog):
    """Whatever a test does, nothing the person typed or shared may appear in a log record."""
    caplog.set_level(logging.DEBUG, logger="bot")
    yield
    personal = [CONTACT_NAME, CONTACT_PHONE, "Schulden; wil omscholing."] + [e.text for e in TRANSCRIPT]
    for record in caplog.get_records("setup") + caplog.get_records("call"):  # .records: teardown only
        logged = record.getMessage() + (caplog.handler.formatter.formatException(record.exc_info)
                                        if record.exc_info else "")
        leaked = [p for p in personal if p in logged]
        assert not leaked, f"personal data in a log record of {record.name}: {leaked}"


MASTER = "het-hoofdgeheim-van-de-tests-0123456789"
EMPTY_ROUND = {"leased": 0, "sent": 0, "retry": 0, "failed": 0, "unrecorded": 0, "cancelled": 0}


# ------------------------------------------------------------- webhook receivers over https

@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """A self-signed certificate (its own CA) for 127.0.0.1, ::1, localhost and partner.example."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gids test receiver")])
    now = dt.datetime.now(dt.timezone.utc)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1")),
             x509.DNSName("localhost"), x509.DNSName("partner.example")]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("webhook-tls")
    cert_file, key_file = folder / "receiver.pem", folder / "receiver.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.fixture
def no_webhook_settings(monkeypatch):
    """None of the webhook settings from the machine the tests run on."""
    for name in ("GIDS_WEBHOOK_ALLOW", "GIDS_WEBHOOK_CA_FILE", "GIDS_WEBHOOK_SECRET", "HTTPS_PROXY",
                 "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def local_webhooks(monkeypatch, tls_cert, no_webhook_settings):
    """The settings of an administrator who allows the local test receivers: 127.0.0.1 and
    localhost in GIDS_WEBHOOK_ALLOW, their certificate in GIDS_WEBHOOK_CA_FILE, a master secret."""
    monkeypatch.setenv("GIDS_WEBHOOK_ALLOW", "127.0.0.1, localhost")
    monkeypatch.setenv("GIDS_WEBHOOK_CA_FILE", str(tls_cert[0]))
    monkeypatch.setenv("GIDS_WEBHOOK_SECRET", MASTER)


@dataclass
class SignedReceiver(WebhookReceiver):
    """The conftest receiver over https, keeping every request's headers as well."""
    headers: List[dict] = field(default_factory=list)
    port: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.headers.append(dict(request.headers))
        return await super().handle(request)

    def url_for(self, host: str) -> str:
        return f"https://{host}:{self.port}/hook"


@pytest.fixture
async def webhook_receiver(tls_cert, no_webhook_settings):
    """An https receiver on 127.0.0.1 (``url`` uses 127.0.0.1). Whether the worker may send to
    it is up to the test's settings (``local_webhooks``)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
    receiver = SignedReceiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    receiver.port = free_port()
    await web.TCPSite(runner, "127.0.0.1", receiver.port, ssl_context=context).start()
    receiver.url = receiver.url_for("127.0.0.1")
    yield receiver
    receiver.release.set()
    await runner.cleanup()
