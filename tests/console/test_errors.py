"""Bad luck and bad input: the database away, a bug, a huge form. Calm Dutch pages (JSON for the
API), and no personal data in the log."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError

from bot.handover import lifecycle

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

    def broken(session, handover, text, *args, **kw):
        raise IntegrityError("INSERT INTO handover_note (text) VALUES (?)", (text,), Exception("constraint failed"))
    monkeypatch.setattr(lifecycle, "add_note", broken)
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


def test_one_rule_for_an_unavailable_database(tmp_path):
    """bot.db.database_errors, which the console (``in_db``), the outbox, the routing table, the
    channels and the purge all use: a database that fails is DatabaseUnavailable with a reason
    that holds no data; a unique-key clash stays IntegrityError for the caller to decide."""
    from sqlalchemy import text

    from bot.db import DatabaseUnavailable, database_errors, make_engine
    from tests.conftest import PG_ADMIN_URL

    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    gone = create_engine(f"sqlite:///{blocker}/gids.db", future=True)
    with pytest.raises(DatabaseUnavailable, match=r"^reading: unable to open database file$") as caught:
        with database_errors("reading"), gone.connect():
            pass
    assert caught.value.__cause__ is None and caught.value.__suppress_context__

    memory = create_engine("sqlite://", future=True)
    with memory.begin() as conn:
        conn.execute(text("CREATE TABLE t (k TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES ('0612345678')"))
    with pytest.raises(IntegrityError):
        with database_errors("writing"), memory.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('0612345678')"))

    # A driver error about data can quote the value: only its type is kept.
    postgres = make_engine(PG_ADMIN_URL)
    try:
        with pytest.raises(DatabaseUnavailable) as caught:
            with database_errors("reading"), postgres.connect() as conn:
                conn.execute(text("SELECT CAST(:v AS integer)"), {"v": "BSN 123456782"})
        assert str(caught.value) == "reading: InvalidTextRepresentation"
    finally:
        postgres.dispose()
