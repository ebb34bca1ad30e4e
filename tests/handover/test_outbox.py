"""The partner-notification outbox, for real: SMTP to an aiosmtpd server and webhooks to an aiohttp
receiver on 127.0.0.1, on SQLite and PostgreSQL. Time is driven with deliver_due's ``now``.

The webhook receiver speaks https with a self-signed certificate (test_webhook_security.py): every
test here runs with the settings of an administrator who allows 127.0.0.1 and trusts that
certificate, because webhooks go only to https and, without the allow-list, never to 127.0.0.1."""
from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from bot.cli import main as gids
from bot.db import DatabaseUnavailable, make_engine, session_scope
from bot.db.models import Handover, OutboxMessage, Partner
from bot.handover import handover_dict, utcnow
from bot.handover import notify, outbox
from bot.handover.outbox import BACKOFF_BASE, BACKOFF_CAP, LEASE, deliver_due, enqueue
from tests.conftest import free_port
from tests.handover.conftest import CONTACT_NAME, CONTACT_PHONE, EMPTY_ROUND, MASTER, TRANSCRIPT

SECOND = dt.timedelta(seconds=1)
SQLITE_ONLY = pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def _local_receivers_allowed(local_webhooks):
    """GIDS_WEBHOOK_ALLOW=127.0.0.1,localhost, the receiver's certificate and a master secret."""


def messages(engine, reference=None):
    with session_scope(engine) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if reference:
            query = query.join(Handover).where(Handover.reference == reference)
        return list(session.execute(query).scalars())


def only(engine, reference, kind=None):
    found = [m for m in messages(engine, reference) if kind is None or m.kind == kind]
    assert len(found) == 1, found
    return found[0]


def personal_strings():
    return [CONTACT_NAME, CONTACT_PHONE, "Schulden; wil omscholing."] + [e.text for e in TRANSCRIPT]


# ------------------------------------------------------------------------------------ enqueue

def test_a_message_per_channel_with_the_handover_json_for_the_webhook(fresh_engine, make_handover):
    reference = make_handover("uwv", email="team@uwv.example", webhook="https://uwv.example/hook")
    rows = messages(fresh_engine, reference)
    assert sorted(m.kind for m in rows) == ["email", "webhook"]
    assert {m.target for m in rows} == {"team@uwv.example", "https://uwv.example/hook"}
    assert len({m.idempotency_key for m in rows}) == 2
    assert all(m.status == "pending" and m.attempts == 0 and m.next_attempt_at <= utcnow() for m in rows)

    with session_scope(fresh_engine) as session:
        handover = session.execute(select(Handover).where(Handover.reference == reference)).scalar_one()
        expected = handover_dict(handover)
    webhook = next(m for m in rows if m.kind == "webhook")
    assert json.loads(webhook.payload) == expected
    assert [line["text"] for line in expected["transcript"]] == [e.text for e in TRANSCRIPT]

    mail = json.loads(next(m for m in rows if m.kind == "email").payload)
    assert mail["reference"] == reference and mail["partner_name"] == "UWV"
    assert mail["gemeente_name"] == "Groningen" and mail["region_code"] == expected["region_code"]
    for secret in personal_strings():
        assert secret not in json.dumps(mail, ensure_ascii=False)
    assert "transcript" not in mail and "contact" not in mail and "summary" not in mail


def test_a_partner_without_channels_gets_no_message_and_the_log_names_no_one(fresh_engine, make_handover, caplog):
    reference = make_handover("uwv", email=None, webhook="  ")
    assert messages(fresh_engine, reference) == []
    notes = [r.getMessage() for r in caplog.records if r.name == "bot.handover.outbox"]
    assert any(reference in n and "uwv" in n and "only in the staff console" in n for n in notes), notes


def test_forwarding_makes_new_notifications_and_one_call_never_duplicates(fresh_engine, make_handover):
    reference = make_handover("uwv", webhook="https://uwv.example/hook")
    with session_scope(fresh_engine) as session:
        other = session.get(Partner, "gemeente-GM0014")
        other.handover_email, other.handover_webhook = "wijkteam@groningen.example", "https://groningen.example/hook"
        handover = session.execute(select(Handover).where(Handover.reference == reference)).scalar_one()
        assert handover.partner.id == "uwv"  # loaded: the relationship now points to the old partner
        handover.partner_id = "gemeente-GM0014"
        made = enqueue(session, handover)
        assert sorted(m.kind for m in made) == ["email", "webhook"]
        again = enqueue(session, handover)  # staff forward it to the same partner once more
        assert sorted(m.kind for m in again) == ["email", "webhook"]

    rows = messages(fresh_engine, reference)
    assert len(rows) == 5 and len({m.idempotency_key for m in rows}) == 5
    forwarded = [m for m in rows if m.partner_id == "gemeente-GM0014"]
    assert len(forwarded) == 4
    # Each call cancels what the earlier ones queued and nobody got yet: uwv's webhook (the
    # handover left uwv) and the first pair for the gemeente (replaced by the second pair).
    assert [(m.partner_id, m.last_error) for m in rows if m.last_error] == [
        ("uwv", "cancelled: the handover went to another partner"),
        ("gemeente-GM0014", "cancelled: replaced by a newer notification"),
        ("gemeente-GM0014", "cancelled: replaced by a newer notification")]
    live = [m for m in forwarded if m.last_error is None]
    assert sorted(m.kind for m in live) == ["email", "webhook"] and all(m.next_attempt_at <= utcnow() for m in live)
    webhook = json.loads(next(m for m in live if m.kind == "webhook").payload)
    assert webhook["partner_id"] == "gemeente-GM0014" and webhook["partner_name"] != "UWV"
    assert json.loads(next(m for m in live if m.kind == "email").payload)["forwarded"] is True
    for cancelled in (m for m in rows if m.last_error):
        assert json.loads(cancelled.payload) == {"reference": reference, "payload_removed": "cancelled"}


def test_a_rolled_back_handover_leaves_no_notification(fresh_engine, make_handover):
    from bot.handover import create_handover

    with pytest.raises(RuntimeError):
        with session_scope(fresh_engine) as session:
            session.get(Partner, "uwv").handover_webhook = "https://uwv.example/hook"
            create_handover(session, conversation_id="c", channel="rest", partner_id="uwv",
                            contact_name=CONTACT_NAME, contact_method="phone", contact_value=CONTACT_PHONE)
            raise RuntimeError("the action server failed after the handover")
    assert messages(fresh_engine) == []


def test_backoff_grows_to_the_cap_and_jitter_only_shortens():
    for attempts, seconds in [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (40, 3600)]:
        assert outbox.backoff(attempts, rng=lambda lo, hi: hi) == dt.timedelta(seconds=seconds)
        assert outbox.backoff(attempts, rng=lambda lo, hi: lo) == dt.timedelta(seconds=seconds * 0.8)
    assert BACKOFF_BASE <= dt.timedelta(seconds=30) and BACKOFF_CAP == dt.timedelta(hours=1)


# ------------------------------------------------------------------------------------- e-mail

async def test_the_email_arrives_with_reference_and_link_but_no_transcript_or_contact(
        fresh_engine, make_handover, smtp_server, monkeypatch):
    monkeypatch.setenv("GIDS_CONSOLE_URL", "https://console.werkcentrum.example/")
    reference = make_handover("uwv", email="team@uwv.example", topics=("ask_debt_help", "ask_retraining"))
    message = only(fresh_engine, reference)

    counts = await deliver_due(fresh_engine, now=utcnow())
    assert counts == {**EMPTY_ROUND, "leased": 1, "sent": 1}
    assert len(smtp_server.received) == 1
    got = smtp_server.received[0]
    assert got["to"] == ["team@uwv.example"] and got["from"] == "gids@werkcentrum.example"

    mail = email.message_from_bytes(got["data"], policy=email.policy.default)
    assert mail["Message-ID"] == f"<{message.idempotency_key}.handover@werkcentrum.example>"
    assert reference in mail["Subject"] and "UWV" in mail["Subject"]
    assert mail["Auto-Submitted"] == "auto-generated"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    link = f"https://console.werkcentrum.example/handovers/{reference}"
    for body in (text, html):
        assert link in body
        assert "schulden, omscholing of een opleiding" in body  # Dutch topic names, not intents
        assert "Groningen" in body and "ask_debt_help" not in body
    assert "Iemand wil graag hulp van UWV." in text
    raw = got["data"].decode("utf-8", "replace")
    for secret in personal_strings() + ["<script>", "0612"]:
        assert secret not in raw and secret not in text and secret not in html

    sent = only(fresh_engine, reference)
    assert sent.status == "sent" and sent.sent_at is not None and sent.attempts == 1
    assert await deliver_due(fresh_engine, now=utcnow() + dt.timedelta(days=1)) == EMPTY_ROUND
    assert len(smtp_server.received) == 1


@SQLITE_ONLY
async def test_an_smtp_server_that_is_down_delays_the_email_until_it_is_up(fresh_engine, make_handover, monkeypatch):
    from aiosmtpd.controller import Controller
    from tests.handover.conftest import MailHandler

    port = free_port()
    monkeypatch.setenv("GIDS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("GIDS_SMTP_PORT", str(port))
    reference = make_handover("uwv", email="team@uwv.example")
    now = utcnow()
    assert (await deliver_due(fresh_engine, now=now))["retry"] == 1
    waiting = only(fresh_engine, reference)
    assert waiting.status == "pending" and waiting.attempts == 1
    assert waiting.last_error == "SMTP connection failed (Connection refused)"
    assert waiting.next_attempt_at > now

    handler = MailHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert (await deliver_due(fresh_engine, now=waiting.next_attempt_at - SECOND))["leased"] == 0
        assert (await deliver_due(fresh_engine, now=waiting.next_attempt_at))["sent"] == 1
    finally:
        controller.stop()
    assert len(handler.received) == 1
    assert only(fresh_engine, reference).attempts == 2


@SQLITE_ONLY
async def test_a_refused_recipient_keeps_the_email_and_the_error_names_no_address(
        fresh_engine, make_handover, smtp_server):
    smtp_server.refuse_rcpt = "550 5.1.1 <team@uwv.example>: Recipient address rejected"
    reference = make_handover("uwv", email="team@uwv.example")
    assert (await deliver_due(fresh_engine, now=utcnow()))["retry"] == 1
    waiting = only(fresh_engine, reference)
    assert waiting.status == "pending" and waiting.last_error == "SMTP recipient refused (550)"
    assert smtp_server.received == []


@SQLITE_ONLY
async def test_email_without_smtp_settings_waits_with_a_clear_error(fresh_engine, make_handover):
    reference = make_handover("uwv", email="team@uwv.example")
    assert (await deliver_due(fresh_engine, now=utcnow()))["retry"] == 1
    assert only(fresh_engine, reference).last_error == "e-mail is not set up: GIDS_SMTP_HOST is empty"


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@SQLITE_ONLY
async def test_starttls_checks_the_certificate_before_it_logs_in(fresh_engine, make_handover, monkeypatch, tmp_path):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from tests.handover.conftest import MailHandler

    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_file), str(key_file))
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"gids" and auth_data.password == b"geheim")

    handler, port = MailHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticator, auth_required=True)
    controller.start()
    try:
        for name, value in {"GIDS_SMTP_HOST": "127.0.0.1", "GIDS_SMTP_PORT": str(port), "GIDS_SMTP_STARTTLS": "ja",
                            "GIDS_SMTP_USER": "gids", "GIDS_SMTP_PASSWORD": "geheim"}.items():
            monkeypatch.setenv(name, value)
        reference = make_handover("uwv", email="team@uwv.example")
        now = utcnow()
        # The certificate is not trusted yet: no login, no message, the e-mail waits.
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))
        assert (await deliver_due(fresh_engine, now=now))["retry"] == 1
        waiting = only(fresh_engine, reference)
        assert waiting.last_error.startswith("SMTP TLS certificate not accepted")
        assert logins == [] and handler.received == []

        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # ssl's default context trusts it now
        assert (await deliver_due(fresh_engine, now=waiting.next_attempt_at))["sent"] == 1
        assert logins == [(b"gids", b"geheim")] and len(handler.received) == 1
    finally:
        controller.stop()


# ------------------------------------------------------------------------------------ webhook

async def test_a_failing_webhook_gets_the_handover_later_exactly_once(
        fresh_engine, make_handover, webhook_receiver, monkeypatch):
    monkeypatch.setenv("GIDS_WEBHOOK_TIMEOUT", "0.5")
    webhook_receiver.script = ["500", "drop", "hang"]
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    message = only(fresh_engine, reference)
    expected_body = message.payload.encode("utf-8")

    now = utcnow()
    errors = []
    for attempt, expected_error in enumerate(["webhook answered HTTP 500",
                                              "webhook receiver dropped the connection",
                                              "webhook did not answer within 0.5 s"], start=1):
        assert await deliver_due(fresh_engine, now=now) == {**EMPTY_ROUND, "leased": 1, "retry": 1}
        waiting = only(fresh_engine, reference)
        assert (waiting.status, waiting.attempts, waiting.last_error) == ("pending", attempt, expected_error)
        assert waiting.next_attempt_at > now
        errors.append(waiting.last_error)
        # Not due yet: nothing is sent before its time.
        assert (await deliver_due(fresh_engine, now=waiting.next_attempt_at - SECOND))["leased"] == 0
        now = waiting.next_attempt_at
    assert len(webhook_receiver.seen) == 3

    assert (await deliver_due(fresh_engine, now=now))["sent"] == 1
    sent = only(fresh_engine, reference)
    assert sent.status == "sent" and sent.attempts == 4 and sent.sent_at == now
    assert webhook_receiver.accepted == {message.idempotency_key: 1}
    assert {s.key for s in webhook_receiver.seen} == {message.idempotency_key}  # one key for all tries
    final = webhook_receiver.seen[-1]
    assert final.body == expected_body
    # Signed with uwv's own secret over "<timestamp>.<body>"; every try has its own timestamp.
    stamp = webhook_receiver.headers[-1]["X-Gids-Timestamp"]
    uwv_secret = hmac.new(MASTER.encode(), b"werkcentrum-gids/partner-webhook-secret/v1\x00uwv",
                          hashlib.sha256).hexdigest()
    assert final.signature == "v1=" + hmac.new(uwv_secret.encode(), stamp.encode() + b"." + final.body,
                                               hashlib.sha256).hexdigest()
    assert notify.verify_webhook(uwv_secret, stamp, final.body, final.signature, now=dt.datetime.now().timestamp())
    assert all(s.signature.startswith("v1=") for s in webhook_receiver.seen)
    delivered = json.loads(final.body)
    assert delivered["reference"] == reference and delivered["contact"]["value"] == CONTACT_PHONE
    assert [line["text"] for line in delivered["transcript"]] == [e.text for e in TRANSCRIPT]
    # After delivery the outbox keeps no copy of the contact details and transcript.
    for secret in personal_strings():
        assert secret not in sent.payload and all(secret not in e for e in errors)

    assert (await deliver_due(fresh_engine, now=now + dt.timedelta(days=2)))["leased"] == 0
    assert webhook_receiver.accepted == {message.idempotency_key: 1} and len(webhook_receiver.seen) == 4


@SQLITE_ONLY
@pytest.mark.parametrize("answer", ["404", "302"])
async def test_a_4xx_or_a_redirect_is_not_a_delivery(fresh_engine, make_handover, webhook_receiver, answer):
    webhook_receiver.script = [answer]
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    assert (await deliver_due(fresh_engine, now=utcnow()))["retry"] == 1
    waiting = only(fresh_engine, reference)
    assert waiting.status == "pending" and waiting.last_error == f"webhook answered HTTP {answer}"
    assert len(webhook_receiver.seen) == 1 and webhook_receiver.seen[0].signature.startswith("v1=")


@SQLITE_ONLY
async def test_a_webhook_address_that_is_not_https_waits_for_a_fix(fresh_engine, make_handover):
    reference = make_handover("uwv", webhook="ftp://uwv.example/inbox")
    assert (await deliver_due(fresh_engine, now=utcnow()))["failed"] == 1
    waiting = only(fresh_engine, reference)
    assert waiting.last_error == "failed permanently: webhook address refused: only https:// addresses are used"
    assert waiting.status == "pending" and waiting.next_attempt_at == outbox.PARKED  # for an administrator


async def test_a_receiver_that_stays_down_keeps_the_message_with_growing_delays(fresh_engine, make_handover):
    reference = make_handover("uwv", webhook=f"https://127.0.0.1:{free_port()}/hook")
    now = utcnow()
    delays = []
    for attempt in range(1, 13):
        assert (await deliver_due(fresh_engine, now=now))["retry"] == 1
        waiting = only(fresh_engine, reference)
        assert waiting.status == "pending" and waiting.attempts == attempt
        assert waiting.last_error == "webhook connection failed (Connection refused)"
        delay = waiting.next_attempt_at - now
        full = min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_CAP)
        assert full * 0.8 <= delay <= full
        delays.append(delay)
        now = waiting.next_attempt_at
    assert all(a < b for a, b in zip(delays[:8], delays[1:8]))  # 30 s, 1 min, 2 min ... 32 min
    assert max(delays) <= BACKOFF_CAP and delays[-1] >= BACKOFF_CAP * 0.8

    report = outbox.status(fresh_engine, now=now)
    assert report["pending"] == 1 and report["sent"] == 0
    assert [(m["reference"], m["attempts"]) for m in report["many_attempts"]] == [(reference, 12)]


async def test_two_workers_at_once_send_every_message_exactly_once(fresh_db_url, fresh_engine, make_handover,
                                                                webhook_receiver):
    references = [make_handover("uwv", webhook=webhook_receiver.url) for _ in range(12)]
    references += [make_handover("gemeente-GM0014", webhook=webhook_receiver.url) for _ in range(12)]
    engines = [make_engine(fresh_db_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(deliver_due(e, now=utcnow(), limit=50) for e in engines))
    finally:
        for e in engines:
            e.dispose()
    assert sum(r["sent"] for r in results) == 24 and sum(r["leased"] for r in results) == 24
    keys = {m.idempotency_key for m in messages(fresh_engine)}
    assert len(keys) == 24
    assert webhook_receiver.accepted == {key: 1 for key in keys}
    assert len(webhook_receiver.seen) == 24


async def test_a_leased_message_waits_for_its_lease_to_end(fresh_engine, make_handover, webhook_receiver):
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    now = utcnow()
    # A worker leased it and died before it could send or record anything.
    assert [m.reference for m in outbox._lease_due(fresh_engine, now, 50)] == [reference]
    assert (await deliver_due(fresh_engine, now=now))["leased"] == 0
    assert (await deliver_due(fresh_engine, now=now + LEASE - SECOND))["leased"] == 0
    assert (await deliver_due(fresh_engine, now=now + LEASE))["sent"] == 1
    assert only(fresh_engine, reference).attempts == 2
    assert len(webhook_receiver.seen) == 1


@SQLITE_ONLY
async def test_a_delivery_that_cannot_be_recorded_goes_again_after_the_lease(
        fresh_engine, make_handover, webhook_receiver, tmp_path, caplog):
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    key = only(fresh_engine, reference).idempotency_key
    away = tmp_path.with_name(tmp_path.name + "-away")
    # The database goes while it sends. dispose(): SQLAlchemy 2 keeps SQLite file connections in
    # a pool, and an open connection would not notice that its file has gone.
    webhook_receiver.on_request = lambda: (tmp_path.rename(away), fresh_engine.dispose())
    now = utcnow()
    assert await deliver_due(fresh_engine, now=now) == {**EMPTY_ROUND, "leased": 1, "unrecorded": 1}
    assert any("it goes again when its lease ends" in r.getMessage() for r in caplog.records)
    away.rename(tmp_path)
    webhook_receiver.on_request = None
    assert (await deliver_due(fresh_engine, now=now + LEASE - SECOND))["leased"] == 0
    assert (await deliver_due(fresh_engine, now=now + LEASE))["sent"] == 1
    # At least once: the same key twice, which the receiver uses to keep one.
    assert webhook_receiver.accepted == {key: 2}
    assert only(fresh_engine, reference).status == "sent"


async def test_a_database_that_is_down_raises_database_unavailable():
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/gids")
    try:
        with pytest.raises(DatabaseUnavailable, match="leasing outbox messages"):
            await deliver_due(engine, now=utcnow())
        with pytest.raises(DatabaseUnavailable, match="reading the outbox"):
            outbox.status(engine)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------- gids outbox

def test_gids_outbox_status_and_retry(fresh_db_url, fresh_engine, make_handover, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    reference = make_handover("uwv", webhook=f"https://127.0.0.1:{free_port()}/old")
    now = utcnow()
    for _ in range(5):
        asyncio.run(deliver_due(fresh_engine, now=now))
        now = only(fresh_engine, reference).next_attempt_at

    assert gids(["outbox", "status"]) == 0
    out = capsys.readouterr().out
    assert "pending: 1 (0 due now)" in out and "sent:    0" in out
    assert f"{reference} webhook to uwv: 5 attempts" in out
    assert "webhook connection failed (Connection refused)" in out
    assert gids(["outbox", "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pending"] == 1 and report["many_attempts"][0]["attempts"] == 5

    assert gids(["outbox", "retry", "WC-1999-999999"]) == 1
    assert "no handover with reference 'WC-1999-999999'" in capsys.readouterr().err

    with session_scope(fresh_engine) as session:  # the administrator fixes the partner's webhook
        session.get(Partner, "uwv").handover_webhook = "https://uwv.example/new"
    before = utcnow()
    assert gids(["outbox", "retry", reference.lower()]) == 0
    assert "1 waiting notification(s) due now; 1 now go to the partner's current address" in capsys.readouterr().out
    retried = only(fresh_engine, reference)
    assert before <= retried.next_attempt_at <= utcnow() and retried.attempts == 5
    assert retried.target == "https://uwv.example/new"


def test_gids_outbox_status_when_the_database_is_down(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/gids")
    assert gids(["outbox", "status"]) == 4
    assert "the database is not reachable" in capsys.readouterr().err


def test_notify_helpers_write_dutch_dates_and_stable_message_ids():
    assert notify.dutch_datetime("2026-05-04T07:00:00+00:00") == "maandag 4 mei 2026 om 9.00 uur"
    assert notify.dutch_datetime("2026-11-24T13:05:00") == "dinsdag 24 november 2026 om 14.05 uur"
    assert notify.message_id("abc", "Gids <gids@werkcentrum.example>") == "<abc.handover@werkcentrum.example>"
    assert notify.message_id("abc", "Gids <gids@werkcentrum.example>") == notify.message_id("abc", "gids@werkcentrum.example")


def test_names_in_the_email_are_text_not_html_and_the_subject_stays_one_line():
    settings = notify.SmtpSettings(host="x", port=25, user="", password="", starttls=False,
                                   sender="gids@werkcentrum.example")
    payload = {"reference": "WC-2026-000007", "partner_name": "Bureau <b>Werk</b> & Co\nBcc: x@y.example",
               "topics": ["ask_language_help", "iets_nieuws"], "audience": "werkgever", "reason": "request_human",
               "gemeente_name": None, "region_name": "Groningen", "created_at": None, "forwarded": True}
    mail = notify.build_email(payload, "team@uwv.example", "k1", settings)
    assert "\n" not in mail["Subject"] and mail["Subject"].startswith("Doorgestuurde aanvraag WC-2026-000007")
    assert mail["Bcc"] is None
    html = mail.get_body(("html",)).get_content()
    assert "Bureau &lt;b&gt;Werk&lt;/b&gt; &amp; Co" in html and "<b>Werk" not in html
    text = mail.get_body(("plain",)).get_content()
    assert "Een werkgever wil graag hulp van Bureau <b>Werk</b> & Co" in text
    assert "Onderwerp:  Nederlands leren, iets_nieuws" in text and "Gemeente:   niet bekend" in text
    assert "De persoon vroeg zelf om een medewerker." in text
    assert "Een collega van het Werkcentrum stuurt deze aanvraag naar jullie door." in text
    with pytest.raises(notify.DeliveryError, match="not valid"):
        notify.build_email(payload, "team@uwv.example\r\nBcc: x@y.example", "k2", settings)
