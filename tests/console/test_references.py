"""Handover references (security review, issue 13): random, not a counter, unique by the database,
in the shape staff, the console, the API and `gids forget` know; older counter references still work."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

import bot.handover as handover_module
from bot.console import access
from bot.db import session_scope
from bot.db.models import Handover
from bot.handover import make_reference, utcnow
from bot.privacy import redact

from .conftest import add_handover, add_staff, console, login

NEW_FORM = re.compile(r"^WC-\d{4}-[1-9]\d{9}$")


def test_consecutive_handovers_get_unrelated_references(matrix_engine):
    refs = [add_handover(matrix_engine, partner_id="uwv", region_code="AM01") for _ in range(40)]
    year = utcnow().year
    assert all(NEW_FORM.match(r) and r.startswith(f"WC-{year}-") for r in refs), refs
    assert len(set(refs)) == len(refs)
    numbers = [int(r.rsplit("-", 1)[1]) for r in refs]
    steps = [b - a for a, b in zip(numbers, numbers[1:])]
    # No common step, and no step small enough to walk from one reference to the next.
    assert len(set(steps)) == len(steps)
    assert min(abs(s) for s in steps) > 1000
    # Not even the order of creation shows.
    assert numbers != sorted(numbers) and numbers != sorted(numbers, reverse=True)


def test_a_reference_already_taken_is_never_given_again(matrix_engine, monkeypatch):
    taken = add_handover(matrix_engine, partner_id="uwv", region_code="AM01")
    offered = iter([taken, taken, "WC-2026-5550001234"])
    monkeypatch.setattr(handover_module, "make_reference", lambda created_at: next(offered))
    assert add_handover(matrix_engine, partner_id="uwv", region_code="AM01") == "WC-2026-5550001234"
    # And the database itself refuses a duplicate.
    with pytest.raises(IntegrityError):
        with session_scope(matrix_engine) as session:
            newest = session.execute(select(Handover.id).order_by(Handover.id.desc())).scalars().first()
            session.execute(update(Handover).where(Handover.id == newest).values(reference=taken))


def test_references_stay_readable_in_redacted_text():
    """10 digits, no leading 0: never taken for a BSN or a phone number in a transcript."""
    for _ in range(300):
        ref = make_reference(datetime(2026, 5, 4))
        text = f"Je aanvraag heeft nummer {ref}. Bewaar dit nummer."
        assert redact(text) == text, text
        assert access.REFERENCE_RE.match(ref)


async def test_older_counter_references_still_open_in_the_console(engine):
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    with session_scope(engine) as session:
        session.execute(update(Handover).where(Handover.reference == ref).values(reference="WC-2026-000123"))
    async with console(engine) as client:
        await login(client, "anna")
        resp = await client.get("/handovers/WC-2026-000123")
        assert resp.status == 200
        assert "WC-2026-000123" in await resp.text()
