"""Who sees what, on SQLite and PostgreSQL: partner staff only their organisation's handovers,
Werkcentrum staff only their region's, admins all; through every door (list, page, export, print,
API, guessed references, actions). What may not be seen is answered exactly like what does not
exist."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.console import auth
from bot.db import session_scope
from bot.db.models import Handover, HandoverNote, OutboxMessage

from .conftest import add_handover, add_staff, audit_rows, console, csrf_of, login


def _state(engine) -> dict:
    with session_scope(engine) as session:
        rows = session.execute(select(Handover.reference, Handover.status, Handover.partner_id,
                                      Handover.claimed_by)).all()
        notes = session.execute(select(func.count()).select_from(HandoverNote)).scalar()
        outbox = session.execute(select(func.count()).select_from(OutboxMessage)).scalar()
    return {"handovers": sorted(map(tuple, rows)), "notes": notes, "outbox": outbox}


async def test_authorisation_matrix(matrix_engine):
    engine = matrix_engine
    # Organisation A = UWV, organisation B = SBB; regions AM01 (Groningen) and AM02 (Friesland).
    h = {
        "a_am01": add_handover(engine, partner_id="uwv", region_code="AM01", gemeente_code="GM0014"),
        "b_am02": add_handover(engine, partner_id="sbb", region_code="AM02"),
        "b_am01": add_handover(engine, partner_id="sbb", region_code="AM01"),
    }
    users = {
        "partner_a": ("partner", {"partner": "uwv"}, {"a_am01"}),
        "partner_b": ("partner", {"partner": "sbb"}, {"b_am02", "b_am01"}),
        "wc_am01": ("werkcentrum", {"region": "AM01"}, {"a_am01", "b_am01"}),
        "wc_am02": ("werkcentrum", {"region": "AM02"}, {"b_am02"}),
        "admin": ("admin", {}, set(h)),
    }
    for name, (role, kw, _) in users.items():
        add_staff(engine, name.replace("_", "-"), role, **kw)
    guesses = ["WC-2026-999999", "WC-2025-000001", "WC-2026-000000"]

    for name, (role, _, allowed) in users.items():
        before = _state(engine)
        async with console(engine) as client:
            await login(client, name.replace("_", "-"))
            listed = set(re.findall(r'href="/handovers/(WC-[\d-]+)"',
                                    await (await client.get("/?status=all")).text()))
            assert listed == {h[k] for k in allowed}, name
            # The list of another region (admins may filter on region; others' filters do not widen).
            listed = set(re.findall(r'href="/handovers/(WC-[\d-]+)"',
                                    await (await client.get("/?status=all&region=AM02")).text()))
            assert listed <= {h[k] for k in allowed}, name

            not_found_bodies = set()
            for key, ref in h.items():
                for path in (f"/handovers/{ref}", f"/handovers/{ref}.json", f"/handovers/{ref}/print"):
                    resp = await client.get(path)
                    assert resp.status == (200 if key in allowed else 404), (name, path)
                    if key not in allowed:
                        not_found_bodies.add(await resp.text())
            for ref in guesses:
                resp = await client.get(f"/handovers/{ref}")
                assert resp.status == 404
                not_found_bodies.add(await resp.text())
            for path in ("/handovers/1", "/handovers/2", f"/handovers/{h['a_am01'].lower()}",
                         "/handovers/WC-2026-1", f"/handovers/{h['a_am01']}%00"):
                assert (await client.get(path)).status == 404, path
            # An unknown and a forbidden reference look the same.
            assert len(not_found_bodies) == 1, name

            token = csrf_of(await (await client.get("/")).text())
            for key, ref in h.items():
                if key in allowed:
                    continue
                for action, form in (("claim", {}), ("close", {}), ("note", {"text": "binnengedrongen"}),
                                     ("forward", {"partner_id": "fnv"})):
                    resp = await client.post(f"/handovers/{ref}/{action}", data={"csrf_token": token, **form},
                                             allow_redirects=False)
                    assert resp.status == 404, (name, key, action)
        assert _state(engine) == before, name  # nothing changed through a forbidden door

    # Every refused look was logged as not_found, without confirming anything to the user.
    assert any(e["action"] == "not_found" and e["actor"] == "partner-a" for e in audit_rows(engine))
    views = {(e["actor"], e["reference"]) for e in audit_rows(engine, action="view")}
    for name, (_, _, allowed) in users.items():
        assert {r for a, r in views if a == name.replace("_", "-")} == {h[k] for k in allowed}


async def test_api_sees_only_the_tokens_own_partner(matrix_engine):
    engine = matrix_engine
    mine = add_handover(engine, partner_id="uwv", region_code="AM01")
    theirs = add_handover(engine, partner_id="sbb", region_code="AM01")
    with session_scope(engine) as session:
        _, token_a = auth.add_token(session, "uwv", "CRM")
    auth_a = {"Authorization": f"Bearer {token_a}"}
    before = _state(engine)
    async with console(engine) as client:
        data = await (await client.get("/api/v1/handovers", headers=auth_a)).json()
        assert [x["reference"] for x in data["handovers"]] == [mine]
        bodies = set()
        for ref in (theirs, "WC-2026-999999", "1"):
            resp = await client.get(f"/api/v1/handovers/{ref}", headers=auth_a)
            assert resp.status == 404
            bodies.add(await resp.text())
            for action in ("claim", "close"):
                resp = await client.post(f"/api/v1/handovers/{ref}/{action}", headers=auth_a)
                assert resp.status == 404
                bodies.add(await resp.text())
        assert len(bodies) == 1
    assert _state(engine) == before
    assert {e["actor"] for e in audit_rows(engine, action="not_found")} == {"api:uwv"}
