"""The console's live chat (bot/console/live.py) over HTTP: who sees the queue and may pick up (one
of two at once), writing, the server-sent events (also after a reconnect), ending a chat or making
it a handover, availability and office hours."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import select, update

from bot import live
from bot.console import fmt
from bot.db import session_scope
from bot.db.models import Handover, LiveChat, LiveMessage, StaffPresence
from tests.live.conftest import OTHER_REGION, REGION, start_chat

from .conftest import add_staff, audit_rows, console, csrf_of, login


async def csrf(client) -> str:
    page = await client.get("/live")
    assert page.status == 200, page.status
    return csrf_of(await page.text())


async def act(client, path: str, **fields):
    resp = await client.post(path, data={"csrf_token": await csrf(client), **fields})
    if resp.content_type != "application/json":
        return resp.status, await resp.text()  # the console's error page
    return resp.status, await resp.json()


async def sse(client, after: int = 0, *, want: int = 1, last_event_id=None, timeout: float = 10) -> list:
    """The first ``want`` events of /live/events: (event, id, data)."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    resp = await client.get(f"/live/events?after={after}", headers=headers)
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
    events, block = [], {}
    try:
        async with asyncio.timeout(timeout):
            async for raw in resp.content:
                line = raw.decode().rstrip("\n")
                if not line:
                    if "event" in block:
                        events.append((block["event"], block.get("id"), json.loads(block["data"])))
                        if len(events) >= want:
                            break
                    block = {}
                elif not line.startswith(":") and ": " in line:
                    key, value = line.split(": ", 1)
                    block[key] = value
    finally:
        resp.close()
    return events


async def test_only_werkcentrum_staff_and_admins_have_the_page(engine):
    add_staff(engine, "anna", "werkcentrum", region=REGION)
    add_staff(engine, "uwv", "partner", partner="uwv")
    add_staff(engine, "beheer", "admin")
    for username, status in (("anna", 200), ("uwv", 404), ("beheer", 200)):
        async with console(engine) as client:
            await login(client, username)
            assert (await client.get("/live")).status == status
            if status == 404:
                assert (await client.get("/live/events")).status == 404


async def test_the_queue_is_for_the_region_and_one_of_two_picks_up(engine):
    chat_id = start_chat(engine)
    add_staff(engine, "anna", "werkcentrum", region=REGION, name="Anna de Vries")
    add_staff(engine, "bram", "werkcentrum", region=REGION, name="Bram")
    add_staff(engine, "elders", "werkcentrum", region=OTHER_REGION)
    async with console(engine) as elders:
        await login(elders, "elders")
        [(kind, _, queue)] = await sse(elders)
        assert kind == "queue" and queue["waiting"] == []
        assert (await act(elders, f"/live/{chat_id}/pickup"))[0] == 404
        assert (await elders.get(f"/live/{chat_id}")).status == 404
    async with console(engine) as anna, console(engine) as bram:
        await login(anna, "anna")
        await login(bram, "bram")
        [(kind, _, queue)] = await sse(anna)
        assert [c["id"] for c in queue["waiting"]] == [chat_id]
        assert queue["waiting"][0]["topic"] == fmt.topic_name("ask_debt_help") == "Schulden"
        tokens = [await csrf(anna), await csrf(bram)]
        answers = await asyncio.gather(*(c.post(f"/live/{chat_id}/pickup", data={"csrf_token": t})
                                         for c, t in zip((anna, bram), tokens)))
        assert sorted(r.status for r in answers) == [200, 409]
        winner = "anna" if answers[0].status == 200 else "bram"
        with session_scope(engine) as session:
            chat = session.get(LiveChat, chat_id)
            assert chat.status == "active" and chat.staff_name == {"anna": "Anna", "bram": "Bram"}[winner]
        assert len([a for a in audit_rows(engine) if a["action"] == "live_pickup"]) == 1


async def test_writing_the_events_and_a_reconnect(engine):
    chat_id = start_chat(engine)
    add_staff(engine, "anna", "werkcentrum", region=REGION, name="Anna")
    add_staff(engine, "bram", "werkcentrum", region=REGION)
    async with console(engine) as anna, console(engine) as bram:
        await login(anna, "anna")
        await login(bram, "bram")
        assert (await act(anna, f"/live/{chat_id}/send", text="hoi"))[0] == 409  # not picked up yet
        assert (await act(anna, f"/live/{chat_id}/pickup"))[0] == 200
        status, sent = await act(anna, f"/live/{chat_id}/send", text="Bel me op 0612345678", client_ref="x1")
        assert status == 200
        assert (await act(anna, f"/live/{chat_id}/send", text="Bel me op 0612345678", client_ref="x1"))[1]["id"] == sent["id"]
        assert (await act(anna, f"/live/{chat_id}/send", text="   "))[0] == 409
        assert (await act(anna, f"/live/{chat_id}/send", text="x" * 2001))[0] == 409
        assert (await act(bram, f"/live/{chat_id}/send", text="ik ook"))[0] == 409  # not his chat
        with session_scope(engine) as session:
            live.add_message(session, session.get(LiveChat, chat_id), live.PERSON, "Dank je!")
        events = await sse(bram, want=4)
        kinds = [(e[0], e[2].get("author")) for e in events]
        assert kinds == [("queue", None), ("message", "system"), ("message", "staff"), ("message", "person")]
        staff_message = events[2]
        assert staff_message[2]["text"] == "Bel me op [telefoonnummer]" and staff_message[2]["name"] == "Anna"
        # A reconnect right away gets the last moments again (one of them may have committed
        # after the last one the page had; the page shows each id once) ...
        again = await sse(bram, want=4, last_event_id=staff_message[1])
        assert [e[1] for e in again[1:]] == [e[1] for e in events[1:]]
        # ... and later continues after the message of its Last-Event-ID.
        with session_scope(engine) as session:
            session.execute(update(LiveMessage).values(created_at=live.utcnow() - timedelta(minutes=2)))
        again = await sse(bram, want=2, last_event_id=staff_message[1])
        assert [(e[0], e[2].get("text")) for e in again] == [("queue", None), ("message", "Dank je!")]
        detail = await (await anna.get(f"/live/{chat_id}")).json()
        assert detail["chat"]["can_write"] and detail["before"][0] == {"speaker": "persoon", "text": "ik heb schulden"}
        assert [m["author"] for m in detail["messages"]] == ["system", "staff", "person"]
        assert any(a["action"] == "live_view" for a in audit_rows(engine))


async def test_back_to_the_gids_and_a_handover_from_the_chat(engine):
    first = start_chat(engine, "conv-a")
    second = start_chat(engine, "conv-b")
    add_staff(engine, "anna", "werkcentrum", region=REGION, name="Anna")
    async with console(engine) as anna:
        await login(anna, "anna")
        for chat_id in (first, second):
            assert (await act(anna, f"/live/{chat_id}/pickup"))[0] == 200
        assert (await act(anna, f"/live/{first}/back"))[0] == 200
        assert (await act(anna, f"/live/{first}/send", text="nog iets"))[0] == 409  # over
        status, answer = await act(anna, f"/live/{second}/handover", partner_id="gemeente-GM0193",
                                   contact_name="Sara", contact_method="email", contact_value="geen-adres")
        assert status == 409 and "klopt niet" in answer["message"]
        status, answer = await act(anna, f"/live/{second}/handover", partner_id="gemeente-GM0193",
                                   contact_name="Sara", contact_method="email", contact_value="sara@example.nl")
        assert status == 200 and answer["reference"].startswith("WC-")
        inbox = await (await anna.get("/")).text()
        assert answer["reference"] in inbox
    with session_scope(engine) as session:
        assert (session.get(LiveChat, first).status, session.get(LiveChat, first).resume) == ("returned", "back")
        handover = session.execute(select(Handover).where(Handover.reference == answer["reference"])).scalar_one()
        assert handover.reason == "live_chat" and handover.contact_value == "sara@example.nl"
        last = session.execute(select(LiveMessage).where(LiveMessage.chat_id == second)
                               .order_by(LiveMessage.id.desc())).scalars().first()
        assert answer["reference"] in last.text and last.to_person


async def test_availability_is_switched_and_ends_with_logout(engine):
    user_id = add_staff(engine, "anna", "werkcentrum", region=REGION)
    async with console(engine) as anna:
        await login(anna, "anna")
        status, answer = await act(anna, "/live/presence", available="1")
        assert status == 200 and answer["available"]
        with session_scope(engine) as session:
            assert live.available_staff(session, REGION, live.utcnow()) == 1
        assert (await act(anna, "/live/presence"))[1]["available"]  # a renewal changes nothing else
        resp = await anna.post("/logout", data={"csrf_token": await csrf(anna)}, allow_redirects=False)
        assert resp.status == 303
    with session_scope(engine) as session:
        assert session.get(StaffPresence, user_id).available is False
        assert live.available_staff(session, REGION, live.utcnow()) == 0


async def test_office_hours_are_set_by_admins_only(engine):
    add_staff(engine, "anna", "werkcentrum", region=REGION)
    add_staff(engine, "beheer", "admin")
    async with console(engine) as anna:
        await login(anna, "anna")
        page = await (await anna.get("/live/hours")).text()
        assert "Deze regio heeft nog geen live chat." in page
        resp = await anna.post("/live/hours", data={"csrf_token": csrf_of(page), "region": REGION,
                                                    "opens_0": "09:00", "closes_0": "17:00"})
        assert resp.status == 404
    async with console(engine) as admin:
        await login(admin, "beheer")
        page = await (await admin.get(f"/live/hours?region={REGION}")).text()
        bad = await admin.post("/live/hours", data={"csrf_token": csrf_of(page), "region": REGION,
                                                    "opens_0": "17:00", "closes_0": "09:00"})
        assert bad.status == 400 and "begintijd" in await bad.text()
        form = {"csrf_token": csrf_of(page), "region": REGION,
                **{f"opens_{d}": "09:00" for d in range(5)}, **{f"closes_{d}": "17:00" for d in range(5)}}
        resp = await admin.post("/live/hours", data=form)
        assert resp.status == 200
        assert "maandag tot en met vrijdag van 9:00 tot 17:00" in await resp.text()
    with session_scope(engine) as session:
        assert live.hours_for(session, REGION) == {d: ("09:00", "17:00") for d in range(5)}


async def test_the_event_stream_wakes_when_a_person_writes(fresh_seeded_db, monkeypatch):
    """PostgreSQL: with the stream's poll at a minute, only the notification of the commit
    (bot/live/wake.py) can bring the person's message to the page."""
    from bot.console import live as console_live
    from bot.db import make_engine

    engine = make_engine(fresh_seeded_db("postgresql"))
    try:
        monkeypatch.setattr(console_live, "EVENT_POLL_SECONDS", 60)
        chat_id = start_chat(engine)
        add_staff(engine, "anna", "werkcentrum", region=REGION, name="Anna")

        def person_writes():
            with session_scope(engine) as session:
                live.add_message(session, session.get(LiveChat, chat_id), live.PERSON, "Is daar iemand?")

        async with console(engine) as anna:
            await login(anna, "anna")
            stream = asyncio.ensure_future(sse(anna, want=2, timeout=20))
            await asyncio.sleep(1.5)  # the stream has sent the queue and waits
            assert not stream.done()
            await asyncio.to_thread(person_writes)
            events = await stream
        assert [(e[0], e[2].get("text")) for e in events] == [("queue", None), ("message", "Is daar iemand?")]
    finally:
        engine.dispose()
