"""The gids's side of the live chat (actions/handover.py's offer, actions/live.py): a chat is
offered only when staff of the person's region are there; "nee" leads to the handover, "ja"
stores the waiting chat with the conversation so far and pauses the core."""
from __future__ import annotations

import json
from datetime import timezone

import pytest
from sqlalchemy import select

import actions.handover as ah
import actions.live as al
from bot import live, messages
from bot.db import session_scope
from bot.db.models import LiveChat
from tests.conftest import gids_database
from tests.handover.test_handover_actions import ZWOLLE, run, slot_events, tracker
from tests.live.conftest import open_hours, staff

CARD = {**ZWOLLE, "handover_partner_id": "gemeente-GM0193", "handover_partner_name": "Gemeente Zwolle",
        "handover_topic": "ask_debt_help"}
YES_NO = [{"title": messages.LIVE_YES, "payload": "/affirm"}, {"title": messages.LIVE_NO, "payload": "/deny"}]


@pytest.fixture
def db(live_db_url, live_engine, monkeypatch):
    with gids_database(live_db_url, monkeypatch):
        yield live_engine


@pytest.fixture
def staffed(db):
    open_hours(db)
    staff(db, "anna", available=True)
    return db


def texts(said):
    return [m["text"] for m in said]


def test_asking_for_a_person_with_staff_there_offers_the_chat(staffed):
    evts, said = run(ah.ActionOfferHandover(), tracker(ZWOLLE, intent="request_human"))
    assert texts(said) == [messages.HUMAN_INTRO, messages.LIVE_OFFER.format(days=90)]
    assert said[1]["buttons"] == YES_NO
    assert slot_events(evts) == {"handover_reason": "request_human", "handover_offer": "live"}


def test_after_the_cards_the_chat_comes_first_and_no_means_the_partner_handover(staffed):
    evts, said = run(ah.ActionOfferHandover(), tracker(CARD))
    assert texts(said) == [messages.LIVE_OFFER.format(days=90)]
    assert slot_events(evts)["handover_reason"] == "routing"
    declined = {**CARD, "handover_offer": "live", "handover_reason": "routing"}
    evts, said = run(ah.ActionOfferHandover(), tracker(declined, intent="deny"))
    assert texts(said) == [messages.CONSENT_ASK.format(partner="Gemeente Zwolle", days=90)]
    assert slot_events(evts) == {"handover_reason": "routing", "handover_offer": None, "live_declined": True}
    # Said no once: not offered again in this conversation.
    _, said = run(ah.ActionOfferHandover(), tracker({**ZWOLLE, "live_declined": True}, intent="request_human"))
    assert texts(said) == [messages.HUMAN_INTRO, messages.CONSENT_ASK.format(partner=messages.WERKCENTRUM_STAFF,
                                                                                days=90)]


def test_outside_office_hours_the_person_hears_when_and_gets_the_handover(db):
    # Hours only tomorrow (local time): never open now.
    weekday = live.utcnow().replace(tzinfo=timezone.utc).astimezone(live.TIMEZONE).weekday()
    open_hours(db, hours={(weekday + 1) % 7: ("09:00", "17:00")})
    staff(db, "anna", available=True)
    _, said = run(ah.ActionOfferHandover(), tracker(ZWOLLE, intent="request_human"))
    day = messages.DAYS[(weekday + 1) % 7]
    assert texts(said) == [messages.HUMAN_INTRO,
                           messages.LIVE_OUTSIDE_HOURS.format(hours=f"{day} van 9:00 tot 17:00"),
                           messages.CONSENT_ASK.format(partner=messages.WERKCENTRUM_STAFF, days=90)]


def test_without_live_chat_in_the_region_nothing_changes(db):
    staff(db, "anna", available=True)   # available, but the region set no hours
    evts, said = run(ah.ActionOfferHandover(), tracker(ZWOLLE, intent="request_human"))
    assert texts(said) == [messages.HUMAN_INTRO, messages.CONSENT_ASK.format(partner=messages.WERKCENTRUM_STAFF,
                                                                                days=90)]
    assert slot_events(evts) == {"handover_reason": "request_human"}


def test_nobody_picked_up_then_the_werkcentrum_handover_is_offered(staffed):
    evts, said = run(ah.ActionOfferHandover(), tracker({**CARD, "live_chat_state": "unavailable"}))
    assert texts(said) == [messages.LIVE_NOT_FOUND,
                           messages.CONSENT_ASK.format(partner=messages.WERKCENTRUM_STAFF, days=90)]
    assert slot_events(evts) == {"handover_reason": "request_human", "live_chat_state": None}


def test_yes_stores_the_waiting_chat_with_the_conversation_so_far_and_pauses_the_core(staffed):
    evts, said = run(al.ActionStartLiveChat(), tracker({**CARD, "routed_topics": ["ask_debt_help"]}))
    assert texts(said) == [messages.LIVE_WAITING.format(minutes=2)]
    assert [e["event"] for e in evts] == ["slot", "pause"]
    with session_scope(staffed) as session:
        [chat] = session.execute(select(LiveChat)).scalars().all()
        assert (chat.status, chat.conversation_id, chat.region_code, chat.channel) == \
            ("waiting", "conv-1", "AM36", "socketio")
        before = json.loads(chat.before)
        assert before[0][:2] == ["persoon", "ik heb schulden. mijn bsn is [BSN]"]
        assert json.loads(chat.topics) == ["ask_debt_help"]


def test_yes_when_staff_just_left_says_so_and_offers_the_handover(db):
    open_hours(db)
    evts, said = run(al.ActionStartLiveChat(), tracker(CARD))
    assert texts(said) == [messages.LIVE_NOBODY_FREE]
    assert slot_events(evts) == {"handover_offer": None, "live_declined": True}
    assert evts[-1] == {"event": "followup", "name": "action_offer_handover", "timestamp": None}
    with session_scope(db) as session:
        assert session.execute(select(LiveChat)).scalars().all() == []
