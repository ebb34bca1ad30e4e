"""Partners keep their own card current (issue 14, part 2): bot.routing.changes (who may propose,
see, approve and reject; validation; approval through the routing import, verified with who and
when, the audit log, the cache) and the console pages "Onze gegevens", "Wijzigingen" and "Dekking"."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot import messages
from bot.console import auth
from bot.db import session_scope
from bot.db.models import Partner, PartnerChangeRequest, PartnerFieldSource, Service, StaffUser
from bot.routing import changes, forget_cached_services, resolve_place, services_for

from .conftest import add_staff, audit_rows, console, csrf_of, login, post_form

GRONINGEN = "gemeente-GM0014"   # region AM01; its 2018 phone number has a doubt in partner_field_source
NEW_PHONE = "050 123 45 67"


def staff_of(engine, username: str) -> auth.Staff:
    with session_scope(engine) as session:
        user = session.execute(select(StaffUser).where(StaffUser.username == username)).scalar_one()
        staff = auth.load_staff(session, user.id, auth.password_fingerprint(user.password_hash))
    assert staff is not None
    return staff


def partner_row(engine, pid: str = GRONINGEN) -> Partner:
    with session_scope(engine) as session:
        p = session.get(Partner, pid)
        assert p is not None
        session.expunge(p)
        return p


def requests(engine) -> list:
    with session_scope(engine) as session:
        return [(r.id, r.partner_id, r.status) for r in
                session.execute(select(PartnerChangeRequest).order_by(PartnerChangeRequest.id)).scalars()]


def propose(engine, who: str, pid: str, values: dict) -> int:
    with session_scope(engine) as session:
        return changes.propose(session, staff_of(engine, who), pid, values).id


def decide(engine, who: str, request_id: int, action: str = "approve", **kw):
    with session_scope(engine) as session:
        fn = changes.approve if action == "approve" else changes.reject
        return fn(session, staff_of(engine, who), request_id, **kw).status


def groningen_cards(engine, topic: str = "ask_debt_help") -> list:
    res = resolve_place("Groningen", engine=engine)
    return [c for c in services_for(topic, res.gemeente, engine=engine) if c.partner_id == GRONINGEN]


@pytest.fixture
def people(matrix_engine):
    engine = matrix_engine
    add_staff(engine, "p-gron", "partner", partner=GRONINGEN, name="Piet Groningen")
    add_staff(engine, "p-uwv", "partner", partner="uwv")
    add_staff(engine, "wc-am01", "werkcentrum", region="AM01", name="Anna de Wit")
    add_staff(engine, "wc-am02", "werkcentrum", region="AM02")
    add_staff(engine, "beheer", "admin")
    return engine


# --- who may do what (SQLite and PostgreSQL) ----------------------------------------------------------

def test_who_may_propose_see_approve_and_reject(people):
    engine = people
    # Only partner staff, only for their own organisation.
    for who, pid in (("p-gron", "uwv"), ("p-uwv", GRONINGEN), ("wc-am01", GRONINGEN), ("beheer", "uwv")):
        with pytest.raises(changes.NotAllowed):
            propose(engine, who, pid, {"phone": NEW_PHONE})
    assert requests(engine) == []
    gron = propose(engine, "p-gron", GRONINGEN, {"phone": NEW_PHONE})
    uwv = propose(engine, "p-uwv", "uwv", {"website": "https://www.uwv.nl/nieuw"})

    def visible(who: str) -> set:
        with session_scope(engine) as session:
            waiting, _ = changes.requests_for(session, staff_of(engine, who))
            return {r.id for r in waiting}
    assert visible("beheer") == {gron, uwv}
    assert visible("wc-am01") == {gron}          # its region's partners; UWV is national
    assert visible("wc-am02") == set()
    assert visible("p-gron") == {gron} and visible("p-uwv") == {uwv}

    # Another region, or a national partner for a Werkcentrum: as if the request did not exist.
    with pytest.raises(changes.NotFound):
        decide(engine, "wc-am02", gron)
    with pytest.raises(changes.NotFound):
        decide(engine, "wc-am01", uwv, "reject", reason="nee")
    # Partner staff see their request but never decide on it.
    with pytest.raises(changes.NotAllowed):
        decide(engine, "p-gron", gron)
    assert [s for _, _, s in requests(engine)] == ["proposed", "proposed"]

    assert decide(engine, "wc-am01", gron) == "approved"
    assert decide(engine, "beheer", uwv, "reject", reason="Dit adres bestaat niet.") == "rejected"
    with pytest.raises(changes.ChangeError, match="al besloten"):
        decide(engine, "beheer", gron, "reject", reason="te laat")

    # Nobody decides on their own proposal (whatever their role).
    with session_scope(engine) as session:
        admin = staff_of(engine, "beheer")
        own = PartnerChangeRequest(partner_id="sbb", status="proposed", new_values='{"phone": null}',
                                   old_values="{}", proposed_by="beheer", proposed_by_user_id=admin.id,
                                   proposed_at=datetime(2026, 12, 1))
        session.add(own)
        session.flush()
        own_id = own.id
    with pytest.raises(changes.NotAllowed, match="eigen voorstel"):
        decide(engine, "beheer", own_id)


# --- checking a proposal ------------------------------------------------------------------------

@pytest.mark.parametrize("values, field, says", [
    ({"phone": "12345"}, "phone", "geen Nederlands telefoonnummer"),
    ({"phone": "bel 050 367 91 11"}, "phone", "geen Nederlands telefoonnummer"),
    ({"email": "info@"}, "email", "geen e-mailadres"),
    ({"handover_email": "Jan <jan@groningen.nl>"}, "handover_email", "geen e-mailadres"),
    ({"website": "www.groningen.nl"}, "website", "geen webadres"),
    ({"handover_webhook": "http://crm.groningen.nl/gids"}, "handover_webhook", "https-adres"),
    ({"handover_webhook": "https://10.1.2.3/gids"}, "handover_webhook", "intern of lokaal"),
    ({"handover_webhook": "https://[::1]/gids"}, "handover_webhook", "intern of lokaal"),
    ({"handover_webhook": "https://localhost/gids"}, "handover_webhook", "intern of lokaal"),
    ({"address": "Grote Markt 1\x00"}, "address", "geen tab of enter"),
    ({"opening_hours": "ma-vr " * 50}, "opening_hours", "te lang"),
])
def test_a_wrong_value_is_refused_with_a_reason_per_field(engine, values, field, says):
    add_staff(engine, "p-gron", "partner", partner=GRONINGEN)
    with pytest.raises(changes.ChangeError) as refused:
        propose(engine, "p-gron", GRONINGEN, {**values, "phone_hours": "ma-vr 9.00 tot 17.00 uur"})
    assert list(refused.value.errors) == [field] and says in refused.value.errors[field]
    assert requests(engine) == []  # nothing is kept, also not the valid field next to it


def test_nothing_changed_is_said_plainly_and_allowed_hosts_are_allowed(engine, monkeypatch):
    add_staff(engine, "p-gron", "partner", partner=GRONINGEN)
    p = partner_row(engine)
    for values in ({}, {"website": p.website}, {"website": f"  {p.website} "}, {"phone_hours": ""},
                   {"note": "niet te veranderen", "name": "Andere naam"}):
        with pytest.raises(changes.ChangeError, match="Je hebt niets veranderd") as refused:
            propose(engine, "p-gron", GRONINGEN, values)
        assert refused.value.errors == {}
    monkeypatch.setenv("GIDS_WEBHOOK_ALLOW", "crm.intern, 10.1.2.3")
    rid = propose(engine, "p-gron", GRONINGEN, {"handover_webhook": "https://10.1.2.3/gids"})
    with session_scope(engine) as session:
        assert json.loads(session.get(PartnerChangeRequest, rid).new_values) == {
            "handover_webhook": "https://10.1.2.3/gids"}


# --- approving and rejecting --------------------------------------------------------------------------

def test_approval_writes_the_values_marks_the_row_verified_and_the_card_shows_it(people):
    engine = people
    forget_cached_services()
    before = groningen_cards(engine)  # the bot's cached table now holds the old card
    assert before and "phone" not in before[0].contact and not before[0].verified  # 2018 number: hidden

    rid = propose(engine, "p-gron", GRONINGEN, {"phone": NEW_PHONE, "website": "https://gemeente.groningen.nl",
                                                "email": "", "opening_hours": "ma-vr 8.30 tot 17.00 uur"})
    with session_scope(engine) as session:
        r = session.get(PartnerChangeRequest, rid)
        # The website did not change, so it is not part of the proposal; clearing the e-mail is.
        assert json.loads(r.new_values) == {"phone": NEW_PHONE, "email": None,
                                            "opening_hours": "ma-vr 8.30 tot 17.00 uur"}
        assert json.loads(r.old_values)["email"] == "info@groningen.nl"
    assert partner_row(engine).phone != NEW_PHONE  # nothing changes before the approval

    start = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    assert decide(engine, "wc-am01", rid, services_checked=True) == "approved"
    p = partner_row(engine)
    assert (p.phone, p.email, p.opening_hours) == (NEW_PHONE, None, "ma-vr 8.30 tot 17.00 uur")
    assert p.verified and p.verified_by == "Anna de Wit"
    assert start <= p.verified_at <= start + timedelta(minutes=1)
    with session_scope(engine) as session:
        sources = {f.field: f for f in session.execute(select(PartnerFieldSource).where(
            PartnerFieldSource.partner_id == GRONINGEN)).scalars()}
        assert sources["phone"].source.startswith("partner via console: voorstel")
        assert "p-gron" in sources["phone"].source and "Anna de Wit" in sources["phone"].source
        assert sources["phone"].doubt is None                 # the 2018 doubt went with the old number
        assert "email" not in sources                         # cleared: no value, no source
        assert sources["website"].source.startswith("Allmanak")  # untouched
        assert all(session.execute(select(Service.verified).where(Service.partner_id == GRONINGEN)).scalars())
        r = session.get(PartnerChangeRequest, rid)
        assert (r.status, r.decided_by) == ("approved", "wc-am01") and r.decided_at == p.verified_at

    # The next card (same process, no waiting 5 minutes): the new number and "gecontroleerd op".
    card = groningen_cards(engine)[0]
    assert card.contact["phone"] == NEW_PHONE and "email" not in card.contact
    assert card.verified and card.verified_on == p.verified_at.date()
    text = messages.partner_card(card.as_dict())
    assert f"Bel: {NEW_PHONE}" in text
    assert text.endswith(f"Gecontroleerd op {messages.dutch_date(p.verified_at.date())}.")

    trail = [(a["action"], a["actor"], a["detail"]) for a in audit_rows(engine)
             if a["action"].startswith("partner_change")]
    assert trail == [
        ("partner_change_propose", "p-gron", f"request={rid} partner={GRONINGEN} fields=phone,email,opening_hours"),
        ("partner_change_approve", "wc-am01",
         f"request={rid} partner={GRONINGEN} fields=phone,email,opening_hours services_checked=yes")]
    assert not any(NEW_PHONE in d or "8.30" in d for _, _, d in trail)  # names of fields, never values


def test_without_the_services_checked_the_row_is_verified_but_the_card_still_warns(engine):
    add_staff(engine, "p-gron", "partner", partner=GRONINGEN)
    add_staff(engine, "beheer", "admin")
    rid = propose(engine, "p-gron", GRONINGEN, {"phone": NEW_PHONE})
    assert decide(engine, "beheer", rid) == "approved"
    assert partner_row(engine).verified
    card = groningen_cards(engine)[0]
    assert card.contact["phone"] == NEW_PHONE
    assert not card.verified and "Gecontroleerd" not in messages.partner_card(card.as_dict())


def test_rejection_keeps_the_values_and_needs_a_reason(engine):
    add_staff(engine, "p-gron", "partner", partner=GRONINGEN)
    add_staff(engine, "wc-am01", "werkcentrum", region="AM01")
    before = partner_row(engine)
    rid = propose(engine, "p-gron", GRONINGEN, {"phone": NEW_PHONE})
    for reason, says in (("", "waarom"), ("   ", "waarom"), ("x" * 1001, "te lang"), ("a\x00b", "tekens")):
        with pytest.raises(changes.ChangeError, match=says):
            decide(engine, "wc-am01", rid, "reject", reason=reason)
    assert decide(engine, "wc-am01", rid, "reject", reason="Dit nummer is van de bibliotheek.") == "rejected"
    after = partner_row(engine)
    assert (after.phone, after.verified, after.verified_at) == (before.phone, False, None)
    with session_scope(engine) as session:
        assert session.get(PartnerChangeRequest, rid).reason == "Dit nummer is van de bibliotheek."
    rejected = audit_rows(engine, action="partner_change_reject")
    assert [a["detail"] for a in rejected] == [f"request={rid} partner={GRONINGEN}"]


def test_a_new_proposal_replaces_the_one_waiting(engine):
    add_staff(engine, "p-gron", "partner", partner=GRONINGEN)
    first = propose(engine, "p-gron", GRONINGEN, {"phone": NEW_PHONE})
    second = propose(engine, "p-gron", GRONINGEN, {"phone": "050 765 43 21", "email": "werk@groningen.nl"})
    assert requests(engine) == [(first, GRONINGEN, "withdrawn"), (second, GRONINGEN, "proposed")]
    assert audit_rows(engine, action="partner_change_propose")[-1]["detail"].endswith(f"replaces={first}")


# --- the console pages ----------------------------------------------------------------------------

def _rows(html: str) -> list:
    return re.findall(r'<tr class="(gap|)" data-region="(AM\d+)">', html)


async def test_partner_page_proposal_and_approval_in_the_console(engine):
    add_staff(engine, "p-gron", "partner", partner=GRONINGEN, name="Piet")
    add_staff(engine, "wc-am01", "werkcentrum", region="AM01", name="Anna de Wit")
    add_staff(engine, "wc-am02", "werkcentrum", region="AM02")
    note = partner_row(engine).note
    assert note and "2018" in note

    async with console(engine) as client:
        await login(client, "p-gron")
        html = await (await client.get("/partner")).text()
        assert 'href="/partner"' in html and 'href="/changes"' not in html and 'href="/coverage"' not in html
        assert 'value="info@groningen.nl"' in html and "nog niet gecontroleerd" in html
        assert note not in html  # the administrators' note is not for the partner
        assert "De gemeente helpt je gratis als je schulden hebt." in html  # its card as the gids shows it
        for path in ("/changes", "/coverage"):
            assert (await client.get(path)).status == 404

        # A wrong value: the page again, with the typed values and the reason at the field.
        resp = await post_form(client, "/partner", {"phone": "12345", "address": "<b>Grote Markt 1</b>"},
                               page="/partner")
        html = await resp.text()
        assert resp.status == 400 and "geen Nederlands telefoonnummer" in html
        assert "1 gegeven klopt nog niet." in html
        assert 'value="12345"' in html and "&lt;b&gt;Grote Markt 1&lt;/b&gt;" in html and "<b>Grote" not in html
        assert requests(engine) == []
        # Without the page's CSRF token nothing is proposed.
        resp = await client.post("/partner", data={"phone": NEW_PHONE, "csrf_token": "x"}, allow_redirects=False)
        assert resp.status == 403 and requests(engine) == []

        resp = await post_form(client, "/partner", {"phone": NEW_PHONE, "address": "<script>alert(1)</script>"},
                               page="/partner")
        assert resp.status == 303 and resp.headers["Location"] == "/partner"
        html = await (await client.get("/partner")).text()
        assert "Je voorstel is verstuurd." in html and "wacht nog op controle" in html
        assert f'value="{NEW_PHONE}"' in html  # the form starts from what is waiting
        assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    [(rid, _, _)] = requests(engine)

    async with console(engine) as client:
        await login(client, "wc-am02")
        html = await (await client.get("/changes")).text()
        assert "Er wacht geen voorstel." in html and "Gemeente Groningen" not in html
        resp = await post_form(client, f"/changes/{rid}/approve", page="/changes")
        assert resp.status == 404

    async with console(engine) as client:
        await login(client, "wc-am01")
        html = await (await client.get("/changes")).text()
        assert f'id="change-{rid}"' in html and note in html  # the note, for the Werkcentrum
        assert NEW_PHONE in html and "Twijfel over telefoonnummer" in html
        assert "&lt;script&gt;" in html and "<script>alert" not in html
        resp = await post_form(client, f"/changes/{rid}/reject", {"reason": ""}, page="/changes")
        assert resp.status == 303
        assert "Schrijf kort waarom" in await (await client.get("/changes")).text()
        resp = await post_form(client, f"/changes/{rid}/approve", {"services_checked": "ja"}, page="/changes")
        assert resp.status == 303
        html = await (await client.get("/changes")).text()
        assert "is goedgekeurd" in html and 'id="decided"' in html and f'id="change-{rid}"' not in html
        assert (await post_form(client, "/changes/999999/approve", page="/changes")).status == 404

    async with console(engine) as client:
        await login(client, "p-gron")
        html = await (await client.get("/partner")).text()
        verified_at = partner_row(engine).verified_at
        from bot.console import fmt
        assert f"Gecontroleerd op {fmt.date_nl(verified_at)} door Anna de Wit." in html
        assert f"Gecontroleerd op {messages.dutch_date(verified_at.date())}." in html  # the card preview
        assert "Goedgekeurd" in html


async def test_coverage_page_werkcentrum_sees_its_region_admin_all(engine):
    add_staff(engine, "wc-am01", "werkcentrum", region="AM01")
    add_staff(engine, "beheer", "admin")
    async with console(engine) as client:
        await login(client, "wc-am01")
        for path in ("/coverage", "/coverage?region=AM02", "/coverage?region=alle"):
            html = await (await client.get(path)).text()
            rows = _rows(html)
            assert len(rows) == 10 and {r for _, r in rows} == {"AM01"}, path
            assert 'id="c-region"' not in html and 'id="coverage-totals"' in html
        # Gaps first: every row with a gemeente without a reachable card comes before the others.
        kinds = [gap for gap, _ in rows]
        assert kinds == sorted(kinds, key=lambda k: k != "gap")

    async with console(engine) as client:
        await login(client, "beheer")
        html = await (await client.get("/coverage")).text()
        assert len({r for _, r in _rows(html)}) == 35 and 'id="c-region"' in html
        html = await (await client.get("/coverage?region=AM02")).text()
        assert {r for _, r in _rows(html)} == {"AM02"}
        resp = await client.get("/coverage?region=%3Cscript%3E")
        assert resp.status == 400 and "<script>" not in await resp.text()
    details = [a["detail"] for a in audit_rows(engine, action="coverage")]
    assert details[:3] == ["region=AM01"] * 3 and "region=alle" in details and "region=AM02" in details
    with session_scope(engine) as session:  # looking changes nothing
        assert session.execute(select(func.count()).select_from(PartnerChangeRequest)).scalar() == 0


async def test_the_forms_post_only_with_the_page_token(engine):
    add_staff(engine, "wc-am01", "werkcentrum", region="AM01")
    add_staff(engine, "p-gron", "partner", partner=GRONINGEN)
    rid = propose(engine, "p-gron", GRONINGEN, {"phone": NEW_PHONE})
    async with console(engine) as client:
        # Not logged in: to the login page, before the body is read.
        resp = await client.post(f"/changes/{rid}/approve", data={"csrf_token": "x"}, allow_redirects=False)
        assert resp.status == 303 and resp.headers["Location"].startswith("/login")
        await login(client, "wc-am01")
        page = await (await client.get("/changes")).text()
        assert csrf_of(page)
        resp = await client.post(f"/changes/{rid}/approve", data={"csrf_token": "wrong"}, allow_redirects=False)
        assert resp.status == 403
    assert requests(engine) == [(rid, GRONINGEN, "proposed")]


def test_gids_partner_changes_lists_what_waits(engine, db_url, monkeypatch, capsys):
    from bot.cli import main

    add_staff(engine, "p-gron", "partner", partner=GRONINGEN)
    add_staff(engine, "p-uwv", "partner", partner="uwv")
    gron = propose(engine, "p-gron", GRONINGEN, {"phone": NEW_PHONE, "email": ""})
    propose(engine, "p-uwv", "uwv", {"website": "https://www.uwv.nl/nieuw"})
    monkeypatch.setenv("DATABASE_URL", db_url)

    assert main(["partner", "changes"]) == 0
    out = capsys.readouterr().out
    assert f"#{gron} Gemeente Groningen ({GRONINGEN}, AM01)" in out and "(uwv, national)" in out
    assert f"phone: (050) 367 91 11 -> {NEW_PHONE}" in out and "email: info@groningen.nl -> (clear)" in out
    assert main(["partner", "changes", "--region", "AM01", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["partner_id"] for r in listed] == [GRONINGEN]
    assert listed[0]["changes"]["phone"] == {"old": "(050) 367 91 11", "new": NEW_PHONE}
    assert main(["partner", "changes", "--region", "AM02"]) == 0
    assert "No change requests are waiting." in capsys.readouterr().out
