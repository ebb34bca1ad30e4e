"""Fixtures for the live chat tests: a seeded database of the test's own (SQLite and PostgreSQL),
staff accounts, office hours and available staff (bot/live)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import pytest
from argon2 import PasswordHasher

from bot import live
from bot.db import make_engine, session_scope

REGION = "AM36"          # Zwolle
OTHER_REGION = "AM01"
GEMEENTE = "GM0193"      # Zwolle
ALWAYS = {day: ("00:00", "23:59") for day in range(7)}
PASSWORD = "Een-lang-wachtwoord-1"


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    from bot.console import auth
    monkeypatch.setattr(auth, "hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(auth, "_dummy_hash", None)


@pytest.fixture(params=["sqlite", "postgresql"])
def live_db_url(request, fresh_seeded_db):
    return fresh_seeded_db(request.param)


@pytest.fixture
def live_engine(live_db_url):
    engine = make_engine(live_db_url)
    yield engine
    engine.dispose()


def staff(engine, username: str, role: str = "werkcentrum", region: Optional[str] = REGION,
          partner: Optional[str] = None, name: str = "", available: bool = False,
          now: Optional[datetime] = None) -> int:
    from bot.console import auth
    with session_scope(engine) as session:
        user = auth.add_user(session, username, PASSWORD, role=role,
                             region_code=region if role == "werkcentrum" else None, partner_id=partner,
                             display_name=name)
        if available:
            live.set_available(session, user.id, True, now or live.utcnow())
        return user.id


def open_hours(engine, region: str = REGION, hours=None) -> None:
    with session_scope(engine) as session:
        live.set_hours(session, region, dict(ALWAYS if hours is None else hours), actor="test")


def start_chat(engine, conversation_id: str = "conv-1", channel: str = "socketio", region: str = REGION,
               now: Optional[datetime] = None) -> int:
    from bot.handover import TranscriptEntry
    with session_scope(engine) as session:
        return live.start(session, conversation_id=conversation_id, channel=channel, region_code=region,
                          gemeente_code=GEMEENTE, topics=["ask_debt_help"],
                          before=[TranscriptEntry("persoon", "ik heb schulden"),
                                  TranscriptEntry("gids", "Hulp bij schulden krijg je bij je gemeente.")],
                          now=now).id
