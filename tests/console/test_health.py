"""The console's GET /health (bot.console.health): 200 without a login when its
database answers, 503 when it does not; no cookie, no personal data."""
from __future__ import annotations

from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import create_engine

from tests.conftest import free_port

from .conftest import SECRET, add_staff


@asynccontextmanager
async def console_with_health(engine):
    from bot.console import make_app

    app = make_app(engine, secret=SECRET)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def test_health_answers_without_a_login_and_says_nothing_else(engine):
    add_staff(engine, "anna", "admin")
    async with console_with_health(engine) as client:
        resp = await client.get("/health", allow_redirects=False)
        assert resp.status == 200
        assert (await resp.json())["status"] == "ok"
        assert "Set-Cookie" not in resp.headers and resp.headers["Cache-Control"] == "no-store"
        assert "anna" not in await resp.text()
        assert (await client.head("/health", allow_redirects=False)).status == 200
        # Everything else still needs a login.
        assert (await client.get("/", allow_redirects=False)).status == 303
        assert (await client.post("/health", allow_redirects=False)).status != 200


async def test_health_is_503_when_the_database_is_down():
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/gone", future=True)
    async with console_with_health(engine) as client:
        resp = await client.get("/health", allow_redirects=False)
        assert resp.status == 503
        assert (await resp.json()) == {"status": "database unavailable"}
    engine.dispose()
