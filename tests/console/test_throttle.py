"""Login throttling (security review, issue 13): per user name always, per client address only
where that address is known (a trusted proxy's X-Forwarded-For, or a direct connection when
proxies are configured), and counted atomically, also under concurrent logins."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from argon2 import PasswordHasher
from multidict import CIMultiDict

from bot.console import app as console_app
from bot.console import auth
from bot.db import session_scope

from .conftest import PASSWORD, SECRET, add_staff, audit_rows, console, csrf_of, login

PROXY = "127.0.0.1"          # the test client connects from here: it plays the reverse proxy
CLIENT, OTHER_CLIENT = "203.0.113.7", "203.0.113.8"


def forwarded(*hops: str) -> dict:
    return {"X-Forwarded-For": ", ".join(hops)}


class SlowHasher(PasswordHasher):
    """Cheap hashes that take a little while to verify, so concurrent logins really overlap."""

    def verify(self, hash, password):
        time.sleep(0.02)
        return super().verify(hash, password)


@pytest.fixture
def slow_verify(monkeypatch):
    monkeypatch.setattr(auth, "hasher", SlowHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_dummy_hash", None)


# --- per address: only where the address is the client's own ------------------------------------

async def test_many_failures_with_any_names_from_one_address_lock_nobody_out_without_a_trusted_proxy(engine):
    """Behind a proxy every client has the proxy's address: counting it would lock out all staff."""
    add_staff(engine, "anna", "admin")
    async with console(engine) as client:
        for i in range(auth.MAX_FAILURES_PER_IP + 5):
            await login(client, f"guess{i}", "wrong password!", expect=401)
        await login(client, "anna")
    assert len(audit_rows(engine, action="login_failed")) == auth.MAX_FAILURES_PER_IP + 5  # still on record


async def test_behind_a_trusted_proxy_the_forwarded_address_is_locked_and_no_other(engine):
    add_staff(engine, "anna", "admin")
    add_staff(engine, "bert", "admin")
    async with console(engine, trusted_proxies=f"{PROXY}, 10.0.0.0/8") as client:
        for i in range(auth.MAX_FAILURES_PER_IP):
            await login(client, f"guess{i}", "wrong password!", expect=401, headers=forwarded(CLIENT))
        # The right password from that address waits too; what the client put in front does not help.
        resp = await login(client, "anna", expect=429, headers=forwarded(CLIENT))
        assert "Wacht 15 minuten" in await resp.text()
        await login(client, "anna", expect=429, headers=forwarded("198.51.100.1", CLIENT))
        # Through a second trusted proxy (10.0.0.5) it is still the same client.
        await login(client, "anna", expect=429, headers=forwarded(CLIENT, "10.0.0.5"))
        # Another client behind the same proxy logs in.
        await login(client, "bert", headers=forwarded(OTHER_CLIENT))
    failures = audit_rows(engine, action="login_failed")
    assert {f["ip"] for f in failures} == {CLIENT}  # the audit log keeps the client's address
    assert audit_rows(engine, action="login")[0]["ip"] == OTHER_CLIENT


async def test_logins_that_succeed_do_not_count_against_an_office_address(engine):
    """A whole office may log in from one address in the morning."""
    for i in range(auth.MAX_FAILURES_PER_IP + 3):
        add_staff(engine, f"medewerker{i}", "admin")
    async with console(engine, trusted_proxies=PROXY) as client:
        for i in range(auth.MAX_FAILURES_PER_IP + 3):
            await login(client, f"medewerker{i}", headers=forwarded(CLIENT))
            client.session.cookie_jar.clear()


async def test_an_untrusted_x_forwarded_for_is_ignored(engine):
    add_staff(engine, "anna", "admin")
    # No trusted proxy: the header neither picks the address in the audit log nor locks anyone.
    async with console(engine) as client:
        for i in range(auth.MAX_FAILURES_PER_IP + 2):
            await login(client, f"guess{i}", "wrong password!", expect=401, headers=forwarded(CLIENT))
        await login(client, "anna", headers=forwarded(CLIENT))
    assert {f["ip"] for f in audit_rows(engine, action="login_failed")} == {"127.0.0.1"}

    # Proxies configured, but this connection is not one of them: it is a client itself, and a new
    # X-Forwarded-For on every try does not spread its failures over made-up addresses.
    add_staff(engine, "bert", "admin")
    async with console(engine, trusted_proxies="10.0.0.0/8") as client:
        for i in range(auth.MAX_FAILURES_PER_IP):
            await login(client, f"other{i}", "wrong password!", expect=401,
                        headers=forwarded(f"198.51.100.{i}"))
        await login(client, "bert", expect=429, headers=forwarded(OTHER_CLIENT))
    assert {f["ip"] for f in audit_rows(engine, action="login_failed")} == {"127.0.0.1"}


def _request(proxies: str, remote: str, *xff: str) -> web.Request:
    app = web.Application()
    app[console_app.TRUSTED] = console_app.parse_trusted_proxies(proxies)
    headers = CIMultiDict(("X-Forwarded-For", value) for value in xff)
    return make_mocked_request("POST", "/login", headers=headers, app=app).clone(remote=remote)


@pytest.mark.parametrize("proxies, remote, xff, address, own", [
    ("", "192.0.2.1", ["203.0.113.7"], "192.0.2.1", False),                 # no proxies: no per-address lock
    ("192.0.2.1", "192.0.2.1", ["203.0.113.7"], "203.0.113.7", True),
    ("192.0.2.1", "192.0.2.1", ["6.6.6.6, 203.0.113.7"], "203.0.113.7", True),  # right-most wins
    ("192.0.2.1", "192.0.2.1", ["6.6.6.6", "203.0.113.7"], "203.0.113.7", True),  # two header lines
    ("192.0.2.0/24", "192.0.2.9", ["203.0.113.7, 192.0.2.3"], "203.0.113.7", True),
    ("192.0.2.1", "192.0.2.1", [], "192.0.2.1", False),                     # no header: unknown
    ("192.0.2.1", "192.0.2.1", ["6.6.6.6, nonsense"], "192.0.2.1", False),  # broken header: unknown
    ("192.0.2.1", "192.0.2.1", ["192.0.2.1"], "192.0.2.1", False),          # only proxies: unknown
    ("192.0.2.1", "198.51.100.4", ["203.0.113.7"], "198.51.100.4", True),   # not from the proxy
    ("192.0.2.1", "192.0.2.1", ["203.0.113.7:51234"], "203.0.113.7", True),
    ("2001:db8::/32", "2001:db8::1", ["[2001:db8:ffff::1]:443, 2a00:1450::5"], "2a00:1450::5", True),
    ("192.0.2.1", "::ffff:192.0.2.1", ["203.0.113.7"], "203.0.113.7", True),
])
def test_which_address_is_the_client(proxies, remote, xff, address, own):
    request = _request(proxies, remote, *xff)
    assert console_app.client_ip(request) == address
    assert console_app.throttle_address(request) == (address if own else None)


def test_a_wrong_trusted_proxy_setting_stops_the_console(engine, monkeypatch):
    with pytest.raises(console_app.ConsoleConfigError, match="GIDS_TRUSTED_PROXIES: 'proxy.local' is geen IP-adres"):
        console_app.make_app(engine, secret=SECRET, trusted_proxies="10.0.0.1, proxy.local")
    monkeypatch.setenv("GIDS_TRUSTED_PROXIES", "10.0.0.0/33")
    with pytest.raises(console_app.ConsoleConfigError, match="10.0.0.0/33"):
        console_app.make_app(engine, secret=SECRET)
    monkeypatch.setenv("GIDS_TRUSTED_PROXIES", "10.0.0.1 10.0.1.0/24,::1")
    assert len(console_app.make_app(engine, secret=SECRET)[console_app.TRUSTED]) == 3


# --- atomic counting ----------------------------------------------------------------------------

async def test_concurrent_wrong_logins_get_no_more_than_the_allowed_attempts(matrix_engine, slow_verify):
    add_staff(matrix_engine, "anna", "admin")
    async with console(matrix_engine) as client:
        token = csrf_of(await (await client.get("/login")).text())

        async def attempt(password: str) -> int:
            resp = await client.post("/login", data={"username": "anna", "password": password,
                                                     "csrf_token": token}, allow_redirects=False)
            await resp.release()
            return resp.status

        statuses = await asyncio.gather(*(attempt("wrong password!") for _ in range(10)))
        assert sorted(statuses) == [401] * auth.MAX_FAILURES_PER_USER + [429] * (10 - auth.MAX_FAILURES_PER_USER)
        assert await attempt(PASSWORD) == 429
    assert len(audit_rows(matrix_engine, action="login_failed")) == auth.MAX_FAILURES_PER_USER


async def test_concurrent_failures_from_one_forwarded_address_are_counted_exactly(matrix_engine, slow_verify):
    async with console(matrix_engine, trusted_proxies=PROXY) as client:
        token = csrf_of(await (await client.get("/login")).text())

        async def attempt(i: int) -> int:
            resp = await client.post("/login", data={"username": f"guess{i}", "password": "wrong password!",
                                                     "csrf_token": token},
                                     headers=forwarded(CLIENT), allow_redirects=False)
            await resp.release()
            return resp.status

        statuses = await asyncio.gather(*(attempt(i) for i in range(auth.MAX_FAILURES_PER_IP + 8)))
    assert statuses.count(401) == auth.MAX_FAILURES_PER_IP and statuses.count(429) == 8


@pytest.mark.parametrize("threads, same_user", [(12, True), (26, False)])
def test_concurrent_calls_of_attempt_login_never_pass_the_limit(matrix_engine, slow_verify, threads, same_user):
    """Many threads, each its own transaction, all at once: the counts stay exact."""
    add_staff(matrix_engine, "anna", "admin")
    start = threading.Barrier(threads)

    def one(i: int) -> auth.LoginResult:
        start.wait()
        with session_scope(matrix_engine) as session:
            return auth.attempt_login(session, "anna" if same_user else f"guess{i}", "wrong password!",
                                      secret=b"k" * 32, ip=CLIENT, throttle_ip=CLIENT)

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, range(threads)))
    failed = [r for r in results if not r.ok and not r.wait_minutes]
    throttled = [r for r in results if r.wait_minutes]
    limit = auth.MAX_FAILURES_PER_USER if same_user else auth.MAX_FAILURES_PER_IP
    assert (len(failed), len(throttled)) == (limit, threads - limit)
    assert all(15 <= r.wait_minutes <= 16 for r in throttled)  # "now" is read before the lock wait
    assert len(audit_rows(matrix_engine, action="login_failed")) == limit


def test_the_lock_lasts_the_window_from_the_failure_that_reached_the_limit(engine):
    from datetime import timedelta

    from bot.handover import utcnow
    add_staff(engine, "anna", "admin")
    start, minute = utcnow(), timedelta(minutes=1)

    def attempt(at, password="wrong password!"):
        with session_scope(engine) as session:
            return auth.attempt_login(session, "anna", password, secret=b"k" * 32, ip=None, now=at)

    for i in range(auth.MAX_FAILURES_PER_USER - 1):
        assert not attempt(start + i * minute).ok
    last = start + 10 * minute
    fifth = attempt(last)  # the failure that reaches the limit, at minute 10
    assert not fifth.ok and not fifth.wait_minutes
    assert attempt(last + 14 * minute, PASSWORD).wait_minutes == 1
    assert attempt(last + auth.FAILURE_WINDOW + minute, PASSWORD).ok
    # A success wipes the slate: 5 new failures are allowed again.
    for i in range(auth.MAX_FAILURES_PER_USER):
        assert not attempt(last + 20 * minute).wait_minutes
    assert attempt(last + 20 * minute).wait_minutes == 15
