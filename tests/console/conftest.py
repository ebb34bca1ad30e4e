"""Fixtures for the console tests: a fresh seeded database per test (a copy of a seeded SQLite
file; PostgreSQL from a seeded template for the authorisation matrix), staff accounts, handovers
made with bot.handover.create_handover, and aiohttp test clients that log in like a browser."""
from __future__ import annotations

import re
import uuid
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Iterable, Optional

import pytest
from aiohttp import CookieJar
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.db import make_engine, session_scope
from bot.db.models import AuditLog, QuestionSignal
from bot.handover import TranscriptEntry, create_handover
from tests.conftest import free_port

PASSWORD = "correct horse battery"
SECRET = Fernet.generate_key()

# What a person typed: it must show as text, never run.
XSS_LINES = ("<script>alert(1)</script>", '<img src=x onerror="alert(2)">')
CONTACT_NAME = "Sanne de Vries"
CONTACT_PHONE = "0612345678"


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """argon2 with the production cost takes ~50 ms and 64 MiB per hash; the tests make many."""
    from bot.console import auth
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_dummy_hash", None)


@pytest.fixture
def db_url(fresh_seeded_db):
    """A seeded SQLite database of this test's own."""
    return fresh_seeded_db("sqlite")


@pytest.fixture(params=["sqlite", "postgresql"])
def matrix_db_url(request, fresh_seeded_db):
    """The same, on SQLite and on PostgreSQL (for the authorisation matrix)."""
    return fresh_seeded_db(request.param)


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def matrix_engine(matrix_db_url):
    eng = make_engine(matrix_db_url)
    yield eng
    eng.dispose()


# --- data ---------------------------------------------------------------------------------------

def add_staff(engine, username: str, role: str, *, region: Optional[str] = None,
              partner: Optional[str] = None, password: str = PASSWORD, name: str = "") -> int:
    from bot.console import auth
    with session_scope(engine) as session:
        return auth.add_user(session, username, password, role=role, region_code=region,
                             partner_id=partner, display_name=name).id


def add_handover(engine, *, partner_id: str, region_code: Optional[str] = None,
                 gemeente_code: Optional[str] = None, topics: Iterable[str] = ("ask_debt_help",),
                 transcript=None, contact_name: str = CONTACT_NAME, summary: str = "Vraag over schulden",
                 created_at: Optional[datetime] = None) -> str:
    transcript = transcript if transcript is not None else (
        TranscriptEntry("persoon", "Ik heb schulden en ik weet niet wat ik moet doen"),
        TranscriptEntry("gids", "Hulp bij schulden krijg je bij je gemeente. Die hulp is gratis."),
    )
    with session_scope(engine) as session:
        h = create_handover(session, conversation_id=f"conv-{uuid.uuid4().hex[:8]}", channel="socketio",
                            partner_id=partner_id, contact_name=contact_name, contact_method="phone",
                            contact_value=CONTACT_PHONE, transcript=transcript, topics=topics,
                            region_code=region_code, gemeente_code=gemeente_code, summary=summary,
                            now=created_at, notify=False)
        return h.reference


def add_signals(engine, rows) -> None:
    """rows: (asked_on: date, topic, region_code or None, how many)."""
    with session_scope(engine) as session:
        for asked_on, topic, region, n in rows:
            for _ in range(n):
                session.add(QuestionSignal(asked_on=asked_on, topic=topic, region_code=region))


def audit_rows(engine, **where) -> list:
    with session_scope(engine) as session:
        query = select(AuditLog).order_by(AuditLog.id)
        for column, value in where.items():
            column = {"reference": "handover_reference"}.get(column, column)
            query = query.where(getattr(AuditLog, column) == value)
        return [dict(action=a.action, actor=a.actor, user_id=a.user_id, handover_id=a.handover_id,
                     reference=a.handover_reference, detail=a.detail, ip=a.ip)
                for a in session.execute(query).scalars()]


# --- the app and clients ------------------------------------------------------------------------

@asynccontextmanager
async def console(engine, *, secure_cookies: bool = True, trusted_proxies: str = ""):
    """The console on a TestServer and a client whose cookie jar treats the test origin as secure
    (as browsers treat localhost), so the production cookie settings are what is tested.
    ``trusted_proxies``: GIDS_TRUSTED_PROXIES (the client connects from 127.0.0.1)."""
    from bot.console import make_app
    app = make_app(engine, secret=SECRET, secure_cookies=secure_cookies, trusted_proxies=trusted_proxies)
    port = free_port()
    server = TestServer(app, host="127.0.0.1", port=port)
    jar = CookieJar(unsafe=True, treat_as_secure_origin=f"http://127.0.0.1:{port}")
    client = TestClient(server, cookie_jar=jar)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def login(client, username: str, password: str = PASSWORD, *, expect: int = 303,
                headers: Optional[dict] = None):
    page = await client.get("/login", headers=headers)
    token = csrf_of(await page.text())
    resp = await client.post("/login", data={"username": username, "password": password,
                                             "csrf_token": token, "next": "/"}, allow_redirects=False,
                             headers=headers)
    assert resp.status == expect, (resp.status, await resp.text())
    return resp


async def post_form(client, path: str, data: Optional[dict] = None, *, page: Optional[str] = None):
    """POSTs a form the way the browser does: with the CSRF token of the page it came from."""
    source = await client.get(page or "/")
    assert source.status == 200, source.status
    form = {"csrf_token": csrf_of(await source.text()), **(data or {})}
    return await client.post(path, data=form, allow_redirects=False)


TODAY = date.today()
