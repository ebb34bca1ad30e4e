"""purge() and forget() on SQLite and PostgreSQL, with real handovers (bot.handover.create_handover)
in a migrated, seeded gids database and real Rasa tracker databases; and `gids purge/forget`."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import create_engine, delete, func, select, text

from bot.cli import main as gids
from bot.db import DatabaseUnavailable, make_engine, session_scope
from bot.db.models import (AuditLog, ChannelContact, ChannelMessageSeen, Handover, HandoverNote,
                           LoginThrottle, OutboxMessage, QuestionSignal, TranscriptLine)
from bot import live
from bot.db.models import LiveChat
from bot.handover import TranscriptEntry, audit, create_handover, utcnow
from bot.privacy.retention import UnknownReference, forget, purge
from tests.conftest import free_port

NOW = datetime(2026, 6, 1, 12, 0)
WA_ID = "31612345678"   # a WhatsApp conversation: the Rasa sender id is the phone number


def add_handover(engine, conversation_id: str, at: datetime, updated_at: datetime = None,
                 channel: str = "whatsapp") -> str:
    """A handover as the action server makes it, with a note, an outbox message and an audit entry."""
    with session_scope(engine) as session:
        handover = create_handover(
            session, conversation_id=conversation_id, channel=channel, partner_id="uwv",
            contact_name="Piet de Vries", contact_method="phone", contact_value="+31612345678",
            transcript=[TranscriptEntry("persoon", "ik heb schulden", at),
                        TranscriptEntry("gids", "Hulp bij schulden krijg je bij je gemeente.", at)],
            topics=["ask_debt_help"], now=at, notify=False)
        handover.updated_at = updated_at or at
        session.add(HandoverNote(handover_id=handover.id, created_at=at, text="Piet gebeld"))
        session.add(OutboxMessage(handover_id=handover.id, partner_id="uwv", kind="email",
                                  target="team@uwv.example", idempotency_key=uuid.uuid4().hex,
                                  payload="{}", next_attempt_at=at, created_at=at))
        audit.record(session, "view", actor="medewerker", handover=handover)
        return handover.reference


def add_conversation(tracker_url: str, domain, sender_id: str, *times: datetime) -> None:
    """A Rasa conversation with one user message (and answer) at each of ``times``."""
    events = [ActionExecuted("action_listen", timestamp=_ts(times[0]))]
    for at in times:
        events += [UserUttered("ik heb schulden", {"name": "ask_debt_help", "confidence": 1.0}, timestamp=_ts(at)),
                   BotUttered("Hulp bij schulden krijg je bij je gemeente.", timestamp=_ts(at)),
                   ActionExecuted("action_listen", timestamp=_ts(at))]
    store = SQLTrackerStore(domain=domain, host=tracker_url)
    asyncio.run(store.save(DialogueStateTracker.from_events(sender_id, events, domain.slots)))
    store.engine.dispose()


def _ts(at: datetime) -> float:
    from datetime import timezone
    return at.replace(tzinfo=timezone.utc).timestamp()


def tracker_senders(tracker_url: str) -> dict:
    engine = create_engine(tracker_url, future=True)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")).all())
    finally:
        engine.dispose()


def count(engine, model) -> int:
    with session_scope(engine) as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def references(engine) -> set:
    with session_scope(engine) as session:
        return set(session.execute(select(Handover.reference)).scalars())


def audit_entries(engine, action: str) -> list:
    with session_scope(engine) as session:
        return list(session.execute(select(AuditLog).where(AuditLog.action == action)).scalars())


def add_live_chat(engine, conversation_id: str, at: datetime, *, ended: bool) -> None:
    with session_scope(engine) as session:
        chat = live.start(session, conversation_id=conversation_id, channel="whatsapp", region_code=None, now=at)
        live.add_message(session, chat, live.PERSON, "Mijn BSN is 111222333", now=at)
        if ended:
            live.finish(session, chat, "ended", user_id=None, actor="test", now=at)


def live_conversations(engine) -> set:
    with session_scope(engine) as session:
        return set(session.execute(select(LiveChat.conversation_id)).scalars())


@pytest.fixture
def world(engine, tracker_url, tracker_domain):
    """Old and recent data of every kind, 90 days being the retention period."""
    old, recent = NOW - timedelta(days=91), NOW - timedelta(days=10)
    refs = {
        "old": add_handover(engine, "conv-old", old),
        "recent": add_handover(engine, "conv-recent", recent),
        # Made long ago but still being worked on: its last change counts.
        "old_but_active": add_handover(engine, "conv-busy", NOW - timedelta(days=200),
                                       updated_at=NOW - timedelta(days=3)),
    }
    with session_scope(engine) as session:
        session.add_all([
            ChannelMessageSeen(channel="whatsapp", message_id="wamid.old", received_at=old),
            ChannelMessageSeen(channel="whatsapp", message_id="wamid.new", received_at=recent),
            ChannelContact(channel="whatsapp", user_id="31600000001", last_inbound_at=old),
            ChannelContact(channel="whatsapp", user_id="31600000002", last_inbound_at=recent),
            QuestionSignal(asked_on=old.date(), topic="ask_debt_help", region_code=None),
        ])
    add_live_chat(engine, "conv-old", old, ended=True)
    add_live_chat(engine, "conv-recent", recent, ended=True)
    add_live_chat(engine, "conv-waiting", old, ended=False)  # open: never purged under someone's feet
    add_conversation(tracker_url, tracker_domain, "conv-old", NOW - timedelta(days=120), old)
    # Began long ago, but the person wrote yesterday: the whole conversation stays.
    add_conversation(tracker_url, tracker_domain, "conv-busy", NOW - timedelta(days=200), NOW - timedelta(days=1))
    return refs


def test_purge_deletes_what_is_older_than_the_retention_period(engine, tracker_url, world):
    counts = purge(days=90, now=NOW, engine=engine, tracker_url=tracker_url)

    assert counts == {"handovers": 1, "transcript_lines": 2, "notes": 1, "outbox_messages": 1,
                      "live_chats": 1, "channel_messages_seen": 1, "channel_contacts": 1, "audit_entries": 0,
                      "login_counters": 0, "tracker_conversations": 1, "tracker_events": 7}
    assert references(engine) == {world["recent"], world["old_but_active"]}
    assert live_conversations(engine) == {"conv-recent", "conv-waiting"}
    assert (count(engine, TranscriptLine), count(engine, HandoverNote), count(engine, OutboxMessage)) == (4, 2, 2)
    assert count(engine, QuestionSignal) == 1  # nothing personal: stays for the trends page
    with session_scope(engine) as session:
        assert list(session.execute(select(ChannelMessageSeen.message_id)).scalars()) == ["wamid.new"]
        assert list(session.execute(select(ChannelContact.user_id)).scalars()) == ["31600000002"]
        # The audit trail of the purged handover stays, by reference.
        view = session.execute(select(AuditLog).where(AuditLog.handover_reference == world["old"],
                                                      AuditLog.action == "view")).scalar_one()
        assert view.handover_id is None
    assert tracker_senders(tracker_url) == {"conv-busy": 7}

    [entry] = audit_entries(engine, "purge")
    assert entry.actor == "system" and entry.handover_id is None
    assert "retention 90 days" in entry.detail and "handovers: 1" in entry.detail
    for personal in ("Piet", "+31612345678", "conv-old", "3160000000"):
        assert personal not in entry.detail


@pytest.fixture
def old_audit(engine):
    """Audit entries and login counters of every age, 90 days being the retention period."""
    old, recent = NOW - timedelta(days=91), NOW - timedelta(days=10)
    with session_scope(engine) as session:
        session.execute(delete(LoginThrottle))  # the table is not emptied between tests
        session.add_all([
            AuditLog(at=old, actor="anna", action="view", handover_reference="WC-2026-4829173650",
                     detail="", ip="192.0.2.10"),
            AuditLog(at=old, actor="onbekend", action="login_failed", detail="key=abc", ip="192.0.2.11"),
            AuditLog(at=recent, actor="anna", action="login", detail="key=def", ip="192.0.2.12"),
            AuditLog(at=old, actor="system", action="purge", detail="retention 90 days; handovers: 3"),
            AuditLog(at=old, actor="cli:beheer", action="forget", handover_reference="WC-2026-000123",
                     detail="erased handovers WC-2026-000123", ip="192.0.2.13"),
            LoginThrottle(key="user:ended", failures=5, window_end=NOW - timedelta(minutes=1)),
            LoginThrottle(key="addr:running", failures=3, window_end=NOW + timedelta(minutes=10)),
        ])
    yield
    with session_scope(engine) as session:
        session.execute(delete(LoginThrottle))


def audit_log(engine) -> list:
    with session_scope(engine) as session:
        return [(a.action, a.actor, a.ip) for a in session.execute(select(AuditLog).order_by(AuditLog.id)).scalars()]


def test_purge_deletes_old_audit_entries_but_keeps_the_record_of_deletions(engine, tracker_url, old_audit):
    before = audit_log(engine)
    dry = purge(days=90, now=NOW, dry_run=True, engine=engine, tracker_url=tracker_url)
    assert (dry["audit_entries"], dry["login_counters"]) == (2, 1)
    assert audit_log(engine) == before and count(engine, LoginThrottle) == 2

    counts = purge(days=90, now=NOW, engine=engine, tracker_url=tracker_url)
    assert (counts["audit_entries"], counts["login_counters"]) == (2, 1)
    # Old views and logins (who, from which address) are gone; younger ones stay. The old purge
    # and forget entries stay as the record of what was deleted, without any address.
    assert audit_log(engine)[:3] == [("login", "anna", "192.0.2.12"), ("purge", "system", None),
                                     ("forget", "cli:beheer", None)]
    [new] = [a for a in audit_entries(engine, "purge") if a.at > NOW]
    assert "audit entries: 2" in new.detail
    with session_scope(engine) as session:
        assert list(session.execute(select(LoginThrottle.key)).scalars()) == ["addr:running"]


def test_a_second_purge_finds_nothing_more(engine, tracker_url, world):
    purge(days=90, now=NOW, engine=engine, tracker_url=tracker_url)
    counts = purge(days=90, now=NOW, engine=engine, tracker_url=tracker_url)
    assert set(counts.values()) == {0}
    assert len(audit_entries(engine, "purge")) == 2  # every run is on record


def test_dry_run_counts_and_changes_nothing(engine, tracker_url, world):
    before = (references(engine), count(engine, TranscriptLine), tracker_senders(tracker_url))
    counts = purge(days=90, now=NOW, dry_run=True, engine=engine, tracker_url=tracker_url)
    assert counts["handovers"] == 1 and counts["tracker_events"] == 7 and counts["channel_contacts"] == 1
    assert (references(engine), count(engine, TranscriptLine), tracker_senders(tracker_url)) == before
    assert audit_entries(engine, "purge") == []


def test_the_retention_period_comes_from_the_environment(engine, tracker_url, world, monkeypatch):
    monkeypatch.setenv("GIDS_RETENTION_DAYS", "5")
    counts = purge(now=NOW, engine=engine, tracker_url=tracker_url)
    assert counts["handovers"] == 2  # 91 and 10 days old; the one changed 3 days ago stays
    assert references(engine) == {world["old_but_active"]}


@pytest.mark.parametrize("days", [0, -1, 2.5, "90", True])
def test_a_wrong_retention_period_is_refused(engine, tracker_url, days):
    with pytest.raises(ValueError):
        purge(days=days, now=NOW, engine=engine, tracker_url=tracker_url)


def test_a_missing_tracker_database_is_nothing_to_delete(engine, tmp_path):
    add_handover(engine, "conv-old", NOW - timedelta(days=100))
    missing = tmp_path / "nope" / "tracker.db"
    counts = purge(days=90, now=NOW, engine=engine, tracker_url=f"sqlite:///{missing}")
    assert counts["handovers"] == 1 and counts["tracker_events"] == 0
    assert not missing.exists() and not missing.parent.exists()


def test_a_tracker_database_that_is_down_is_a_clear_error_and_nothing_changes(engine):
    ref = add_handover(engine, "conv-old", NOW - timedelta(days=100))
    down = f"postgresql://postgres@127.0.0.1:{free_port()}/tracker"
    with pytest.raises(DatabaseUnavailable, match=r"the tracker database .* is not available"):
        purge(days=90, now=NOW, engine=engine, tracker_url=down)
    assert ref in references(engine)  # the gids database was rolled back
    assert audit_entries(engine, "purge") == []


def test_a_gids_database_that_is_down_is_a_clear_error(tracker_url):
    down = make_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/gids")
    with pytest.raises(DatabaseUnavailable, match="the gids database is not available"):
        purge(days=90, now=NOW, engine=down, tracker_url=tracker_url)
    with pytest.raises(DatabaseUnavailable, match="the gids database is not available"):
        forget("WC-2026-000001", engine=down, tracker_url=tracker_url)
    down.dispose()


def test_forget_erases_the_person_and_only_them(engine, tracker_url, tracker_domain):
    first = add_handover(engine, WA_ID, NOW - timedelta(days=2))
    second = add_handover(engine, WA_ID, NOW - timedelta(days=1))
    other = add_handover(engine, "31699999999", NOW - timedelta(days=1))
    with session_scope(engine) as session:
        session.add_all([ChannelContact(channel="whatsapp", user_id=WA_ID, last_inbound_at=NOW),
                         ChannelContact(channel="whatsapp", user_id="31699999999", last_inbound_at=NOW)])
    add_conversation(tracker_url, tracker_domain, WA_ID, NOW - timedelta(days=2), NOW - timedelta(days=1))
    add_conversation(tracker_url, tracker_domain, "31699999999", NOW - timedelta(days=1))
    add_live_chat(engine, WA_ID, NOW - timedelta(days=1), ended=False)
    add_live_chat(engine, "31699999999", NOW - timedelta(days=1), ended=True)

    result = forget(f"  {second.lower()} ", engine=engine, tracker_url=tracker_url, actor="cli:beheer")

    assert result["references"] == [first, second]
    assert (result["handovers"], result["transcript_lines"], result["notes"], result["outbox_messages"],
            result["channel_contacts"], result["tracker_conversations"], result["tracker_events"]) == (2, 4, 2, 2, 1, 1, 7)
    assert references(engine) == {other}
    assert result["live_chats"] == 1 and live_conversations(engine) == {"31699999999"}
    assert tracker_senders(tracker_url) == {"31699999999": 4}
    with session_scope(engine) as session:
        assert list(session.execute(select(ChannelContact.user_id)).scalars()) == ["31699999999"]
    [entry] = audit_entries(engine, "forget")
    assert (entry.actor, entry.handover_reference, entry.handover_id) == ("cli:beheer", second, None)
    assert first in entry.detail and second in entry.detail
    for personal in (WA_ID, "Piet", "+31612345678"):
        assert personal not in entry.detail


def test_forget_an_unknown_reference_changes_nothing(engine, tracker_url):
    ref = add_handover(engine, WA_ID, NOW)
    for unknown in ("WC-1999-000001", "", "   "):
        with pytest.raises(UnknownReference):
            forget(unknown, engine=engine, tracker_url=tracker_url)
    assert references(engine) == {ref}
    assert audit_entries(engine, "forget") == []


# --- the gids command -------------------------------------------------------------------------
@pytest.fixture
def cli_env(seeded_url, tracker_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    monkeypatch.setenv("GIDS_TRACKER_URL", tracker_url)
    monkeypatch.delenv("GIDS_RETENTION_DAYS", raising=False)


def test_gids_purge_dry_run_then_purge(engine, cli_env, capsys):
    ref = add_handover(engine, "conv-old", utcnow() - timedelta(days=100))
    assert gids(["purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dry run, nothing deleted; would delete everything older than 90 days")
    assert "handovers" in out and ref in references(engine)

    assert gids(["purge", "--days", "120"]) == 0
    assert "handovers                             0" in capsys.readouterr().out
    assert gids(["purge"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("deleted everything older than 90 days")
    assert "handovers                             1" in out
    assert references(engine) == set()
    assert audit_entries(engine, "purge")[-1].actor.startswith("cli")


def test_gids_forget(engine, cli_env, capsys):
    ref = add_handover(engine, WA_ID, utcnow())
    assert gids(["forget", ref.lower()]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"erased 1 handover of this conversation ({ref}):")
    assert references(engine) == set()

    assert gids(["forget", ref]) == 2
    assert f"no handover with reference '{ref}'; nothing erased" in capsys.readouterr().err


def test_gids_purge_says_when_a_database_is_down(engine, cli_env, monkeypatch, capsys):
    monkeypatch.setenv("GIDS_TRACKER_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/tracker")
    assert gids(["purge"]) == 4
    assert "purge failed, nothing deleted: the tracker database" in capsys.readouterr().err


@pytest.mark.parametrize("days", ["0", "-3", "veel"])
def test_gids_purge_refuses_a_wrong_number_of_days(cli_env, days, capsys):
    with pytest.raises(SystemExit) as exit_:
        gids(["purge", "--days", days])
    assert exit_.value.code == 2
    assert "--days" in capsys.readouterr().err


def test_a_wrong_tracker_url_is_a_clear_error(engine, monkeypatch, capsys, seeded_url):
    with pytest.raises(ValueError, match="GIDS_TRACKER_URL is not a database URL"):
        purge(days=90, now=NOW, engine=engine, tracker_url="var/tracker.db")
    monkeypatch.setenv("DATABASE_URL", seeded_url)
    monkeypatch.setenv("GIDS_TRACKER_URL", "var/tracker.db")
    assert gids(["purge"]) == 1
    assert "GIDS_TRACKER_URL is not a database URL" in capsys.readouterr().err
