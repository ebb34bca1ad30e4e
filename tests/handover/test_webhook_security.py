"""Partner webhooks after the security review (issue 13): a secret per partner and a timestamp in
the signature, https only and no private, loopback or link-local targets unless GIDS_WEBHOOK_ALLOW
names the host, checked on the address the connection really uses; forward and close cancel the
notifications the previous partner has not had yet; a forwarded handover does not show the
previous partner's internal notes.

The receivers run on 127.0.0.1 with https and a self-signed certificate that the worker trusts
through GIDS_WEBHOOK_CA_FILE, so the tests take the same path (TLS, host name check, address
check) as a real partner. The fixtures ``tls_cert``, ``local_webhooks`` and ``webhook_receiver``
are imported by test_outbox.py and test_worker.py too."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import time
from typing import List

import pytest
from sqlalchemy import select

from bot.cli import main as gids
from bot.db import session_scope
from bot.db.models import Handover, HandoverNote, OutboxMessage, Partner
from bot.handover import notify, outbox, utcnow
from bot.handover.notify import partner_webhook_secret, sign_webhook, verify_webhook
from bot.handover.outbox import PARKED, deliver_due
from tests.conftest import free_port
from tests.handover.conftest import CONTACT_NAME, CONTACT_PHONE, EMPTY_ROUND, MASTER, TRANSCRIPT

SQLITE_ONLY = pytest.mark.parametrize("fresh_db_url", ["sqlite"], indirect=True)


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


# ------------------------------------------------------------- the signature and its check

def test_each_partner_has_its_own_secret_derived_from_the_master_with_a_fixed_label():
    uwv, groningen = partner_webhook_secret(MASTER, "uwv"), partner_webhook_secret(MASTER, "gemeente-GM0014")
    assert uwv != groningen and MASTER not in (uwv, groningen)
    assert len(uwv) == 64 and int(uwv, 16) >= 0
    assert uwv == partner_webhook_secret(MASTER, "uwv")  # stable: the partner keeps using it
    assert uwv != partner_webhook_secret(MASTER + "x", "uwv")  # a new master secret, new partner secrets
    # Key separation: not a plain HMAC of the partner id under the master secret, but one over
    # a fixed label, a zero byte and the id (the documented derivation).
    assert uwv != hmac.new(MASTER.encode(), b"uwv", hashlib.sha256).hexdigest()
    label = b"werkcentrum-gids/partner-webhook-secret/v1"
    assert uwv == hmac.new(MASTER.encode(), label + b"\x00uwv", hashlib.sha256).hexdigest()
    with pytest.raises(ValueError):
        partner_webhook_secret("", "uwv")


def test_verify_webhook_accepts_a_valid_signature_and_rejects_replays_changes_and_other_secrets():
    secret = partner_webhook_secret(MASTER, "uwv")
    body = b'{"reference":"WC-2026-4829173650","contact":{"value":"0612345678"}}'
    now = 1_800_000_000
    signature = sign_webhook(secret, now, body)
    assert signature.startswith("v1=") and len(signature) == 3 + 64

    assert verify_webhook(secret, str(now), body, signature, now=now)
    assert verify_webhook(secret, str(now), body, signature, now=now + 300)       # at the edge of the window
    # A replay: the same request (timestamp, body and signature) sent again later.
    assert not verify_webhook(secret, str(now), body, signature, now=now + 301)
    assert not verify_webhook(secret, str(now), body, signature, now=now + 86400)
    assert not verify_webhook(secret, str(now), body, signature, now=now - 301)   # from the future
    assert verify_webhook(secret, str(now), body, signature, now=now + 3000, tolerance=3600)
    # A changed body, or a new timestamp on the old signature.
    assert not verify_webhook(secret, str(now), body.replace(b"0612345678", b"0687654321"), signature, now=now)
    assert not verify_webhook(secret, str(now), body + b" ", signature, now=now)
    assert not verify_webhook(secret, str(now + 60), body, signature, now=now + 60)
    # Another partner's secret, and the master secret itself, do not verify.
    other = partner_webhook_secret(MASTER, "gemeente-GM0014")
    assert not verify_webhook(other, str(now), body, signature, now=now)
    assert not verify_webhook(MASTER, str(now), body, signature, now=now)
    assert not verify_webhook(other, str(now), body, sign_webhook(other, now, body).upper(), now=now)
    # Another partner's valid signature does not verify with this partner's secret.
    assert not verify_webhook(secret, str(now), body, sign_webhook(other, now, body), now=now)
    # The old scheme (no timestamp, "sha256=" over the body) is not accepted.
    old = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert not verify_webhook(secret, str(now), body, old, now=now)
    # Malformed headers are a plain "no".
    for stamp in ("", " ", "-5", "1.5e9", "1800000000.0", "١٨٠٠٠٠٠٠٠٠", "9" * 40):
        assert not verify_webhook(secret, stamp, body, signature, now=now), stamp
    for bad in ("", "v1=", "v1=zz", signature[3:], "v2=" + signature[3:]):
        assert not verify_webhook(secret, str(now), body, bad, now=now), bad
    assert not verify_webhook("", str(now), body, signature, now=now)
    # Several values (as during a change of secrets): one valid value is enough.
    assert verify_webhook(secret, str(now), body, f"v1={'0' * 64}, {signature}", now=now)


def test_the_documented_check_in_docs_webhooks_md_is_the_one_in_the_code():
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    start = page.index("```python\n") + len("```python\n")
    code = page[start:page.index("```", start)]
    scope: dict = {}
    exec(compile(code, "docs/webhooks.md", "exec"), scope)
    check = scope["verify_webhook"]
    secret = partner_webhook_secret(MASTER, "uwv")
    body, now = b'{"reference":"WC-2026-4829173650"}', int(time.time())
    good = sign_webhook(secret, now, body)
    assert check(secret, str(now), body, good, now)
    assert not check(secret, str(now - 301), body, sign_webhook(secret, now - 301, body), now)
    assert not check(secret, str(now), body + b"x", good, now)
    assert not check(partner_webhook_secret(MASTER, "sbb"), str(now), body, good, now)


@SQLITE_ONLY
async def test_a_delivered_webhook_carries_a_timestamp_and_a_signature_the_partner_can_check(
        fresh_engine, make_handover, webhook_receiver, local_webhooks, monkeypatch, capsys):
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    key = only(fresh_engine, reference).idempotency_key
    before = int(time.time())
    assert await deliver_due(fresh_engine, now=utcnow()) == {**EMPTY_ROUND, "leased": 1, "sent": 1}
    [headers], [seen] = webhook_receiver.headers, webhook_receiver.seen
    assert headers["Idempotency-Key"] == key
    stamp = headers["X-Gids-Timestamp"]
    assert before - 1 <= int(stamp) <= time.time() + 1

    # What the administrator gives this partner, from the command line.
    monkeypatch.setenv("DATABASE_URL", str(fresh_engine.url))
    assert gids(["partner", "webhook-secret", "uwv"]) == 0
    out = capsys.readouterr()
    secret = out.out.strip()
    assert secret == partner_webhook_secret(MASTER, "uwv") and MASTER not in out.out + out.err
    assert "UWV" in out.err

    assert verify_webhook(secret, stamp, seen.body, headers["X-Gids-Signature"], now=time.time())
    assert not verify_webhook(secret, stamp, seen.body, headers["X-Gids-Signature"], now=time.time() + 600)
    assert not verify_webhook(partner_webhook_secret(MASTER, "gemeente-GM0014"), stamp, seen.body,
                              headers["X-Gids-Signature"], now=time.time())
    assert json.loads(seen.body)["reference"] == reference


def test_gids_partner_webhook_secret_refuses_an_unknown_partner_or_a_missing_master(
        fresh_db_url, no_webhook_settings, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    assert gids(["partner", "webhook-secret", "uwv"]) == 2
    assert "GIDS_WEBHOOK_SECRET is not set" in capsys.readouterr().err
    monkeypatch.setenv("GIDS_WEBHOOK_SECRET", MASTER)
    assert gids(["partner", "webhook-secret", "uvw"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no partner with id 'uvw'" in captured.err


@SQLITE_ONLY
async def test_without_a_master_secret_a_webhook_waits_unsigned_is_never_sent(
        fresh_engine, make_handover, webhook_receiver, local_webhooks, monkeypatch):
    monkeypatch.delenv("GIDS_WEBHOOK_SECRET")
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    assert (await deliver_due(fresh_engine, now=utcnow()))["retry"] == 1
    waiting = only(fresh_engine, reference)
    assert waiting.last_error == "webhooks are not set up: GIDS_WEBHOOK_SECRET is empty"
    assert waiting.next_attempt_at < PARKED and webhook_receiver.seen == []


# ------------------------------------------------------------------------- target checks

@pytest.mark.parametrize("problem", [None, "private address", "loopback address", "link-local address"])
def test_address_problem_names_what_is_wrong(problem):
    cases = {None: ["8.8.8.8", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808"],
             "private address": ["10.1.2.3", "172.16.0.1", "192.168.1.1", "fc00::1", "::ffff:10.0.0.1",
                                 "64:ff9b::a00:1", "2002:a00:1::1"],
             "loopback address": ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"],
             "link-local address": ["169.254.169.254", "fe80::1", "fe80::1%2", "::ffff:169.254.1.1"]}
    for address in cases[problem]:
        assert notify.address_problem(address) == problem, address
    for address, expected in (("0.0.0.0", "unspecified address"), ("::", "unspecified address"),
                              ("224.0.0.1", "multicast address"), ("ff02::1", "multicast address"),
                              ("240.0.0.1", "reserved address"), ("255.255.255.255", "reserved address"),
                              ("100.64.0.1", "non-public address"), ("fec0::1", "site-local address")):
        assert notify.address_problem(address) == expected, address


REFUSED = [  # (how the test writes the address, the start of the error)
    ("https://127.0.0.1:{port}/hook", "webhook address refused: the host has a loopback address (127.0.0.1)"),
    ("https://localhost:{port}/hook", "webhook address refused: the host has a loopback address"),
    ("https://[::1]:{port}/hook", "webhook address refused: the host has a loopback address (::1)"),
    ("https://[::ffff:127.0.0.1]:{port}/hook", "webhook address refused: the host has a loopback address"),
    ("https://10.20.30.40/hook?token=geheim", "webhook address refused: the host has a private address (10.20.30.40)"),
    ("https://169.254.169.254/latest/meta-data", "webhook address refused: the host has a link-local address"),
    ("https://[fe80::1]/hook", "webhook address refused: the host has a link-local address"),
    ("https://0.0.0.0:{port}/hook", "webhook address refused: the host has an unspecified address"),
    ("https://224.0.0.1/hook", "webhook address refused: the host has a multicast address"),
    ("http://127.0.0.1:{port}/hook", "webhook address refused: only https:// addresses are used"),
    ("http://uwv.example/hook", "webhook address refused: only https:// addresses are used"),
    ("ftp://uwv.example/inbox", "webhook address refused: only https:// addresses are used"),
]


@pytest.mark.parametrize(  # every address on SQLite, one on PostgreSQL
    "fresh_db_url,address,error", [("sqlite", a, e) for a, e in REFUSED] + [("postgresql", *REFUSED[0])],
    ids=[a.split("/")[2] + "-" + a.split(":")[0] for a, _ in REFUSED] + ["postgresql"], indirect=["fresh_db_url"])
async def test_without_the_allow_list_local_and_private_targets_and_http_are_refused_for_good(
        fresh_db_url, fresh_engine, make_handover, webhook_receiver, no_webhook_settings, monkeypatch,
        caplog, tls_cert, address, error):
    monkeypatch.setenv("GIDS_WEBHOOK_SECRET", MASTER)
    monkeypatch.setenv("GIDS_WEBHOOK_CA_FILE", str(tls_cert[0]))  # only the allow-list is missing
    url = address.format(port=webhook_receiver.port)
    reference = make_handover("uwv", email="team@uwv.example", webhook=url)
    now = utcnow()
    counts = await deliver_due(fresh_engine, now=now)
    # The e-mail has no SMTP server here (it waits); the webhook is refused, once and for all.
    assert (counts["leased"], counts["failed"], counts["sent"]) == (2, 1, 0)
    assert webhook_receiver.seen == []
    refused = only(fresh_engine, reference, "webhook")
    assert refused.status == "pending" and refused.next_attempt_at == PARKED
    assert refused.last_error.startswith("failed permanently: " + error), refused.last_error
    assert "geheim" not in refused.last_error and "/hook" not in refused.last_error  # no URL, no token
    assert json.loads(refused.payload)["reference"] == reference  # kept for a retry after a fix

    # Not tried again by itself, however long one waits.
    assert (await deliver_due(fresh_engine, now=now + dt.timedelta(days=3)))["leased"] == 1  # the e-mail
    assert only(fresh_engine, reference, "webhook").attempts == 1 and webhook_receiver.seen == []

    # The handover itself is untouched and in the console.
    with session_scope(fresh_engine) as session:
        handover = session.execute(select(Handover).where(Handover.reference == reference)).scalar_one()
        assert handover.status == "new" and handover.partner_id == "uwv"

    # A clear log line, without the address or anything personal.
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.handover.outbox" and r.levelname == "ERROR"]
    assert len(lines) == 1 and "not sent and not tried again" in lines[0]
    assert f"gids outbox retry {reference}" in lines[0] and "/hook" not in lines[0]

    # Visible to administrators.
    report = outbox.status(fresh_engine, now=now)
    assert report["failed"] == 1 and report["pending"] == 1  # the e-mail still waits
    assert [(m["reference"], m["kind"], m["last_error"]) for m in report["failed_messages"]] == [
        (reference, "webhook", refused.last_error)]


@SQLITE_ONLY
async def test_a_refused_webhook_goes_out_after_the_administrator_allows_the_host_and_retries(
        fresh_db_url, fresh_engine, make_handover, webhook_receiver, tls_cert, no_webhook_settings,
        monkeypatch, capsys):
    monkeypatch.setenv("GIDS_WEBHOOK_SECRET", MASTER)
    monkeypatch.setenv("GIDS_WEBHOOK_CA_FILE", str(tls_cert[0]))
    monkeypatch.setenv("DATABASE_URL", fresh_db_url)
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    assert (await deliver_due(fresh_engine, now=utcnow()))["failed"] == 1

    assert gids(["outbox", "status"]) == 0
    out = capsys.readouterr().out
    assert "failed, not tried again until you run gids outbox retry REFERENCE: 1" in out
    assert f"{reference} webhook to uwv: failed permanently: webhook address refused" in out

    monkeypatch.setenv("GIDS_WEBHOOK_ALLOW", "127.0.0.1")
    assert (await deliver_due(fresh_engine, now=utcnow() + dt.timedelta(days=1)))["leased"] == 0  # still parked
    assert gids(["outbox", "retry", reference]) == 0
    assert "1 had been refused and will be tried again" in capsys.readouterr().out
    assert (await deliver_due(fresh_engine, now=utcnow()))["sent"] == 1
    assert len(webhook_receiver.seen) == 1 and only(fresh_engine, reference).status == "sent"


@SQLITE_ONLY
async def test_the_allow_list_does_not_allow_plain_http(fresh_engine, make_handover, webhook_receiver,
                                                        local_webhooks):
    reference = make_handover("uwv", webhook=webhook_receiver.url.replace("https://", "http://"))
    assert (await deliver_due(fresh_engine, now=utcnow()))["failed"] == 1
    assert only(fresh_engine, reference).last_error == (
        "failed permanently: webhook address refused: only https:// addresses are used")


@SQLITE_ONLY
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_allowed_hosts_get_the_webhook_over_verified_tls(fresh_engine, make_handover, webhook_receiver,
                                                               local_webhooks, host):
    reference = make_handover("uwv", webhook=webhook_receiver.url_for(host))
    assert (await deliver_due(fresh_engine, now=utcnow()))["sent"] == 1
    assert len(webhook_receiver.seen) == 1 and only(fresh_engine, reference).status == "sent"


@SQLITE_ONLY
async def test_an_untrusted_certificate_is_not_a_delivery(fresh_engine, make_handover, webhook_receiver,
                                                          local_webhooks, monkeypatch):
    monkeypatch.delenv("GIDS_WEBHOOK_CA_FILE")
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    assert (await deliver_due(fresh_engine, now=utcnow()))["retry"] == 1
    assert only(fresh_engine, reference).last_error == "webhook TLS certificate not accepted"
    assert webhook_receiver.seen == []


class FakeDns:
    """partner.example resolves to whatever ``answers`` says next (DNS rebinding); every other
    name goes to the real resolver. ``asked`` counts the lookups."""

    def __init__(self, monkeypatch, *answers: List[str]):
        self.answers = list(answers)
        self.asked = 0
        self._real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        if host != "partner.example":
            return self._real(host, port, family, type, proto, flags)
        self.asked += 1
        addresses = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        out = []
        for address in addresses:
            fam = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, int(port or 443), 0, 0) if fam == socket.AF_INET6 else (address, int(port or 443))
            out.append((fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return out


@SQLITE_ONLY
async def test_the_address_checked_is_the_address_connected_to(fresh_engine, make_handover, webhook_receiver,
                                                               local_webhooks, monkeypatch):
    """A name that resolves to 127.0.0.1 (where a receiver listens) is refused in the lookup the
    connection itself makes: no earlier, separate check that a rebinding name could pass."""
    monkeypatch.setenv("GIDS_WEBHOOK_ALLOW", "some-other-partner.example")
    monkeypatch.setenv("GIDS_WEBHOOK_TIMEOUT", "1")
    dns = FakeDns(monkeypatch, ["192.0.2.10"], ["127.0.0.1"])  # a TEST-NET address, then loopback
    reference = make_handover("uwv", webhook=webhook_receiver.url_for("partner.example"))
    now = utcnow()
    assert (await deliver_due(fresh_engine, now=now))["failed"] == 1
    assert dns.asked == 1  # one lookup, and that answer was judged
    assert only(fresh_engine, reference).last_error.endswith(
        "the host has a private address (192.0.2.10); only public addresses, or hosts in GIDS_WEBHOOK_ALLOW")

    with session_scope(fresh_engine) as session:  # the administrator retries; DNS now says 127.0.0.1
        session.execute(select(OutboxMessage)).scalar_one().next_attempt_at = now
    assert (await deliver_due(fresh_engine, now=now))["failed"] == 1
    assert dns.asked == 2 and webhook_receiver.seen == []
    assert "loopback address (127.0.0.1)" in only(fresh_engine, reference).last_error

    # One refused address among good ones refuses the host: no falling back to the bad one.
    dns.answers = [["8.8.8.8", "10.0.0.7"]]
    with session_scope(fresh_engine) as session:
        session.execute(select(OutboxMessage)).scalar_one().next_attempt_at = now
    assert (await deliver_due(fresh_engine, now=now))["failed"] == 1
    assert "private address (10.0.0.7)" in only(fresh_engine, reference).last_error


@SQLITE_ONLY
async def test_an_allowed_name_is_connected_on_the_resolved_address_with_tls_checked_for_the_name(
        fresh_engine, make_handover, webhook_receiver, local_webhooks, monkeypatch):
    monkeypatch.setenv("GIDS_WEBHOOK_ALLOW", "partner.example")
    dns = FakeDns(monkeypatch, ["127.0.0.1"])
    reference = make_handover("uwv", webhook=webhook_receiver.url_for("partner.example"))
    assert (await deliver_due(fresh_engine, now=utcnow()))["sent"] == 1
    assert dns.asked == 1 and webhook_receiver.headers[0]["Host"] == f"partner.example:{webhook_receiver.port}"
    assert only(fresh_engine, reference).status == "sent"


@SQLITE_ONLY
async def test_behind_a_proxy_the_partner_host_is_still_checked(fresh_engine, make_handover, webhook_receiver,
                                                                local_webhooks, monkeypatch):
    proxy_port = free_port()  # nothing listens: the proxy must not even be tried
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy_port}")
    monkeypatch.delenv("GIDS_WEBHOOK_ALLOW")  # the proxy, an administrator's own setting, needs no entry
    dns = FakeDns(monkeypatch, ["10.9.8.7"])
    reference = make_handover("uwv", webhook="https://partner.example/hook")
    assert (await deliver_due(fresh_engine, now=utcnow()))["failed"] == 1
    assert dns.asked == 1
    assert "private address (10.9.8.7)" in only(fresh_engine, reference).last_error
    other = make_handover("gemeente-GM0014", webhook="https://10.1.1.1/hook")
    assert (await deliver_due(fresh_engine, now=utcnow()))["failed"] == 1
    assert "private address (10.1.1.1)" in only(fresh_engine, other).last_error


# ------------------------------------------------------------- forward and close cancel

@SQLITE_ONLY
async def test_a_forward_in_the_console_cancels_what_the_previous_partner_did_not_get_yet(
        fresh_engine, make_handover, webhook_receiver, local_webhooks, caplog):
    from tests.console.conftest import add_staff, console, login, post_form

    webhook_receiver.script = ["500"]  # the first partner's receiver is down at first
    reference = make_handover("uwv", webhook=webhook_receiver.url_for("127.0.0.1") + "?partner=uwv")
    now = utcnow()
    assert (await deliver_due(fresh_engine, now=now))["retry"] == 1  # it waits for a next try
    with session_scope(fresh_engine) as session:
        session.get(Partner, "gemeente-GM0014").handover_webhook = webhook_receiver.url + "?partner=groningen"

    add_staff(fresh_engine, "anna", "admin")
    async with console(fresh_engine) as client:
        await login(client, "anna")
        page = f"/handovers/{reference}"
        await post_form(client, f"{page}/forward", {"partner_id": "gemeente-GM0014", "reason": "schulden eerst"},
                        page=page)

    rows = messages(fresh_engine, reference)
    old = next(m for m in rows if m.partner_id == "uwv")
    assert old.status == "pending" and old.next_attempt_at == PARKED
    assert old.last_error == "cancelled: the handover went to another partner"
    for secret in personal_strings():
        assert secret not in old.payload  # a cancelled message keeps no copy of the handover

    # Even long after uwv's retry was due, only the new partner gets it.
    assert await deliver_due(fresh_engine, now=now + dt.timedelta(days=1)) == {**EMPTY_ROUND, "leased": 1, "sent": 1}
    assert [s.answer for s in webhook_receiver.seen] == ["500", "200"]
    delivered = json.loads(webhook_receiver.seen[-1].body)
    assert delivered["partner_id"] == "gemeente-GM0014"
    assert webhook_receiver.headers[-1]["X-Gids-Signature"] == sign_webhook(
        partner_webhook_secret(MASTER, "gemeente-GM0014"), int(webhook_receiver.headers[-1]["X-Gids-Timestamp"]),
        webhook_receiver.seen[-1].body)
    assert any("cancelled: the handover went to another partner" in r.getMessage() for r in caplog.records)

    # And a retry by an administrator does not bring the cancelled one back.
    assert outbox.retry(reference, fresh_engine).due == 0
    report = outbox.status(fresh_engine)
    assert (report["cancelled"], report["sent"], report["pending"], report["failed"]) == (1, 1, 0, 0)


@SQLITE_ONLY
@pytest.mark.parametrize("how", ["console", "api"])
async def test_closing_cancels_the_notifications_not_sent_yet(fresh_engine, make_handover, webhook_receiver,
                                                              local_webhooks, how):
    from tests.console.conftest import add_staff, console, login, post_form

    webhook_receiver.script = ["503"]
    reference = make_handover("uwv", webhook=webhook_receiver.url)
    now = utcnow()
    assert (await deliver_due(fresh_engine, now=now))["retry"] == 1
    if how == "console":
        add_staff(fresh_engine, "pim", "partner", partner="uwv")
        async with console(fresh_engine) as client:
            await login(client, "pim")
            await post_form(client, f"/handovers/{reference}/close", page=f"/handovers/{reference}")
    else:  # the partner's own system closes it through the API
        from bot.console import auth
        with session_scope(fresh_engine) as session:
            _, token = auth.add_token(session, "uwv", "crm")
        async with console(fresh_engine) as client:
            resp = await client.post(f"/api/v1/handovers/{reference}/close",
                                     headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 200
    with session_scope(fresh_engine) as session:
        assert session.execute(select(Handover.status).where(Handover.reference == reference)).scalar() == "closed"

    # The message was not due yet; the next round cancels it anyway, and nothing is sent.
    counts = await deliver_due(fresh_engine, now=now)
    assert counts == {**EMPTY_ROUND, "cancelled": 1}
    cancelled = only(fresh_engine, reference)
    assert cancelled.last_error == "cancelled: the handover was closed" and cancelled.next_attempt_at == PARKED
    assert await deliver_due(fresh_engine, now=now + dt.timedelta(days=2)) == EMPTY_ROUND
    assert len(webhook_receiver.seen) == 1  # the one failed try before the close
    assert outbox.retry(reference, fresh_engine).due == 0


async def test_a_closed_or_moved_handovers_messages_are_never_leased_and_the_round_cancels_them(
        fresh_engine, make_handover, webhook_receiver, local_webhooks):
    closed = make_handover("uwv", webhook=webhook_receiver.url)
    moved = make_handover("uwv", email="team@uwv.example", webhook=webhook_receiver.url)
    kept = make_handover("sbb", webhook=webhook_receiver.url)
    with session_scope(fresh_engine) as session:  # changed by some path that cancels nothing itself
        session.execute(select(Handover).where(Handover.reference == closed)).scalar_one().status = "closed"
        session.execute(select(Handover).where(Handover.reference == moved)).scalar_one().partner_id = "sbb"
    now = utcnow()
    assert [m.reference for m in outbox._lease_due(fresh_engine, now, 50)] == [kept]
    assert await deliver_due(fresh_engine, now=now + outbox.LEASE) == {**EMPTY_ROUND, "leased": 1, "sent": 1,
                                                                      "cancelled": 3}
    assert len(webhook_receiver.seen) == 1 and json.loads(webhook_receiver.seen[0].body)["reference"] == kept
    assert [m.last_error for m in messages(fresh_engine, closed)] == ["cancelled: the handover was closed"]
    assert [m.last_error for m in messages(fresh_engine, moved)] == ["cancelled: the handover went to another partner"] * 2
    report = outbox.status(fresh_engine, now=now)
    assert (report["pending"], report["sent"], report["cancelled"], report["failed"]) == (0, 1, 3, 0)


# ------------------------------------------------------------- notes after a forward

@SQLITE_ONLY
async def test_after_a_forward_the_new_partner_does_not_see_the_previous_partners_notes(
        fresh_engine, make_handover, no_webhook_settings):
    from tests.console.conftest import add_staff, console, login, post_form

    reference = make_handover("uwv")
    page = f"/handovers/{reference}"
    add_staff(fresh_engine, "uwv-pim", "partner", partner="uwv")
    add_staff(fresh_engine, "gron-els", "partner", partner="gemeente-GM0014")
    add_staff(fresh_engine, "wc-wim", "werkcentrum", region="AM01")
    add_staff(fresh_engine, "anna", "admin")
    with session_scope(fresh_engine) as session:  # Groningen: arbeidsmarktregio AM01 (wc-wim's)
        region = session.execute(select(Handover.region_code).where(Handover.reference == reference)).scalar()
    assert region == "AM01"

    async with console(fresh_engine) as client:
        await login(client, "uwv-pim")
        await post_form(client, f"{page}/note", {"text": "Intern UWV: eerder gesproken over sancties"}, page=page)
    async with console(fresh_engine) as client:
        await login(client, "wc-wim")
        await post_form(client, f"{page}/note", {"text": "Werkcentrum: graag eerst schuldhulp"}, page=page)
    async with console(fresh_engine) as client:
        await login(client, "uwv-pim")
        await post_form(client, f"{page}/forward", {"partner_id": "gemeente-GM0014",
                                                    "reason": "UWV-intern oordeel over deze persoon"}, page=page)
    async with console(fresh_engine) as client:
        await login(client, "gron-els")
        html = await (await client.get(page)).text()
        assert "Intern UWV" not in html and "UWV-intern oordeel" not in html
        assert "Werkcentrum: graag eerst schuldhulp" in html
        print_html = await (await client.get(f"{page}/print")).text()
        assert "Intern UWV" not in print_html and "Werkcentrum: graag eerst schuldhulp" in print_html
        await post_form(client, f"{page}/note", {"text": "Gemeente: afspraak gemaakt"}, page=page)
        assert "Gemeente: afspraak gemaakt" in await (await client.get(page)).text()
        export = await (await client.get(f"{page}.json")).text()
        assert "Intern UWV" not in export
    for who in ("wc-wim", "anna"):  # the Werkcentrum and administrators still see every note
        async with console(fresh_engine) as client:
            await login(client, who)
            html = await (await client.get(page)).text()
            assert "Intern UWV" in html and "Gemeente: afspraak gemaakt" in html, who

    # A note whose author was removed is not shown to partner staff (its organisation is unknown).
    with session_scope(fresh_engine) as session:
        note = session.execute(select(HandoverNote).where(HandoverNote.text.like("Gemeente:%"))).scalar_one()
        note.user_id = None
    async with console(fresh_engine) as client:
        await login(client, "gron-els")
        assert "Gemeente: afspraak gemaakt" not in await (await client.get(page)).text()


async def test_refusals_name_the_reason_never_the_url(no_webhook_settings):
    """A URL may carry a token or a password: refusal texts (stored and logged) never hold it."""
    for url in ("http://user:pw@partner.example/hook?token=abc", "https://user:pw@10.0.0.1/hook?token=abc",
                "https://[fe80::1%25eth0]/hook?token=abc"):
        with pytest.raises(notify.TargetRefused) as refused:
            await notify.check_webhook_target(url, proxied=False)
        text = str(refused.value)
        assert refused.value.permanent and "abc" not in text and "pw" not in text and "/hook" not in text, text
