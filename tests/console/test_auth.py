"""Login, logout, throttling, disabled accounts, session expiry, CSRF and security headers."""
from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select

from bot.console import app as console_app
from bot.console import common
from bot.console import auth
from bot.db import session_scope
from bot.db.models import StaffUser

from .conftest import (PASSWORD, add_handover, add_staff, audit_rows, console, csrf_of, login,
                       post_form)


async def test_pages_need_a_login_and_login_brings_you_back(engine):
    add_staff(engine, "anna", "admin", name="Anna Jansen")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as client:
        for path in ("/", f"/handovers/{ref}", f"/handovers/{ref}.json", f"/handovers/{ref}/print", "/trends"):
            resp = await client.get(path, allow_redirects=False)
            assert resp.status == 303, path
            assert resp.headers["Location"].startswith("/login?next=")
        page = await client.get(f"/login?next=/handovers/{ref}")
        resp = await client.post("/login", data={"username": "Anna", "password": PASSWORD,
                                                 "csrf_token": csrf_of(await page.text()),
                                                 "next": f"/handovers/{ref}"}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == f"/handovers/{ref}"
        resp = await client.get("/")
        assert resp.status == 200
        assert "Anna Jansen" in await resp.text()
    entries = audit_rows(engine, action="login")
    assert len(entries) == 1 and entries[0]["actor"] == "anna" and entries[0]["ip"] == "127.0.0.1"


async def test_login_never_redirects_to_another_site(engine):
    add_staff(engine, "anna", "admin")
    async with console(engine) as client:
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example"):
            page = await client.get("/login")
            resp = await client.post("/login", data={"username": "anna", "password": PASSWORD,
                                                     "csrf_token": csrf_of(await page.text()), "next": target},
                                     allow_redirects=False)
            assert resp.status == 303 and resp.headers["Location"] == "/", target
            await post_form(client, "/logout")


async def test_unknown_user_and_wrong_password_get_the_same_answer(engine, monkeypatch):
    add_staff(engine, "anna", "admin")
    verified = []

    class Counting(PasswordHasher):
        def verify(self, hash, password):
            verified.append(hash)
            return super().verify(hash, password)
    monkeypatch.setattr(auth, "hasher", Counting(time_cost=1, memory_cost=1024, parallelism=1))
    async with console(engine) as client:
        wrong = await login(client, "anna", "not the password", expect=401)
        unknown = await login(client, "nobody", "not the password", expect=401)
        assert auth.LOGIN_FAILED in await wrong.text()
        assert auth.LOGIN_FAILED in await unknown.text()
        assert "nobody" in await unknown.text()  # the name stays in the field, nothing else differs
        # Both paths verify a hash, so an unknown name does not answer faster.
        assert len(verified) == 2
        resp = await client.get("/", allow_redirects=False)
        assert resp.status == 303
    failures = audit_rows(engine, action="login_failed")
    assert [f["actor"] for f in failures] == ["anna", "onbekend"]
    # The typed name is kept only as a keyed hash (someone may type a password into it).
    assert all(f["detail"].startswith("key=") and "nobody" not in f["detail"] for f in failures)


async def test_too_many_failures_for_one_user_are_throttled(engine):
    add_staff(engine, "anna", "admin")
    async with console(engine) as client:
        for _ in range(auth.MAX_FAILURES_PER_USER):
            await login(client, "anna", "wrong password!", expect=401)
        resp = await login(client, "anna", PASSWORD, expect=429)  # even the right password waits
        text = await resp.text()
        assert "te vaak een verkeerd wachtwoord" in text and "15 minuten" in text
        # Another user from the same address can still log in.
        add_staff(engine, "bert", "admin")
        await login(client, "bert")


async def test_throttle_ends_after_the_window(engine, monkeypatch):
    from datetime import timedelta

    from bot.handover import utcnow
    add_staff(engine, "anna", "admin")
    async with console(engine) as client:
        for _ in range(auth.MAX_FAILURES_PER_USER):
            await login(client, "anna", "wrong password!", expect=401)
        await login(client, "anna", PASSWORD, expect=429)
        later = utcnow() + auth.FAILURE_WINDOW + timedelta(seconds=5)
        real = auth.attempt_login
        monkeypatch.setattr(auth, "attempt_login", lambda *a, **k: real(*a, **{**k, "now": later}))
        await login(client, "anna", PASSWORD)


# Throttling per client address (only behind a trusted proxy) and under concurrency: test_throttle.py.


async def test_disabled_user_cannot_log_in_and_loses_the_open_session(engine):
    add_staff(engine, "anna", "werkcentrum", region="AM01")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as client:
        await login(client, "anna")
        assert (await client.get(f"/handovers/{ref}")).status == 200
        with session_scope(engine) as session:
            auth.disable_user(session, "anna")
        resp = await client.get(f"/handovers/{ref}", allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/login")
        resp = await login(client, "anna", expect=401)
        assert auth.LOGIN_FAILED in await resp.text()
        # Enabling again means a new password; the old one stays useless.
        with session_scope(engine) as session:
            auth.set_password(session, "anna", "a brand new password", enable=True)
        await login(client, "anna", PASSWORD, expect=401)
        await login(client, "anna", "a brand new password")


async def test_a_new_password_ends_other_sessions(engine):
    add_staff(engine, "anna", "admin")
    async with console(engine) as client:
        await login(client, "anna")
        with session_scope(engine) as session:
            auth.set_password(session, "anna", "another long password")
        assert (await client.get("/", allow_redirects=False)).status == 303


async def test_logout_ends_the_session_also_for_a_copy_of_the_cookie(engine):
    add_staff(engine, "anna", "admin")
    async with console(engine) as client, console(engine) as other_browser:
        await login(client, "anna")
        await login(other_browser, "anna")
        jar = client.session.cookie_jar
        copy = jar.filter_cookies(client.make_url("/"))["gids_console"].value
        resp = await post_form(client, "/logout")
        assert resp.status == 303 and resp.headers["Location"] == "/login"
        page = await client.get("/login")
        assert "Je bent uitgelogd." in await page.text()
        assert (await client.get("/", allow_redirects=False)).status == 303
        # Someone who copied the cookie before the logout gets nothing with it.
        jar.update_cookies({"gids_console": copy}, client.make_url("/"))
        assert (await client.get("/", allow_redirects=False)).status == 303
        # The same person's session in another browser stays.
        assert (await other_browser.get("/", allow_redirects=False)).status == 200
    assert [e["action"] for e in audit_rows(engine) if e["action"] in ("login", "logout")] == [
        "login", "login", "logout"]


async def test_session_ends_after_idle_time_and_after_a_day(engine, monkeypatch):
    import time
    add_staff(engine, "anna", "admin")
    start = time.time()
    for jump in (console_app.SESSION_IDLE + 5, console_app.SESSION_ABSOLUTE + 5):
        monkeypatch.setattr(common, "clock", lambda: start)
        async with console(engine) as client:
            await login(client, "anna")
            assert (await client.get("/", allow_redirects=False)).status == 200
            if jump > console_app.SESSION_IDLE * 2:
                # Stay active (a request every 50 minutes) until the absolute limit.
                t = start
                while t + 3000 < start + jump:
                    t += 3000
                    monkeypatch.setattr(common, "clock", lambda t=t: t)
                    assert (await client.get("/", allow_redirects=False)).status == 200
            token = csrf_of(await (await client.get("/")).text())
            monkeypatch.setattr(common, "clock", lambda: start + jump)
            # A form sent from a page left open goes to the login page, not to an error.
            resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
            assert resp.status == 303 and resp.headers["Location"] == "/login?next=/", jump
            resp = await client.get("/", allow_redirects=False)
            assert resp.status == 303, jump
            page = await client.get("/login")
            assert "Je sessie is verlopen" in await page.text()


async def test_post_without_or_with_a_wrong_csrf_token_is_refused(engine):
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as client:
        # Login itself needs the token.
        resp = await client.post("/login", data={"username": "anna", "password": PASSWORD}, allow_redirects=False)
        assert resp.status == 403
        await login(client, "anna")
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "wrong"}, {"csrf_token": "x" * 43}):
            for action in ("claim", "close", "note", "forward"):
                resp = await client.post(f"/handovers/{ref}/{action}", data={**data, "text": "hallo",
                                                                             "partner_id": "sbb"},
                                         allow_redirects=False)
                assert resp.status == 403, (action, data)
                assert "Laad de pagina opnieuw" in await resp.text()
            resp = await client.post("/logout", data=data, allow_redirects=False)
            assert resp.status == 403
        page = await client.get(f"/handovers/{ref}")
        assert "Nieuw" in await page.text()
    assert not [e for e in audit_rows(engine) if e["action"] in ("claim", "close", "note", "forward")]


async def test_a_token_from_another_session_does_not_work(engine):
    add_staff(engine, "anna", "admin")
    add_staff(engine, "bert", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as a, console(engine) as b:
        await login(a, "anna")
        await login(b, "bert")
        token_a = csrf_of(await (await a.get("/")).text())
        resp = await b.post(f"/handovers/{ref}/claim", data={"csrf_token": token_a}, allow_redirects=False)
        assert resp.status == 403


async def test_security_headers_on_every_response(engine):
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as client:
        anonymous = [await client.get("/login"), await client.get("/", allow_redirects=False),
                     await client.get("/api/v1/handovers"), await client.get("/api/v1/openapi.json")]
        await login(client, "anna")
        pages = [await client.get(p) for p in ("/", f"/handovers/{ref}", f"/handovers/{ref}.json",
                                               f"/handovers/{ref}/print", "/trends", "/no-such-page")]
        css = await client.get("/static/console.css")
        for resp in anonymous + pages + [css]:
            h = resp.headers
            assert "default-src 'self'" in h["Content-Security-Policy"], resp.url
            assert "script-src 'self'" in h["Content-Security-Policy"]
            assert "unsafe-inline" not in h["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
            assert h["X-Frame-Options"] == "DENY"
            assert h["X-Content-Type-Options"] == "nosniff"
            assert h["Referrer-Policy"] == "no-referrer"
        for resp in anonymous + pages:
            assert resp.headers["Cache-Control"] == "no-store", resp.url
        assert css.status == 200 and "no-store" not in css.headers.get("Cache-Control", "")
        assert pages[-1].status == 404


async def test_session_cookie_flags(engine):
    add_staff(engine, "anna", "admin")
    async with console(engine) as client:
        resp = await login(client, "anna")
        cookie = resp.headers["Set-Cookie"]
        for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
            assert flag in cookie, cookie
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    async with console(engine, secure_cookies=False) as client:
        resp = await login(client, "anna")
        assert "Secure" not in resp.headers["Set-Cookie"]


async def test_cookie_is_encrypted_and_tampering_logs_you_out(engine):
    add_staff(engine, "anna", "admin")
    async with console(engine) as client:
        resp = await login(client, "anna")
        value = resp.cookies["gids_console"].value
        assert "anna" not in value and "uid" not in value
        client.session.cookie_jar.update_cookies({"gids_console": value[:-8] + "AAAAAAAA"}, client.make_url("/"))
        assert (await client.get("/", allow_redirects=False)).status == 303


def test_password_rules_and_argon2_hashes(engine):
    add_staff(engine, "anna", "admin")
    with session_scope(engine) as session:
        stored = session.execute(select(StaffUser.password_hash)).scalar_one()
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        for bad in ("short", " leading space here", "trailing space here "):
            try:
                auth.add_user(session, "bert", bad, role="admin")
            except auth.AccountError as exc:
                assert "wachtwoord" in str(exc).lower()
            else:
                raise AssertionError(f"accepted {bad!r}")
    # The production hasher (not the cheap one the tests use) makes argon2id hashes.
    assert PasswordHasher().hash("x" * 12).startswith("$argon2id$")


async def test_weak_hashes_are_upgraded_at_login(engine, monkeypatch):
    add_staff(engine, "anna", "admin")
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    async with console(engine) as client:
        await login(client, "anna")
    with session_scope(engine) as session:
        assert "t=2" in session.execute(select(StaffUser.password_hash)).scalar_one()
