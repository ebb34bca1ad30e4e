"""Request bodies (security review, issue 13): nobody who is not logged in gets a body read, except
the login form's own; and no body is larger than the console's forms need (app.MAX_BODY)."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bot.console import app as console_app

from .conftest import add_handover, add_staff, console, login, post_form

FOUR_MB = 4 * 1024 * 1024


@pytest.fixture
def body_reads(monkeypatch):
    """Every time the console reads a request body (request.post() reads through read())."""
    reads = []
    real_read, real_post = web.BaseRequest.read, web.BaseRequest.post

    async def read(self):
        reads.append(("read", self.path))
        return await real_read(self)

    async def post(self):
        reads.append(("post", self.path))
        return await real_post(self)
    monkeypatch.setattr(web.BaseRequest, "read", read)
    monkeypatch.setattr(web.BaseRequest, "post", post)
    return reads


async def raw_post(port: int, path: str, *, length: int, body: bytes, timeout: float = 3.0) -> str:
    """Sends the headers of a ``length``-byte multipart POST but only ``body``: a server that
    tried to read the body would wait for the rest, and the answer would not come."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write((f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Content-Type: multipart/form-data; boundary=grens\r\n"
                      f"Content-Length: {length}\r\n\r\n").encode() + body)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        return head.decode("latin-1")
    finally:
        writer.close()


async def test_an_anonymous_big_post_is_refused_without_reading_the_body(engine, body_reads):
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    start = b'--grens\r\nContent-Disposition: form-data; name="text"\r\n\r\nxxxx'
    async with console(engine) as client:
        port = client.server.port
        for path in (f"/handovers/{ref}/note", f"/handovers/{ref}/claim", "/logout", "/trends"):
            head = await raw_post(port, path, length=FOUR_MB, body=start)
            assert head.startswith("HTTP/1.1 303"), (path, head)
            assert "\r\nLocation: /login?next=/\r\n" in head
        # The same through an ordinary client, with the whole 4 MB sent: the login page, no error.
        resp = await client.post(f"/handovers/{ref}/note", data={"text": "x" * FOUR_MB},
                                 allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"] == "/login?next=/"
    assert body_reads == []


async def test_the_login_form_is_read_but_not_a_big_one(engine, body_reads):
    add_staff(engine, "anna", "admin")
    async with console(engine) as client:
        head = await raw_post(client.server.port, "/login", length=FOUR_MB, body=b"--grens\r\n")
        assert head.startswith("HTTP/1.1 413"), head
        assert body_reads == []
        await login(client, "anna")
        assert ("post", "/login") in body_reads


async def test_logged_in_forms_are_read_up_to_the_limit(engine):
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as client:
        await login(client, "anna")
        # A note of 4000 characters, each 4 bytes in UTF-8 and 12 when form-encoded, still fits.
        resp = await post_form(client, f"/handovers/{ref}/note", {"text": "😀" * 4000},
                               page=f"/handovers/{ref}")
        assert resp.status == 303
        resp = await post_form(client, f"/handovers/{ref}/note", {"text": "x" * console_app.MAX_BODY},
                               page=f"/handovers/{ref}")
        assert resp.status == 413
        assert "Je tekst is te lang" in await resp.text()
