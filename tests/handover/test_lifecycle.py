"""bot.handover.lifecycle: the one set of functions behind every change to a handover. The staff
console, the partner API and the actions call them, so a claim, a close or a forward leaves the
same handover, the same audit entries and the same outbox whichever way it was made. On SQLite
and PostgreSQL, with the console and the API served for real."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy import select

from bot.console import auth
from bot.db import session_scope
from bot.db.models import AuditLog, Handover, HandoverNote, OutboxMessage, Partner, StaffUser
from bot.handover import lifecycle, outbox
from bot.handover.lifecycle import GIDS, Actor
from tests.console.conftest import add_staff, console, login, post_form
from tests.handover.conftest import CONTACT_NAME, CONTACT_PHONE, TRANSCRIPT


def trail(engine, reference):
    """The audit entries of one handover: (action, actor, user id, detail), oldest first."""
    with session_scope(engine) as session:
        return [(a.action, a.actor, a.user_id, a.detail) for a in session.execute(
            select(AuditLog).where(AuditLog.handover_reference == reference).order_by(AuditLog.id)).scalars()]


def state(engine, reference):
    with session_scope(engine) as session:
        h = session.execute(select(Handover).where(Handover.reference == reference)).scalar_one()
        return {"status": h.status, "partner_id": h.partner_id, "claimed_by": h.claimed_by,
                "claimed": h.claimed_at is not None, "closed": h.closed_at is not None,
                "service_id": h.service_id}


def outbox_rows(engine, reference):
    """(partner, kind, status, parked, why) of each notification, oldest first."""
    with session_scope(engine) as session:
        rows = session.execute(select(OutboxMessage).join(Handover).where(Handover.reference == reference)
                               .order_by(OutboxMessage.id)).scalars()
        return [(m.partner_id, m.kind, m.status, m.next_attempt_at >= outbox.PARKED, m.last_error) for m in rows]


def notes(engine, reference):
    with session_scope(engine) as session:
        return [(n.user_id, n.text) for n in session.execute(
            select(HandoverNote).join(Handover).where(Handover.reference == reference)
            .order_by(HandoverNote.id)).scalars()]


def api_headers(engine, partner_id):
    with session_scope(engine) as session:
        _, token = auth.add_token(session, partner_id, "crm")
    return {"Authorization": f"Bearer {token}"}


def staff_id(engine, username):
    with session_scope(engine) as session:
        return session.execute(select(StaffUser.id).where(StaffUser.username == username)).scalar_one()


# ------------------------------------------------------------------------------------ create

def test_create_stores_the_handover_its_notifications_and_its_audit_entry(fresh_engine):
    with session_scope(fresh_engine) as session:
        session.get(Partner, "uwv").handover_email = "team@uwv.example"
        # The partner the person chose, else their region's Werkcentrum, else nobody.
        assert lifecycle.receiving_partner(session, "uwv", "AM01").id == "uwv"
        fallback = lifecycle.receiving_partner(session, None, "AM01")
        assert fallback.type == "werkcentrum"
        assert lifecycle.receiving_partner(session, "no-such-partner", "AM01").id == fallback.id
        handover = lifecycle.create(
            session, partner=session.get(Partner, "uwv"), conversation_id=f"conv-{uuid.uuid4().hex[:8]}",
            channel="whatsapp", contact_name=CONTACT_NAME, contact_method="phone", contact_value=CONTACT_PHONE,
            transcript=TRANSCRIPT, topics=("ask_dismissal_help",), reason="request_human")
        reference, uwv_region = handover.reference, session.get(Partner, "uwv").region_code
    assert state(fresh_engine, reference)["status"] == "new"
    with session_scope(fresh_engine) as session:
        # Without the person's region the handover counts for the partner's.
        assert session.execute(select(Handover.region_code).where(Handover.reference == reference)).scalar() \
            == uwv_region
    assert trail(fresh_engine, reference) == [
        ("create", "gids", None, json.dumps({"reason": "request_human", "channel": "whatsapp"}))]
    assert outbox_rows(fresh_engine, reference) == [("uwv", "email", "pending", False, None)]


# ------------------------------------------------------------------------- claim and close

async def test_claim_and_close_from_the_console_and_from_the_api_are_the_same_change(fresh_engine, make_handover):
    by_console = make_handover("uwv", email="team@uwv.example")
    by_api = make_handover("uwv", email="team@uwv.example")
    add_staff(fresh_engine, "pim", "partner", partner="uwv")
    pim = staff_id(fresh_engine, "pim")
    headers = api_headers(fresh_engine, "uwv")

    async with console(fresh_engine) as client:
        await login(client, "pim")
        page = f"/handovers/{by_console}"
        for action in ("claim", "claim", "close", "close", "claim"):
            resp = await post_form(client, f"{page}/{action}", page=page)
            assert resp.status == 303
        api = "/api/v1/handovers/" + by_api
        answers = [await client.post(f"{api}/{action}", headers=headers)
                   for action in ("claim", "claim", "close", "close", "claim")]
        assert [r.status for r in answers] == [200, 200, 200, 200, 409]
        assert [(await r.json()).get("changed") for r in answers[:4]] == [True, False, True, False]

    # The same entries in the same order; only who did it differs (a person, or the partner's system).
    same = [("claim", ""), ("claim", "niet gewijzigd: status claimed"), ("close", ""),
            ("close", "niet gewijzigd: al afgesloten"), ("claim", "niet gewijzigd: status closed")]
    console_trail = [e for e in trail(fresh_engine, by_console) if e[0] in ("claim", "close")]
    api_trail = [e for e in trail(fresh_engine, by_api) if e[0] in ("claim", "close")]
    assert console_trail == [(action, "pim", pim, detail) for action, detail in same]
    assert api_trail == [(action, "api:uwv", None, detail) for action, detail in same]
    assert state(fresh_engine, by_console) == {**state(fresh_engine, by_api), "claimed_by": pim}
    assert state(fresh_engine, by_api)["status"] == "closed" and state(fresh_engine, by_api)["claimed_by"] is None

    # A close cancels nothing itself, on either path: the next delivery round does (test_webhook_security).
    assert outbox_rows(fresh_engine, by_console) == outbox_rows(fresh_engine, by_api) == [
        ("uwv", "email", "pending", False, None)]
    with session_scope(fresh_engine) as session:
        for reference in (by_console, by_api):
            handover = session.execute(select(Handover).where(Handover.reference == reference)).scalar_one()
            assert outbox.cancel_pending(session, handover, only_stale=True) == 1
    assert outbox_rows(fresh_engine, by_console) == outbox_rows(fresh_engine, by_api) == [
        ("uwv", "email", "pending", True, "cancelled: the handover was closed")]


# ---------------------------------------------------------------------------------- forward

async def test_a_forward_in_the_console_is_the_lifecycle_forward(fresh_engine, make_handover):
    """The console's forward and a direct call (as any other caller would make it) change the
    handover, the notes, the audit log and the outbox alike: the new partner gets its
    notifications, and what the previous partner did not get yet is cancelled."""
    in_console = make_handover("uwv", email="team@uwv.example", webhook="https://uwv.example/hook")
    direct = make_handover("uwv", email="team@uwv.example", webhook="https://uwv.example/hook")
    with session_scope(fresh_engine) as session:
        session.get(Partner, "gemeente-GM0014").handover_email = "werk@groningen.example"
    add_staff(fresh_engine, "anna", "admin")
    anna = staff_id(fresh_engine, "anna")

    async with console(fresh_engine) as client:
        await login(client, "anna")
        page = f"/handovers/{in_console}"
        await post_form(client, f"{page}/claim", page=page)
        resp = await post_form(client, f"{page}/forward", {"partner_id": "gemeente-GM0014",
                                                          "reason": "schulden eerst"}, page=page)
        assert resp.status == 303
    with session_scope(fresh_engine) as session:
        staff = session.get(StaffUser, anna)
        h = session.execute(select(Handover).where(Handover.reference == direct)).scalar_one()
        assert lifecycle.claim(session, h, Actor.staff(staff)).changed
        outcome = lifecycle.forward(session, h, "gemeente-GM0014", Actor.staff(staff), reason="schulden eerst")
        assert (outcome.changed, outcome.message) == (True, "De vraag is doorgestuurd naar Gemeente Groningen.")

    assert state(fresh_engine, in_console) == state(fresh_engine, direct) == {
        "status": "new", "partner_id": "gemeente-GM0014", "claimed_by": None, "claimed": False,
        "closed": False, "service_id": None}
    assert notes(fresh_engine, in_console) == notes(fresh_engine, direct) == [
        (anna, "Doorgestuurd naar Gemeente Groningen: schulden eerst")]
    changes = [e for e in trail(fresh_engine, in_console) if e[0] in ("claim", "forward")]
    assert changes == [e for e in trail(fresh_engine, direct) if e[0] in ("claim", "forward")] == [
        ("claim", "anna", anna, ""), ("forward", "anna", anna, "van uwv naar gemeente-GM0014")]
    assert outbox_rows(fresh_engine, in_console) == outbox_rows(fresh_engine, direct) == [
        ("uwv", "email", "pending", True, "cancelled: the handover went to another partner"),
        ("uwv", "webhook", "pending", True, "cancelled: the handover went to another partner"),
        ("gemeente-GM0014", "email", "pending", False, None)]


def test_what_a_forward_or_a_note_refuses(fresh_engine, make_handover):
    reference = make_handover("uwv", email="team@uwv.example")
    by = Actor("anna", None)
    with session_scope(fresh_engine) as session:
        h = session.execute(select(Handover).where(Handover.reference == reference)).scalar_one()
        refused = [lifecycle.forward(session, h, "", by), lifecycle.forward(session, h, "no-such-partner", by),
                   lifecycle.forward(session, h, "uwv", by),
                   lifecycle.forward(session, h, "sbb", by, reason="x" * (lifecycle.MAX_NOTE_LENGTH + 1)),
                   lifecycle.add_note(session, h, "   ", by),
                   lifecycle.add_note(session, h, "x" * (lifecycle.MAX_NOTE_LENGTH + 1), by)]
        assert [(o.changed, o.code) for o in refused] == [(False, "invalid")] * 6
        assert lifecycle.close(session, h, GIDS).changed
        closed = lifecycle.forward(session, h, "sbb", by)
        assert (closed.changed, closed.code, closed.message) == (
            False, "closed", "Een afgesloten vraag kun je niet doorsturen.")
    # Refusals change nothing and write nothing but the close.
    assert [e[0] for e in trail(fresh_engine, reference)] == ["close"]
    assert notes(fresh_engine, reference) == []
    assert outbox_rows(fresh_engine, reference) == [("uwv", "email", "pending", False, None)]


def test_the_console_and_the_actions_have_no_lifecycle_of_their_own():
    """The changes live in bot.handover.lifecycle only: the console's modules and the actions
    call it and write no handover status, note or outbox row themselves."""
    root = Path(__file__).resolve().parents[2]
    for path in [*sorted((root / "bot" / "console").glob("*.py")), root / "actions" / "handover.py"]:
        text = path.read_text(encoding="utf-8")
        for needle in ("update(Handover)", "HandoverNote(", "outbox.enqueue", "create_handover(",
                       'status="closed"', 'status = "new"', "audit.record(session, \"create\""):
            assert needle not in text, f"{path.name}: {needle}"
