"""A Rasa SQL tracker store that never writes personal data the person did not consent to share.

endpoints.yml::

    tracker_store:
      type: bot.privacy.tracker_store.RedactingSQLTrackerStore
      dialect: sqlite
      db: var/tracker.db

Every event is redacted (bot.privacy.redact_event) on its way into the ``events`` table and to
an event broker, if one is configured. What is kept: the slots in CONSENTED_SLOTS and, wherever
they occur (the person typing their number, the gids repeating it), the values of those slots.
The tracker the Rasa server holds in memory during one message is not changed: actions in that
turn still see what the person typed; the next turn loads the redacted tracker from the store.
Creating the store also installs the redacting log filter, so the Rasa server's logs are
redacted even without ``--logging-config-file config/logging.yml``.
"""
from __future__ import annotations

from typing import Iterator, List

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker, TrackerEventDiffEngine

from bot.privacy import CONSENTED_SLOTS, redact_event
from bot.privacy.logging import install_redacting_filter


def consented_values(tracker: DialogueStateTracker) -> List[str]:
    """Every value the consented slots have had in this tracker (a person may correct their
    number: both were given to be used)."""
    values = []
    for event in tracker.events:
        if isinstance(event, SlotSet) and event.key in CONSENTED_SLOTS and event.value:
            values.append(str(event.value))
    for name in CONSENTED_SLOTS:
        slot = tracker.slots.get(name)
        if slot is not None and slot.value:
            values.append(str(slot.value))
    return values


def redacted(event: Event, keep: List[str]) -> Event:
    """The event with personal data replaced; the same object when there was none."""
    data = event.as_dict()
    clean = redact_event(data, keep)
    if clean == data:
        return event
    rebuilt = Event.from_parameters(clean)
    if rebuilt is None:  # failing the save is better than storing the unredacted event
        raise ValueError(f"a redacted {event.type_name!r} event could not be rebuilt")
    return rebuilt


class RedactingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that stores (and streams) redacted events; see the module docstring."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        install_redacting_filter()

    def _additional_events(self, session, tracker: DialogueStateTracker) -> Iterator[Event]:
        # SQLTrackerStore.save() writes exactly the events this method yields, so this is the one
        # place where data goes into the table. Redaction keeps the number of events, which
        # save() uses to know what is already stored.
        keep = consented_values(tracker)
        for event in super()._additional_events(session, tracker):
            yield redacted(event, keep)

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        # Same as TrackerStore.stream_events, but the broker gets the redacted events too.
        if self.event_broker is None:
            return None
        old_tracker = await self.retrieve(tracker.sender_id)
        new_events = TrackerEventDiffEngine.event_difference(old_tracker, tracker)
        keep = consented_values(tracker)
        await self._stream_new_events(self.event_broker, [redacted(e, keep) for e in new_events],
                                      tracker.sender_id)
