"""The inbox, one handover's page, its actions, export and print, escaping, and the audit log."""
from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select

from bot.db import session_scope
from bot.db.models import Handover, HandoverNote, OutboxMessage, Partner
from bot.handover import TranscriptEntry, utcnow

from .conftest import (CONTACT_NAME, CONTACT_PHONE, XSS_LINES, add_handover, add_staff, audit_rows,
                       console, login, post_form)


def refs_on(html: str) -> set:
    return set(re.findall(r'href="/handovers/(WC-\d{4}-\d+)"', html))


def count_badge(html: str, status: str) -> int:
    return int(re.search(rf'data-status="{status}">(\d+)<', html).group(1))


async def test_inbox_lists_with_filters_and_counts(engine):
    add_staff(engine, "anna", "admin")
    now = utcnow()
    debt_today = add_handover(engine, partner_id="uwv", region_code="AM01", gemeente_code="GM0014")
    lang_old = add_handover(engine, partner_id="uwv", region_code="AM01", topics=["ask_language_help"],
                            created_at=now - timedelta(days=20))
    debt_other_region = add_handover(engine, partner_id="sbb", region_code="AM02",
                                     topics=["ask_retraining", "ask_debt_help"], created_at=now - timedelta(days=3))
    closed = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as client:
        await login(client, "anna")
        await post_form(client, f"/handovers/{closed}/close", page=f"/handovers/{closed}")

        html = await (await client.get("/")).text()  # default: open ones
        assert refs_on(html) == {debt_today, lang_old, debt_other_region}
        assert (count_badge(html, "open"), count_badge(html, "new"), count_badge(html, "closed"),
                count_badge(html, "all")) == (3, 3, 1, 4)
        assert "Schulden" in html and "Nederland leren" not in html and "Nederlands leren" in html

        async def listed(query: str) -> set:
            resp = await client.get("/?" + query)
            assert resp.status == 200, query
            return refs_on(await resp.text())
        assert await listed("status=closed") == {closed}
        assert await listed("status=all") == {debt_today, lang_old, debt_other_region, closed}
        assert await listed("topic=ask_debt_help") == {debt_today, debt_other_region}
        assert await listed("region=AM02") == {debt_other_region}
        assert await listed("age=today") == {debt_today}
        assert await listed("age=week") == {debt_today, debt_other_region}
        assert await listed("age=older") == {lang_old}
        assert await listed("topic=ask_debt_help&region=AM01&status=all") == {debt_today, closed}
        html = await (await client.get("/?topic=ask_debt_help")).text()
        assert count_badge(html, "all") == 3 and count_badge(html, "closed") == 1

        for bad in ("status=gone", "topic=%3Cscript%3E", "age=ages", "region=AM99", "page=two", "page=0",
                    "page=99999999999999999999999"):
            resp = await client.get("/?" + bad)
            assert resp.status == 400, bad
            assert "ken ik niet" in await resp.text() or "getal" in await resp.text()
    assert audit_rows(engine, action="inbox")


async def test_inbox_pages(engine, monkeypatch):
    from bot.console import queries
    monkeypatch.setattr(queries, "PAGE_SIZE", 2)
    add_staff(engine, "anna", "admin")
    refs = [add_handover(engine, partner_id="uwv", created_at=utcnow() - timedelta(minutes=i)) for i in range(5)]
    async with console(engine) as client:
        await login(client, "anna")
        seen = []
        for page in (1, 2, 3):
            html = await (await client.get(f"/?page={page}")).text()
            seen.append(refs_on(html))
            assert ("Volgende" in html) == (page < 3)
        assert seen == [set(refs[0:2]), set(refs[2:4]), {refs[4]}]


async def test_handover_page_shows_everything_staff_need(engine):
    add_staff(engine, "wim", "werkcentrum", region="AM01", name="Wim de Boer")
    ref = add_handover(engine, partner_id="gemeente-GM0014", region_code="AM01", gemeente_code="GM0014",
                       topics=["ask_debt_help", "ask_retraining"], summary="Schulden, wil omscholen")
    async with console(engine) as client:
        await login(client, "wim")
        resp = await client.get(f"/handovers/{ref}")
        assert resp.status == 200
        html = await resp.text()
    for text in (ref, "Schulden", "Omscholing of een opleiding", CONTACT_NAME, CONTACT_PHONE, "Bellen",
                 "Groningen", "Gemeente Groningen", "Ik heb schulden en ik weet niet wat ik moet doen",
                 "Hulp bij schulden krijg je bij je gemeente", "Schulden, wil omscholen", "Nieuw",
                 "Ik pak dit op", "Afsluiten", "Doorsturen", f'href="/handovers/{ref}.json"',
                 f'href="/handovers/{ref}/print"'):
        assert text in html, text
    assert "Logboek" not in html  # the audit trail is for admins
    [view] = audit_rows(engine, action="view")
    assert view["reference"] == ref and view["actor"] == "wim" and view["detail"] == ""


async def test_claim_note_and_close(engine):
    uid = add_staff(engine, "wim", "werkcentrum", region="AM01", name="Wim de Boer")
    add_staff(engine, "kees", "werkcentrum", region="AM01")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    page = f"/handovers/{ref}"
    async with console(engine) as client, console(engine) as colleague:
        await login(client, "wim")
        await login(colleague, "kees")
        resp = await post_form(client, f"{page}/claim", page=page)
        assert resp.status == 303 and resp.headers["Location"] == page
        html = await (await client.get(page)).text()
        assert "Je hebt deze vraag opgepakt." in html and "Opgepakt" in html and "Wim de Boer" in html
        assert "Ik pak dit op" not in html
        # The colleague's claim does not take it over.
        await post_form(colleague, f"{page}/claim", page="/")
        assert "Iemand anders heeft deze vraag al opgepakt." in await (await colleague.get(page)).text()

        resp = await post_form(client, f"{page}/note", {"text": "Gebeld, <b>morgen</b> terugbellen"}, page=page)
        html = await (await client.get(page)).text()
        assert "Je notitie is opgeslagen." in html
        assert "Gebeld, &lt;b&gt;morgen&lt;/b&gt; terugbellen" in html
        for text, message in (("   ", "Schrijf eerst een notitie."), ("x" * 4001, "hoogstens 4000 tekens")):
            await post_form(client, f"{page}/note", {"text": text}, page=page)
            assert message in await (await client.get(page)).text()

        await post_form(client, f"{page}/close", page=page)
        html = await (await client.get(page)).text()
        assert "De vraag is afgesloten." in html and 'id="status">Afgesloten' in html
        assert 'id="close"' not in html and "Doorsturen" not in html
        await post_form(client, f"{page}/close", page=page)
        assert "Deze vraag was al afgesloten." in await (await client.get(page)).text()

    with session_scope(engine) as session:
        h = session.execute(select(Handover).where(Handover.reference == ref)).scalar_one()
        assert (h.status, h.claimed_by) == ("closed", uid) and h.closed_at is not None
        notes = session.execute(select(HandoverNote.text)).scalars().all()
        assert notes == ["Gebeld, <b>morgen</b> terugbellen"]
    changes = [(e["action"], e["actor"], e["detail"]) for e in audit_rows(engine, reference=ref)
               if e["action"] != "view"]
    assert changes == [("claim", "wim", ""), ("claim", "kees", "niet gewijzigd: status claimed"),
                       ("note", "wim", ""), ("close", "wim", ""), ("close", "wim", "niet gewijzigd: al afgesloten")]
    # The note's text is never copied into the audit log.
    assert not [e for e in audit_rows(engine) if "morgen" in (e["detail"] or "")]


async def test_forward_to_another_partner(engine, monkeypatch):
    add_staff(engine, "pim", "partner", partner="uwv")
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01", gemeente_code="GM0014")
    with session_scope(engine) as session:  # the new partner receives handovers by e-mail
        session.get(Partner, "gemeente-GM0014").handover_email = "schulden@groningen.example"
    page = f"/handovers/{ref}"
    async with console(engine) as client:
        await login(client, "pim")
        await post_form(client, f"{page}/claim", page=page)
        html = await (await client.get(page)).text()
        assert '<optgroup label="In deze gemeente en regio">' in html
        assert 'value="gemeente-GM0014"' in html and 'value="uwv"' not in html
        for partner_id, message in (("", "Kies een partner uit de lijst."), ("nope", "Kies een partner uit de lijst."),
                                    ("uwv", "Deze vraag ligt al bij die partner.")):
            resp = await post_form(client, f"{page}/forward", {"partner_id": partner_id}, page=page)
            assert resp.headers["Location"] == page
            assert message in await (await client.get(page)).text()
        resp = await post_form(client, f"{page}/forward",
                               {"partner_id": "gemeente-GM0014", "reason": "Het gaat vooral om schulden"}, page=page)
        # The partner's staff no longer see it: back to the inbox, with the reference in the message.
        assert resp.status == 303 and resp.headers["Location"] == "/"
        html = await (await client.get("/")).text()
        assert f"{ref}: De vraag is doorgestuurd naar Gemeente Groningen." in html
        assert ref not in refs_on(html)
        assert (await client.get(page)).status == 404
    with session_scope(engine) as session:
        h = session.execute(select(Handover).where(Handover.reference == ref)).scalar_one()
        assert (h.partner_id, h.status, h.claimed_by, h.claimed_at) == ("gemeente-GM0014", "new", None, None)
        assert session.execute(select(HandoverNote.text)).scalars().all() == [
            "Doorgestuurd naar Gemeente Groningen: Het gaat vooral om schulden"]
        [message] = session.execute(select(OutboxMessage)).scalars().all()
        assert (message.partner_id, message.kind, message.target) == (
            "gemeente-GM0014", "email", "schulden@groningen.example")
    [forward] = audit_rows(engine, action="forward")
    assert forward["detail"] == "van uwv naar gemeente-GM0014" and forward["actor"] == "pim"


async def test_closed_handover_cannot_be_forwarded(engine):
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as client:
        await login(client, "anna")
        await post_form(client, f"/handovers/{ref}/close", page="/")
        await post_form(client, f"/handovers/{ref}/forward", {"partner_id": "sbb"}, page="/")
        assert "Een afgesloten vraag kun je niet doorsturen." in await (await client.get(f"/handovers/{ref}")).text()
    assert not audit_rows(engine, action="forward")


async def test_export_json_and_print(engine):
    add_staff(engine, "anna", "admin")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01", gemeente_code="GM0014")
    async with console(engine) as client:
        await login(client, "anna")
        resp = await client.get(f"/handovers/{ref}.json")
        assert resp.status == 200 and resp.content_type == "application/json"
        assert resp.headers["Content-Disposition"] == f'attachment; filename="{ref}.json"'
        data = json.loads(await resp.text())
        with session_scope(engine) as session:
            from bot.handover import handover_dict
            expected = handover_dict(session.execute(select(Handover).where(Handover.reference == ref)).scalar_one())
        assert data == expected
        assert data["contact"] == {"name": CONTACT_NAME, "method": "phone", "value": CONTACT_PHONE}

        resp = await client.get(f"/handovers/{ref}/print")
        html = await resp.text()
        assert resp.status == 200
        assert "print.css" in html and "console.css" not in html and "<form" not in html
        assert CONTACT_NAME in html and "Ik heb schulden" in html and "Vertrouwelijk" in html
    assert [e["action"] for e in audit_rows(engine, reference=ref)] == ["export", "print"]


async def test_typed_html_is_shown_as_text_everywhere(engine):
    add_staff(engine, "anna", "admin")
    evil_name = '"><script>alert(3)</script>'
    ref = add_handover(engine, partner_id="uwv", region_code="AM01", contact_name=evil_name,
                       summary="<img src=x onerror=alert(4)>",
                       transcript=[TranscriptEntry("persoon", XSS_LINES[0]), TranscriptEntry("persoon", XSS_LINES[1]),
                                   TranscriptEntry("gids", "Wat is je vraag?")])
    async with console(engine) as client:
        await login(client, "anna")
        await post_form(client, f"/handovers/{ref}/note", {"text": XSS_LINES[1]}, page="/")
        await post_form(client, f"/handovers/{ref}/forward", {"partner_id": "sbb", "reason": XSS_LINES[0]}, page="/")
        for path in (f"/handovers/{ref}", f"/handovers/{ref}/print"):
            html = await (await client.get(path)).text()
            assert "<script" not in html, path  # no script tag at all: the pages need none
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
            assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
            assert "&lt;img src=x onerror=alert(4)&gt;" in html
            assert "&#34;&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in html
            assert "<img" not in html
        export = await client.get(f"/handovers/{ref}.json")
        assert export.content_type == "application/json"  # never served as a page


async def test_audit_trail_is_shown_to_admins(engine):
    add_staff(engine, "anna", "admin")
    add_staff(engine, "wim", "werkcentrum", region="AM01")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    async with console(engine) as wim, console(engine) as anna:
        await login(wim, "wim")
        await post_form(wim, f"/handovers/{ref}/claim", page=f"/handovers/{ref}")
        await login(anna, "anna")
        html = await (await anna.get(f"/handovers/{ref}")).text()
        trail = html[html.index("Logboek"):]
        assert "wim" in trail and "opgepakt" in trail and "bekeken" in trail and "127.0.0.1" in trail
