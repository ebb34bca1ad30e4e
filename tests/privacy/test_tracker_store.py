"""RedactingSQLTrackerStore on SQLite and PostgreSQL: the raw rows hold no personal data except
the consented contact details, and the tracker still loads and the conversation goes on."""
from __future__ import annotations

import json
import logging

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import create_tracker_store
from rasa.shared.core.events import (ActionExecuted, BotUttered, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import create_engine, text

from bot.privacy.tracker_store import RedactingSQLTrackerStore

CONTACT = "06-12345678"
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
        SlotSet("contact_name", "Piet", timestamp=ts + 7),
        SlotSet("contact_value", CONTACT, timestamp=ts + 7),
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
    assert raw.count(CONTACT) >= 3  # the slot, the person's message and the gids repeating it
    for placeholder in ("[BSN]", "[IBAN]", "[adres]", "[e-mailadres]", "[telefoonnummer]"):
        assert placeholder in raw
    # The tracker in memory is the one the running turn uses: not changed.
    assert tracker.events[3].text.startswith("Mijn bsn is 123.456.782")

    loaded = await store.retrieve("conv-1")
    assert len(loaded.events) == len(events)
    assert loaded.get_slot("contact_value") == CONTACT
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
    assert "06 12 34 56 78" in rows[-2]  # the consented number, in another notation
    loaded = await store.retrieve("conv-2")
    assert [e.text for e in loaded.events if isinstance(e, UserUttered)][-1] == "mijn nieuwe mail is [e-mailadres]"
    assert loaded.get_slot("contact_value") == CONTACT
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
