"""Bad luck and bad input: the database away, a bug, a huge form. Calm Dutch pages (JSON for the
API), and no personal data in the log."""
from __future__ import annotations

import logging

from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from bot.console import access

from .conftest import add_handover, add_staff, console, csrf_of, login, post_form
from tests.conftest import free_port


async def test_database_away_gives_a_calm_page_and_a_clean_log(caplog):
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/gone", future=True)
    caplog.set_level(logging.INFO)
    async with console(engine) as client:
        page = await client.get("/login")
        assert page.status == 200  # the login page itself needs no database
        resp = await client.post("/login", data={"username": "anna", "password": "mijn geheime wachtwoord",
                                                 "csrf_token": csrf_of(await page.text())})
        assert resp.status == 503
        assert "De database is even niet bereikbaar" in await resp.text()
        assert resp.headers["Cache-Control"] == "no-store"
        resp = await client.get("/api/v1/handovers", headers={"Authorization": "Bearer gids_something"})
        assert resp.status == 503 and (await resp.json())["error"] == "unavailable"
    assert "database unavailable" in caplog.text
    assert "mijn geheime wachtwoord" not in caplog.text and "gids_something" not in caplog.text
    engine.dispose()


async def test_an_unexpected_error_logs_no_personal_data(engine, monkeypatch, caplog):
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")

    def broken(session, handover, text, **kw):
        raise IntegrityError("INSERT INTO handover_note (text) VALUES (?)", (text,), Exception("constraint failed"))
    monkeypatch.setattr(access, "add_note", broken)
    caplog.set_level(logging.INFO)
    async with console(engine) as client:
        await login(client, "anna")
        resp = await post_form(client, f"/handovers/{ref}/note", {"text": "Mevrouw heeft BSN 123456782"},
                               page=f"/handovers/{ref}")
        assert resp.status == 500
        assert "Dat is onze fout" in await resp.text()
    assert "unexpected IntegrityError" in caplog.text and "constraint failed" in caplog.text
    assert "123456782" not in caplog.text and "Mevrouw" not in caplog.text


async def test_a_huge_form_is_refused_plainly(engine):
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as client:
        await login(client, "anna")
        token = csrf_of(await (await client.get("/")).text())
        resp = await client.post(f"/handovers/{ref}/note", data={"csrf_token": token, "text": "x" * 400_000})
        assert resp.status == 413
        assert "Je tekst is te lang" in await resp.text()
