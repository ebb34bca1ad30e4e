"""The live chat's rules (bot/live) on SQLite and PostgreSQL: when the gids may offer a chat, who
may pick it up (once), what is stored (redacted, once), how a chat ends, what the gateway must
deliver and resume, and retention."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import live, messages
from bot.db import session_scope
from bot.db.models import AuditLog, Handover, LiveChat, LiveMessage
from tests.live.conftest import OTHER_REGION, REGION, open_hours, staff, start_chat

# Monday 7 December 2026, 10:00 in Amsterdam (UTC+1 in winter).
MONDAY_10 = datetime(2026, 12, 7, 9, 0)
SUNDAY_10 = datetime(2026, 12, 6, 9, 0)


def offer(engine, now=MONDAY_10, region=REGION):
    with session_scope(engine) as session:
        return live.offer(session, region, now)


def test_a_chat_is_offered_only_within_hours_with_someone_available(live_engine):
    assert offer(live_engine).why == "off"          # no hours: the region has no live chat
    open_hours(live_engine, hours={d: ("09:00", "17:00") for d in range(5)})
    assert offer(live_engine) == live.Offer(False, "nobody")
    staff(live_engine, "anna", name="Anna de Vries", available=True, now=MONDAY_10)
    assert offer(live_engine).possible
    closed = offer(live_engine, now=SUNDAY_10)
    assert (closed.possible, closed.why) == (False, "closed")
    assert closed.hours == "maandag tot en met vrijdag van 9:00 tot 17:00"
    # At 17:00 the chat closes; a page closed without logging out stops counting.
    assert offer(live_engine, now=MONDAY_10 + timedelta(hours=7)).why == "closed"
    assert offer(live_engine, now=MONDAY_10 + timedelta(seconds=live.PRESENCE_SECONDS + 1)).why == "nobody"
    assert offer(live_engine, region=None).why == "no_region"


def test_only_the_regions_staff_and_admins_count_as_available(live_engine):
    open_hours(live_engine)
    open_hours(live_engine, OTHER_REGION)
    staff(live_engine, "elders", region=OTHER_REGION, available=True, now=MONDAY_10)
    staff(live_engine, "partner", role="partner", partner="uwv", available=True, now=MONDAY_10)
    staff(live_engine, "afwezig", available=False, now=MONDAY_10)
    assert offer(live_engine).why == "nobody"
    assert offer(live_engine, region=OTHER_REGION).possible
    staff(live_engine, "beheer", role="admin", available=True, now=MONDAY_10)
    assert offer(live_engine).possible


def test_hours_in_words_and_bad_hours_refused():
    assert live.describe_hours({0: ("09:00", "12:00"), 1: ("09:00", "12:00"), 3: ("13:00", "16:30")}) == \
        "maandag en dinsdag van 9:00 tot 12:00 en donderdag van 13:00 tot 16:30"
    assert live.parse_hours({"opens_0": "9:00", "closes_0": "17:00", "opens_6": "", "closes_6": ""}) == \
        {0: ("09:00", "17:00")}
    for form in ({"opens_0": "17:00", "closes_0": "09:00"}, {"opens_0": "negen", "closes_0": "17:00"},
                 {"opens_2": "09:00", "closes_2": ""}, {"opens_1": "25:00", "closes_1": "26:00"}):
        with pytest.raises(ValueError):
            live.parse_hours(form)


def test_starting_twice_is_one_chat_and_what_people_type_is_redacted_and_kept_once(live_engine):
    chat_id = start_chat(live_engine)
    assert start_chat(live_engine) == chat_id
    with session_scope(live_engine) as session:
        chat = session.get(LiveChat, chat_id)
        first, new = live.add_message(session, chat, live.PERSON, "Mijn BSN is 111222333 en bel 06-12345678",
                                      client_ref="m1")
        again, new_again = live.add_message(session, chat, live.PERSON, "Mijn BSN is 111222333", client_ref="m1")
        assert (new, new_again, again.id) == (True, False, first.id)
        assert "111222333" not in first.text and "12345678" not in first.text
        assert "[BSN]" in first.text and "[telefoonnummer]" in first.text
        # Staff keep the routing table's numbers (a person must read them) but not a person's number.
        staff_text, _ = live.add_message(session, chat, live.STAFF, "Bel UWV op 088 - 898 92 94 of mij op 0612345678")
        assert "088 - 898 92 94" in staff_text.text and "0612345678" not in staff_text.text
        assert session.execute(select(LiveMessage).where(LiveMessage.chat_id == chat_id)).scalars().all().__len__() == 2


@pytest.mark.parametrize("contenders", [2, 6])
def test_of_staff_picking_up_at_the_same_moment_exactly_one_wins(live_engine, contenders):
    chat_id = start_chat(live_engine)
    users = [staff(live_engine, f"mw{i}", name=f"Mede Werker{i}") for i in range(contenders)]
    barrier = threading.Barrier(contenders)
    won = []

    def take(user_id):
        barrier.wait()
        with session_scope(live_engine) as session:
            if live.pick_up(session, chat_id, user_id=user_id, username=f"u{user_id}", display_name="Mede"):
                won.append(user_id)

    threads = [threading.Thread(target=take, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
    with session_scope(live_engine) as session:
        chat = session.get(LiveChat, chat_id)
        assert (chat.status, chat.picked_up_by, chat.staff_name) == ("active", won[0], "Mede")
        joined = session.execute(select(LiveMessage).where(LiveMessage.chat_id == chat_id)).scalars().all()
        assert [m.text for m in joined] == [messages.LIVE_JOINED.format(name="Mede")]
        assert session.execute(select(AuditLog).where(AuditLog.action == "live_pickup")).scalars().all().__len__() == 1


def test_nobody_picking_up_in_time_or_nobody_left_sends_the_person_back_to_the_gids(live_engine):
    open_hours(live_engine)
    now = live.utcnow()
    anna = staff(live_engine, "anna", available=True, now=now)
    late = start_chat(live_engine, "conv-late", now=now - timedelta(seconds=121))
    fresh = start_chat(live_engine, "conv-fresh", now=now)
    with session_scope(live_engine) as session:
        assert live.expire(session, now=now, wait=120) == [late]
        assert live.expire(session, now=now, wait=120) == []  # once
        live.set_available(session, anna, False, now)           # the last one logs off
    with session_scope(live_engine) as session:
        assert live.expire(session, now=now, wait=120) == [fresh]
        for chat_id in (late, fresh):
            chat = session.get(LiveChat, chat_id)
            assert (chat.status, chat.resume) == ("returned", live.RESUME_UNAVAILABLE)


def test_a_resume_is_claimed_by_one_gateway_and_redone_after_its_lease(live_engine):
    chat_id = start_chat(live_engine)
    user = staff(live_engine, "anna", name="Anna")
    now = live.utcnow()
    with session_scope(live_engine) as session:
        live.pick_up(session, chat_id, user_id=user, username="anna", display_name="Anna")
        assert live.finish(session, session.get(LiveChat, chat_id), "returned", user_id=user, actor="anna")
        assert not live.finish(session, session.get(LiveChat, chat_id), "ended", user_id=user, actor="anna")
    with session_scope(live_engine) as session:
        claimed = live.claim_resumes(session, now=now)
        assert [(r.chat_id, r.what) for r in claimed] == [(chat_id, live.RESUME_BACK)]
        assert live.claim_resumes(session, now=now) == []
    with session_scope(live_engine) as session:  # the gateway died: after the lease another one takes it
        again = live.claim_resumes(session, now=now + live.RESUME_LEASE + timedelta(seconds=1))
        assert [r.chat_id for r in again] == [chat_id]
        live.resume_done(session, chat_id, [{"text": "Je praat weer met de gids.",
                                             "buttons": [{"title": "Ja", "payload": "/affirm"}]}, {"text": ""}])
    with session_scope(live_engine) as session:
        assert session.get(LiveChat, chat_id).resume is None
        items = live.replay(session, "conv-1", 0)
        assert [i.author for i in items] == ["system", "system", "gids"]
        assert items[1].text == messages.LIVE_RETURNED.format(name="Anna")
        assert items[2].buttons == [{"title": "Ja", "payload": "/affirm"}]
        assert live.claim_resumes(session, now=now + timedelta(hours=1)) == []


def test_a_handover_from_a_chat_carries_the_whole_conversation(live_engine):
    chat_id = start_chat(live_engine)
    user = staff(live_engine, "anna", name="Anna")
    with session_scope(live_engine) as session:
        live.pick_up(session, chat_id, user_id=user, username="anna", display_name="Anna")
        chat = session.get(LiveChat, chat_id)
        live.add_message(session, chat, live.PERSON, "Ik heet Sara en mijn IBAN is NL91ABNA0417164300")
        live.add_message(session, chat, live.STAFF, "Dank je Sara. Ik geef je vraag door.", user_id=user)
        handover, problem = live.make_handover(session, chat, partner_id="gemeente-GM0193", contact_name="Sara",
                                               contact_method="phone", contact_value="06 12345678",
                                               user_id=user, username="anna")
        assert problem is None
        reference = handover.reference
    with session_scope(live_engine) as session:
        handover = session.execute(select(Handover).where(Handover.reference == reference)).scalar_one()
        lines = [(t.speaker, t.text) for t in handover.transcript]
        assert lines[0] == ("persoon", "ik heb schulden")
        assert ("medewerker", "Dank je Sara. Ik geef je vraag door.") in lines
        assert all("NL91ABNA0417164300" not in text for _, text in lines)
        assert (handover.reason, handover.contact_value, handover.region_code) == ("live_chat", "+31612345678", REGION)
        chat = session.get(LiveChat, chat_id)
        assert (chat.status, chat.handover_id, chat.resume) == ("handover", handover.id, live.RESUME_BACK)
        assert reference in live.replay(session, "conv-1", 0)[-1].text
        again, problem = live.make_handover(session, chat, partner_id="uwv", contact_name="Sara",
                                            contact_method="phone", contact_value="0612345678",
                                            user_id=user, username="anna")
        assert again is None and problem


@pytest.mark.parametrize("form, problem", [
    ({"partner_id": "bestaat-niet"}, "Kies een partner"),
    ({"contact_name": "1234"}, "naam"),
    ({"contact_value": "12"}, "klopt niet"),
    ({"contact_method": "duif"}, "Kies hoe"),
])
def test_a_handover_with_wrong_details_is_refused_and_the_chat_goes_on(live_engine, form, problem):
    chat_id = start_chat(live_engine)
    user = staff(live_engine, "anna")
    fields = {"partner_id": "uwv", "contact_name": "Sara", "contact_method": "phone",
              "contact_value": "0612345678", **form}
    with session_scope(live_engine) as session:
        live.pick_up(session, chat_id, user_id=user, username="anna", display_name="Anna")
        handover, reason = live.make_handover(session, session.get(LiveChat, chat_id), user_id=user,
                                              username="anna", **fields)
        assert handover is None and problem in reason
        assert session.get(LiveChat, chat_id).status == "active"


def test_whatsapp_messages_are_claimed_once_and_sent_again_after_a_lease(live_engine):
    chat_id = start_chat(live_engine, "31612345678", channel="whatsapp")
    now = live.utcnow()
    with session_scope(live_engine) as session:
        message, _ = live.add_message(session, session.get(LiveChat, chat_id), live.STAFF, "Hallo",
                                      now=now - timedelta(seconds=30))
        session.flush()
        message_id = message.id
    with session_scope(live_engine) as session:
        assert [i.id for i in live.undelivered(session, now=now)] == [message_id]  # nobody claimed it
        assert live.claim_delivery(session, message_id, now=now)
        assert not live.claim_delivery(session, message_id, now=now)
        assert live.undelivered(session, now=now) == []
        assert [i.id for i in live.undelivered(session, now=now + live.DELIVERY_LEASE * 2)] == [message_id]
        live.delivered(session, message_id, now=now)
        assert live.undelivered(session, now=now + live.DELIVERY_LEASE * 2) == []


def test_feed_and_replay(live_engine):
    chat_id = start_chat(live_engine)
    with session_scope(live_engine) as session:
        chat = session.get(LiveChat, chat_id)
        start = live.last_id(session)
        for author, text, to_person in ((live.PERSON, "hoi", True), (live.STAFF, "hallo", True),
                                        (live.SYSTEM, "alleen voor staf", False)):
            live.add_message(session, chat, author, text, to_person=to_person)
    with session_scope(live_engine) as session:
        assert [i.text for i in live.feed(session, LiveMessage.id > start)] == ["hoi", "hallo", "alleen voor staf"]
        assert [i.text for i in live.replay(session, "conv-1", start)] == ["hallo"]
        assert live.replay(session, "someone-else", 0) == []


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def read_texts(engine, cursor, limit=500):
    with session_scope(engine) as session:
        return [i.text for i in cursor.read(session, live.feed, limit=limit)]


def test_a_message_that_commits_after_a_higher_id_is_still_read_once(fresh_seeded_db):
    """PostgreSQL only: SQLite lets one writer at a time, so its ids always commit in order."""
    from bot.db import make_engine
    engine = make_engine(fresh_seeded_db("postgresql"))
    try:
        # Two chats: a second message in the same chat waits for the first one's lock on the chat.
        chat_id, other_chat = start_chat(engine), start_chat(engine, "conv-2")
        clock = Clock()
        with session_scope(engine) as session:
            cursor = live.FeedCursor(live.last_id(session), clock=clock)
        late = engine.connect()  # a person's message whose transaction is still open
        slow = late.begin()
        with Session(bind=late) as session:
            message, _ = live.add_message(session, session.get(LiveChat, chat_id), live.PERSON, "eerst")
            session.flush()
            late_id = message.id
            with session_scope(engine) as other:  # staff answer and commit first
                fast, _ = live.add_message(other, other.get(LiveChat, other_chat), live.STAFF, "daarna")
                other.flush()
                assert fast.id > late_id
            assert read_texts(engine, cursor) == ["daarna"]
            clock.now += 3
            slow.commit()
        late.close()
        assert read_texts(engine, cursor) == ["eerst"]
        assert read_texts(engine, cursor) == []
        # The old way, reading after the highest id read, never saw it.
        with session_scope(engine) as session:
            assert [i.text for i in live.feed(session, LiveMessage.id > fast.id)] == []
        clock.now += live.COMMIT_GRACE_SECONDS + 1
        assert read_texts(engine, cursor) == []
        assert cursor.floor >= fast.id and not cursor.seen  # nothing to remember once the grace passed
    finally:
        engine.dispose()


def test_a_read_cut_off_by_its_limit_and_the_grace_skip_nothing(live_engine):
    chat_id = start_chat(live_engine)
    clock = Clock()
    with session_scope(live_engine) as session:
        cursor = live.FeedCursor(live.last_id(session), clock=clock)
        chat = session.get(LiveChat, chat_id)
        for n in range(5):
            live.add_message(session, chat, live.STAFF, f"bericht {n}")
    got = []
    for _ in range(4):
        got += read_texts(live_engine, cursor, limit=2)
        clock.now += live.COMMIT_GRACE_SECONDS + 1  # the floor rises after every read
    assert got == [f"bericht {n}" for n in range(5)]
    with session_scope(live_engine) as session:
        live.add_message(session, session.get(LiveChat, chat_id), live.STAFF, "nog een")
    assert read_texts(live_engine, cursor) == ["nog een"]


def test_a_reconnect_gets_the_last_moments_again_and_older_messages_not(live_engine):
    chat_id = start_chat(live_engine)
    now = live.utcnow()
    with session_scope(live_engine) as session:
        chat = session.get(LiveChat, chat_id)
        old, _ = live.add_message(session, chat, live.STAFF, "lang geleden", now=now - timedelta(minutes=5))
        older, _ = live.add_message(session, chat, live.STAFF, "net", now=now - timedelta(seconds=2))
        newest, _ = live.add_message(session, chat, live.STAFF, "nu", now=now)
        session.flush()
        ids = old.id, older.id, newest.id
    with session_scope(live_engine) as session:
        # The widget had "nu"; "net" may have committed after it, so it comes again.
        assert [i.text for i in live.replay(session, "conv-1", ids[2], now=now)] == ["net", "nu"]
        assert live.resume_floor(session, ids[2], now=now) == ids[1] - 1
        # A minute later only what is newer than what it had.
        later = now + timedelta(minutes=1)
        assert live.replay(session, "conv-1", ids[2], now=later) == []
        assert [i.text for i in live.replay(session, "conv-1", ids[0], now=later)] == ["net", "nu"]


def test_retention_removes_ended_chats_and_keeps_open_ones(live_engine):
    old = live.utcnow() - timedelta(days=100)
    ended = start_chat(live_engine, "old", now=old)
    still_open = start_chat(live_engine, "open", now=old)
    with session_scope(live_engine) as session:
        live.add_message(session, session.get(LiveChat, ended), live.PERSON, "hoi")
        live.finish(session, session.get(LiveChat, ended), "ended", user_id=None, actor="test")
    with session_scope(live_engine) as session:
        cutoff = live.utcnow() - timedelta(days=90)
        assert live.purge(session, cutoff, dry_run=True) == 1
        assert live.purge(session, cutoff) == 1
    with session_scope(live_engine) as session:
        assert session.get(LiveChat, ended) is None and session.get(LiveChat, still_open) is not None
        assert not session.execute(select(LiveMessage).where(LiveMessage.chat_id == ended)).scalars().all()
        assert json.loads(session.get(LiveChat, still_open).topics) == ["ask_debt_help"]
