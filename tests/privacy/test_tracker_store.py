"""RedactingSQLTrackerStore on SQLite and PostgreSQL: the raw rows hold no personal data except
the accepted contact details, and the tracker still loads and the conversation goes on. The
trackers are built by hand the way Rasa fills them: the form puts the raw answer in the slot, then
validate_handover_form's SlotSet (marked ACCEPTED_MARK when it accepted the answer) follows."""
from __future__ import annotations

import json
import logging

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import InMemoryTrackerStore, create_tracker_store
from rasa.shared.core.events import (ActionExecuted, BotUttered, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import create_engine, text

from bot.handover.contact import ACCEPTED_MARK
from bot.privacy.tracker_store import RedactingSQLTrackerStore

CONTACT = "06-12345678"
CONTACT_E164 = "+31612345678"  # what validate_handover_form stores
ACCEPTED = {ACCEPTED_MARK: True}
SECRETS = ["123456782", "123.456.782", "NL91ABNA0417164300", "NL91 ABNA", "0611111111", "+31 6 1111",
           "piet@example.nl", "Dorpsstraat 12", "1234 AB 5", "Kerkweg 3a"]


def _user(text_: str, intent: str, ts: float) -> UserUttered:
    return UserUttered(text_, {"name": intent, "confidence": 0.9},
                       entities=[{"entity": "location", "value": text_, "start": 0, "end": len(text_)}],
                       parse_data={"text": text_, "intent": {"name": intent, "confidence": 0.9},
                                   "entities": [], "intent_ranking": []},
                       timestamp=ts, input_channel="rest", message_id=f"m{ts}")


def first_turns(ts: float = 1_700_000_000.0):
    return [
        ActionExecuted("action_session_start", timestamp=ts),
        SessionStarted(timestamp=ts),
        ActionExecuted("action_listen", timestamp=ts),
        _user("Mijn bsn is 123.456.782 en mijn IBAN NL91 ABNA 0417 1643 00", "greet", ts + 1),
        BotUttered("Dat hoef je mij niet te geven. Waar woon je?", timestamp=ts + 2),
        ActionExecuted("action_listen", timestamp=ts + 2),
        _user("Dorpsstraat 12, Assen. Of 1234 AB 5. Mail piet@example.nl", "inform_location", ts + 3),
        SlotSet("place", "Dorpsstraat 12, Assen", timestamp=ts + 4),
        BotUttered("Mag een medewerker je bellen? Welk nummer?", timestamp=ts + 5),
        ActionExecuted("action_listen", timestamp=ts + 5),
        _user(f"ja bel {CONTACT}, niet 0611111111", "affirm", ts + 6),
        SlotSet("contact_value", f"ja bel {CONTACT}, niet 0611111111", timestamp=ts + 6),  # the form's raw answer
        SlotSet("contact_name", "Piet", timestamp=ts + 7, metadata=ACCEPTED),
        SlotSet("contact_value", CONTACT_E164, timestamp=ts + 7, metadata=ACCEPTED),
        BotUttered(f"Ik geef {CONTACT} door. Je oude nummer +31 6 1111 1111 niet.", timestamp=ts + 8),
        ActionExecuted("action_listen", timestamp=ts + 8),
    ]


def raw_rows(url: str, sender_id: str):
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender_id})]
    finally:
        engine.dispose()


def make_store(url: str, domain, **kwargs) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(domain=domain, host=url, **kwargs)


async def test_stored_rows_are_redacted_and_the_tracker_loads(tracker_url, tracker_domain):
    store = make_store(tracker_url, tracker_domain)
    events = first_turns()
    tracker = DialogueStateTracker.from_events("conv-1", events, tracker_domain.slots)
    await store.save(tracker)

    rows = raw_rows(tracker_url, "conv-1")
    assert len(rows) == len(events)
    raw = "\n".join(rows)
    for secret in SECRETS:
        assert secret not in raw
    assert raw.count(CONTACT) >= 3  # the raw answer, the person's message and the gids repeating it
    assert CONTACT_E164 in raw
    for placeholder in ("[BSN]", "[IBAN]", "[adres]", "[e-mailadres]", "[telefoonnummer]"):
        assert placeholder in raw
    # The tracker in memory is the one the running turn uses: not changed.
    assert tracker.events[3].text.startswith("Mijn bsn is 123.456.782")

    loaded = await store.retrieve("conv-1")
    assert len(loaded.events) == len(events)
    assert loaded.get_slot("contact_value") == CONTACT_E164
    assert loaded.get_slot("contact_name") == "Piet"
    assert loaded.get_slot("place") == "[adres], Assen"
    texts = [e.text for e in loaded.events if isinstance(e, UserUttered)]
    assert texts == ["Mijn bsn is [BSN] en mijn IBAN [IBAN]",
                     "[adres], Assen. Of [adres]. Mail [e-mailadres]",
                     f"ja bel {CONTACT}, niet [telefoonnummer]"]
    assert loaded.latest_message.intent["name"] == "affirm"
    assert loaded.latest_message.parse_data["text"] == texts[-1]
    store.engine.dispose()


async def test_the_conversation_goes_on_after_a_reload(tracker_url, tracker_domain):
    store = make_store(tracker_url, tracker_domain)
    ts = 1_700_000_000.0
    await store.save(DialogueStateTracker.from_events("conv-2", first_turns(ts), tracker_domain.slots))

    # The next turn, as the Rasa server does it: load, add the new events, save.
    tracker = await store.get_or_create_tracker("conv-2")
    tracker.update(_user("mijn nieuwe mail is jan@example.nl", "inform_location", ts + 20))
    tracker.update(BotUttered("Dank je. Ik bel 06 12 34 56 78.", timestamp=ts + 21))
    tracker.update(ActionExecuted("action_listen", timestamp=ts + 21))
    await store.save(tracker)

    rows = raw_rows(tracker_url, "conv-2")
    assert len(rows) == len(first_turns()) + 3  # nothing stored twice, nothing lost
    assert "jan@example.nl" not in rows[-3] and "[e-mailadres]" in rows[-3]
    # The accepted number, in another notation: the mark on its SlotSet survived the reload.
    assert "06 12 34 56 78" in rows[-2]
    loaded = await store.retrieve("conv-2")
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)][-1] == "mijn nieuwe mail is [e-mailadres]"
    assert loaded.get_slot("contact_value") == CONTACT_E164
    store.engine.dispose()


class CollectingBroker(EventBroker):
    """An event broker that keeps what it is sent (Rasa's FileEventBroker writes through a
    logger, which the redacting log filter would redact on its own)."""

    def __init__(self) -> None:
        self.published = []

    def publish(self, event) -> None:
        self.published.append(json.dumps(event))


async def test_events_streamed_to_an_event_broker_are_redacted(tracker_url, tracker_domain):
    broker = CollectingBroker()
    store = make_store(tracker_url, tracker_domain, event_broker=broker)
    await store.save(DialogueStateTracker.from_events("conv-3", first_turns(), tracker_domain.slots))
    assert len(broker.published) == len(first_turns())
    published = "\n".join(broker.published)
    for secret in SECRETS:
        assert secret not in published
    assert CONTACT in published and "[BSN]" in published
    store.engine.dispose()


async def test_endpoints_yml_style_config_loads_this_store(tmp_path, tracker_domain):
    # What endpoints.yml says: type is the class path, the rest are SQLTrackerStore's arguments.
    db = tmp_path / "tracker.db"
    store = create_tracker_store(EndpointConfig(type="bot.privacy.tracker_store.RedactingSQLTrackerStore",
                                                dialect="sqlite", db=str(db)), tracker_domain)
    assert type(store) is RedactingSQLTrackerStore  # not Rasa's silent InMemoryTrackerStore fallback
    await store.save(DialogueStateTracker.from_events("conv-4", first_turns(), tracker_domain.slots))
    rows = raw_rows(f"sqlite:///{db}", "conv-4")
    assert rows and not any("123.456.782" in row for row in rows)
    store.engine.dispose()


async def test_creating_the_store_redacts_the_rasa_servers_logs(tracker_url, tracker_domain, caplog):
    store = make_store(tracker_url, tracker_domain)
    with caplog.at_level(logging.DEBUG, logger="rasa.core.processor"):
        logging.getLogger("rasa.core.processor").debug("Received user message '%s'", "bel 06-11111111")
    assert caplog.records[-1].getMessage() == "Received user message 'bel [telefoonnummer]'"
    store.engine.dispose()



def test_every_event_type_with_text_survives_redaction():
    from datetime import datetime

    from rasa.shared.core.events import (ActionExecutionRejected, ActiveLoop, AgentUttered,
                                         EntitiesAdded, FollowupAction, ReminderScheduled, Restarted)

    from bot.privacy import redact_event
    from bot.privacy.tracker_store import redacted

    pii = "bel 06-11111111 of mail a@b.nl"
    events = [
        _user(pii, "affirm", 1.0),
        BotUttered(pii, data={"buttons": [{"title": "Ja", "payload": "/affirm"}]}, metadata={"m": pii}, timestamp=2.0),
        SlotSet("place", pii, timestamp=3.0),
        ActionExecuted(action_text=pii, timestamp=4.0),
        EntitiesAdded([{"entity": "location", "value": pii}], timestamp=5.0),
        ReminderScheduled("remind", datetime(2026, 1, 1), name="r", entities=[{"entity": "e", "value": pii}]),
        AgentUttered(pii, timestamp=6.0),
        ActiveLoop("handover_form", timestamp=7.0), FollowupAction("utter_greet", timestamp=8.0),
        ActionExecutionRejected("action_x", timestamp=9.0), Restarted(timestamp=10.0),
    ]
    for event in events:
        result = redacted(event, [])
        assert type(result) is type(event)
        assert result.as_dict() == redact_event(event.as_dict())
        assert "06-11111111" not in str(result.as_dict()) and "a@b.nl" not in str(result.as_dict())


# --- the contact prompts (issue 13) -------------------------------------------------------------
# Rasa's form puts whatever is typed at "Op welk nummer kunnen ze je bellen?" in contact_value
# before validate_handover_form sees it. Only what the validation accepted may be kept.

BSN = "123456782"
IBAN = "NL91ABNA0417164300"
PHONE = "06 24681357"
PHONE_E164 = "+31624681357"


def bsn_forms(digits: str = BSN):
    """A BSN as it could be written (and so stored): plain, in groups of 3 with dots, spaces or
    dashes, and as 4-2-3."""
    threes = [digits[:3], digits[3:6], digits[6:]]
    return [digits, *(sep.join(threes) for sep in ".- "), f"{digits[:4]}.{digits[4:6]}.{digits[6:]}"]


def iban_forms(iban: str = IBAN):
    spaced = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
    return [iban, spaced, iban.lower(), iban[8:], spaced[10:]]


def leaks(data: bytes, secrets) -> list:
    low = data.lower()
    return [s for s in secrets if s.lower().encode() in low]


def form_turn(ts: float, text_: str, slot: str, raw, validated, accepted: bool, ask: str):
    """One answer to a handover question, as Rasa records it: the person's message, the raw slot
    candidate, the form running validate_handover_form, its SlotSet, the next question."""
    return [
        _user(text_, "inform", ts),
        SlotSet(slot, raw, timestamp=ts),
        ActionExecuted("handover_form", timestamp=ts + 0.1),
        SlotSet(slot, validated, timestamp=ts + 0.1, metadata=ACCEPTED if accepted else None),
        BotUttered(ask, timestamp=ts + 0.2),
        ActionExecuted("action_listen", timestamp=ts + 0.3),
    ]


def start(ts: float = 1_700_000_000.0):
    return [
        ActionExecuted("action_session_start", timestamp=ts),
        SessionStarted(timestamp=ts),
        ActionExecuted("action_listen", timestamp=ts),
        _user("ja", "affirm", ts + 1),
        ActionExecuted("handover_form", timestamp=ts + 1),
        BotUttered("Hoe heet je? Je voornaam is genoeg.", timestamp=ts + 1),
        ActionExecuted("action_listen", timestamp=ts + 1),
    ]


def sqlite_store(tmp_path, tracker_domain):
    path = tmp_path / "tracker.db"
    return RedactingSQLTrackerStore(domain=tracker_domain, dialect="sqlite", db=str(path)), path


def stored_bytes(path) -> bytes:
    """Every byte of the database file (and a journal or WAL beside it) and every raw row."""
    import sqlite3

    data = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    with sqlite3.connect(str(path)) as db:
        rows = db.execute("SELECT type_name, intent_name, action_name, data FROM events").fetchall()
    return data + "\n".join(str(v) for row in rows for v in row).encode()


@pytest.mark.parametrize("typed", [BSN, "123.456.782", "123 456 782", "1234.56.782", "mijn bsn is 123-456-782"])
async def test_a_bsn_typed_at_the_phone_prompt_is_never_stored(tmp_path, tracker_domain, typed):
    store, path = sqlite_store(tmp_path, tracker_domain)
    ask = "Op welk nummer kunnen ze je bellen?"
    events = start() + form_turn(1_700_000_010.0, "ik heet piet", "contact_name", "ik heet piet", "Piet",
                                 True, "Hoe wil je dat ze contact met je opnemen?")
    events += form_turn(1_700_000_020.0, "bel me", "contact_method", "bel me", "phone", False, ask)
    # The BSN at the phone prompt: rejected. Each turn is saved, so also halfway through the form.
    events += form_turn(1_700_000_030.0, typed, "contact_value", typed, None, False, ask)
    tracker = DialogueStateTracker.from_events("conv-bsn", events, tracker_domain.slots)
    await store.save(tracker)
    assert leaks(stored_bytes(path), bsn_forms()) == []
    assert "[BSN]" in "\n".join(raw_rows(f"sqlite:///{path}", "conv-bsn"))

    # The next turn, from the stored tracker: a valid number, which is kept.
    tracker = await store.get_or_create_tracker("conv-bsn")
    for event in form_turn(1_700_000_040.0, PHONE, "contact_value", PHONE, PHONE_E164, True, "Gelukt!"):
        tracker.update(event)
    await store.save(tracker)
    data = stored_bytes(path)
    assert leaks(data, bsn_forms()) == []
    assert PHONE.encode() in data and PHONE_E164.encode() in data
    loaded = await store.retrieve("conv-bsn")
    assert (loaded.get_slot("contact_name"), loaded.get_slot("contact_value")) == ("Piet", PHONE_E164)
    expected = "mijn bsn is [BSN]" if typed.startswith("mijn") else "[BSN]"
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)][-2] == expected
    store.engine.dispose()


@pytest.mark.parametrize("typed", [f"Piet {BSN}", "NL91 ABNA 0417 1643 00", "ik woon op Dorpsstraat 12",
                                   "piet, 1234 AB 5"])
async def test_personal_data_typed_at_the_name_prompt_is_never_stored(tmp_path, tracker_domain, typed):
    store, path = sqlite_store(tmp_path, tracker_domain)
    events = start() + form_turn(1_700_000_010.0, typed, "contact_name", typed, None, False,
                                 "Hoe heet je? Je voornaam is genoeg.")
    events += form_turn(1_700_000_020.0, "Piet", "contact_name", "Piet", "Piet", True, "Hoe wil je ...?")
    await store.save(DialogueStateTracker.from_events("conv-name", events, tracker_domain.slots))
    data = stored_bytes(path)
    assert leaks(data, bsn_forms() + iban_forms() + ["Dorpsstraat 12", "1234 AB 5"]) == []
    assert (await store.retrieve("conv-name")).get_slot("contact_name") == "Piet"
    store.engine.dispose()


async def test_only_values_the_validation_accepted_are_kept(tmp_path, tracker_domain):
    store, path = sqlite_store(tmp_path, tracker_domain)
    events = start() + [
        _user("+31 6 1111 1111", "inform", 1_700_000_010.0),
        # A valid-looking number that the validation did not accept (e-mail was asked): not kept.
        SlotSet("contact_value", "+31611111111", timestamp=1_700_000_010.0),
        SlotSet("contact_value", None, timestamp=1_700_000_010.1),
        # A mark on something that is no accepted value (a bug, or a forged event): not kept either.
        SlotSet("contact_name", f"Piet {BSN}", timestamp=1_700_000_011.0, metadata=ACCEPTED),
        SlotSet("contact_value", f"bel {PHONE} of {BSN}", timestamp=1_700_000_011.0, metadata=ACCEPTED),
        BotUttered(f"Ik bel je op +31 6 1111 1111 of {PHONE}.", timestamp=1_700_000_012.0),
    ]
    await store.save(DialogueStateTracker.from_events("conv-x", events, tracker_domain.slots))
    raw = "\n".join(raw_rows(f"sqlite:///{path}", "conv-x"))
    assert leaks(stored_bytes(path), bsn_forms() + ["0611111111", "6 1111 1111", "+31611111111", PHONE]) == []
    assert "Piet [BSN]" in raw and "bel [telefoonnummer] of [BSN]" in raw
    store.engine.dispose()


async def test_a_corrected_number_keeps_both_accepted_numbers(tmp_path, tracker_domain):
    # Two handovers, each with a number the validation accepted; a wrong answer between them.
    store, path = sqlite_store(tmp_path, tracker_domain)
    ask = "Op welk nummer kunnen ze je bellen?"
    events = start()
    events += form_turn(1_700_000_010.0, "0611111111", "contact_value", "0611111111", "+31611111111", True, ask)
    events += form_turn(1_700_000_020.0, BSN, "contact_value", BSN, None, False, ask)
    events += form_turn(1_700_000_030.0, PHONE, "contact_value", PHONE, PHONE_E164, True, "Gelukt!")
    await store.save(DialogueStateTracker.from_events("conv-c", events, tracker_domain.slots))
    data = stored_bytes(path)
    assert leaks(data, bsn_forms()) == []
    for kept in ("0611111111", "+31611111111", PHONE, PHONE_E164):
        assert kept.encode() in data
    assert (await store.retrieve("conv-c")).get_slot("contact_value") == PHONE_E164
    store.engine.dispose()


async def test_contact_details_carried_into_a_new_session_stay_accepted(tmp_path, tracker_domain):
    store, path = sqlite_store(tmp_path, tracker_domain)
    events = start() + form_turn(1_700_000_010.0, PHONE, "contact_value", PHONE, PHONE_E164, True, "Gelukt!")
    events += form_turn(1_700_000_020.0, "Piet", "contact_name", "Piet", "Piet", True, "Gelukt!")
    await store.save(DialogueStateTracker.from_events("conv-s", events, tracker_domain.slots))

    # An hour later: action_session_start repeats the slots after SessionStarted (not marked).
    ts = 1_700_004_000.0
    tracker = await store.get_or_create_tracker("conv-s")
    for event in [ActionExecuted("action_session_start", timestamp=ts), SessionStarted(timestamp=ts),
                  SlotSet("contact_name", "Piet", timestamp=ts), SlotSet("contact_value", PHONE_E164, timestamp=ts),
                  ActionExecuted("action_listen", timestamp=ts)]:
        tracker.update(event)
    await store.save(tracker)

    # The turn after that loads only the new session: the repeated slots are all it has.
    tracker = await store.get_or_create_tracker("conv-s")
    assert not any(isinstance(e, SlotSet) and e.metadata for e in tracker.events)
    tracker.update(_user(f"bel me op {PHONE}, niet op {BSN}", "inform", ts + 10))
    await store.save(tracker)
    loaded = await store.retrieve("conv-s")
    assert (loaded.get_slot("contact_name"), loaded.get_slot("contact_value")) == ("Piet", PHONE_E164)
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)][-1] == f"bel me op {PHONE}, niet op [BSN]"
    assert leaks(stored_bytes(path), bsn_forms()) == []
    store.engine.dispose()


async def test_a_raw_answer_carried_into_a_new_session_is_redacted(tmp_path, tracker_domain):
    # The validation never ran (the action server was down): the raw answer is the slot's value.
    store, path = sqlite_store(tmp_path, tracker_domain)
    events = start() + [_user(BSN, "inform", 1_700_000_010.0), SlotSet("contact_value", BSN, timestamp=1_700_000_010.0),
                        ActionExecuted("action_session_start", timestamp=1_700_004_000.0),
                        SessionStarted(timestamp=1_700_004_000.0),
                        SlotSet("contact_value", BSN, timestamp=1_700_004_000.0),
                        ActionExecuted("action_listen", timestamp=1_700_004_000.0)]
    tracker = DialogueStateTracker.from_events("conv-r", events, tracker_domain.slots)
    assert tracker.get_slot("contact_value") == BSN  # in memory, this turn
    await store.save(tracker)
    assert leaks(stored_bytes(path), bsn_forms()) == []
    assert (await store.retrieve("conv-r")).get_slot("contact_value") == "[BSN]"
    store.engine.dispose()


async def test_the_event_broker_never_gets_a_bsn_typed_at_the_phone_prompt(tmp_path, tracker_domain):
    broker = CollectingBroker()
    path = tmp_path / "tracker.db"
    store = RedactingSQLTrackerStore(domain=tracker_domain, dialect="sqlite", db=str(path), event_broker=broker)
    ask = "Op welk nummer kunnen ze je bellen?"
    events = start() + form_turn(1_700_000_010.0, BSN, "contact_value", BSN, None, False, ask)
    events += form_turn(1_700_000_020.0, PHONE, "contact_value", PHONE, PHONE_E164, True, "Gelukt!")
    await store.save(DialogueStateTracker.from_events("conv-b", events, tracker_domain.slots))
    published = "\n".join(broker.published)
    assert len(broker.published) == len(events)
    assert leaks(published.encode(), bsn_forms()) == [] and PHONE_E164 in published
    store.engine.dispose()


@pytest.mark.postgres
async def test_a_conversation_is_read_after_postgresql_dropped_every_connection(pg_databases, tracker_domain):
    """As after a restart of PostgreSQL: the pooled connection is dead; the store takes a new one."""
    tracker_url = pg_databases.new()
    store = make_store(tracker_url, tracker_domain)
    await store.save(DialogueStateTracker.from_events("conv-pg", first_turns(), tracker_domain.slots))
    assert len((await store.retrieve("conv-pg")).events) == len(first_turns())  # a connection is pooled
    admin = create_engine(tracker_url, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    finally:
        admin.dispose()
    assert killed >= 1
    loaded = await store.retrieve("conv-pg")
    assert len(loaded.events) == len(first_turns()) and loaded.get_slot("contact_name") == "Piet"
    store.engine.dispose()


async def test_an_unreadable_conversation_fails_the_turn_instead_of_starting_afresh(tracker_url, tracker_domain,
                                                                                      monkeypatch):
    from rasa.core.tracker_store import FailSafeTrackerStore
    from sqlalchemy.exc import OperationalError

    from bot.privacy import tracker_store as module

    store = make_store(tracker_url, tracker_domain)
    await store.save(DialogueStateTracker.from_events("conv-x", first_turns(), tracker_domain.slots))
    wrapped = FailSafeTrackerStore(store)   # what Rasa's Agent makes of every tracker store
    tries = []

    def session_scope():
        tries.append(1)
        raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(module, "RETRY_DELAY", 0.01)
    monkeypatch.setattr(store, "session_scope", session_scope)
    with pytest.raises(module.TrackerStoreUnavailable):
        await wrapped.retrieve("conv-x")
    assert len(tries) == 2          # tried once more
    # Rasa's own behaviour is kept for other stores: a failed read there means "no conversation".
    assert await FailSafeTrackerStore(BrokenStore(tracker_domain)).retrieve("conv-x") is None
    monkeypatch.undo()
    assert len((await wrapped.retrieve("conv-x")).events) == len(first_turns())
    store.engine.dispose()


class BrokenStore(InMemoryTrackerStore):
    async def retrieve(self, sender_id):
        raise RuntimeError("broken")
