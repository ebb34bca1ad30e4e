"""A Rasa SQL tracker store that never writes personal data the person did not consent to share.

endpoints.yml::

    tracker_store:
      type: bot.privacy.tracker_store.RedactingSQLTrackerStore
      dialect: sqlite
      db: var/tracker.db

Every event is redacted (bot.privacy.redact_event) on its way into the ``events`` table and to
an event broker, if one is configured. What is kept: the accepted contact details, and wherever
they occur (the person typing their number, the gids repeating it), their values.

Accepted means: set by validate_handover_form after it checked the answer (the SlotSet carries
bot.handover.contact.ACCEPTED_MARK), or carried into a new session by action_session_start, and
still a clean name or a valid phone number or e-mail address (is_accepted_contact) — a name with
a BSN, IBAN or address in it never is. Every other SlotSet of a contact slot is redacted like any
text: Rasa's form fills the slot with the raw answer before the validation action sees it, so a
BSN typed at the phone prompt becomes "[BSN]" there, as it does in the person's message.

The tracker the Rasa server holds in memory during one message is not changed: actions in that
turn still see what the person typed; the next turn loads the redacted tracker from the store.
Creating the store also installs the redacting log filter, so the Rasa server's logs are
redacted even without ``--logging-config-file config/logging.yml``.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Iterable, Iterator, List, Optional, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import Event, SessionStarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker, TrackerEventDiffEngine

from bot.handover.contact import ACCEPTED_MARK, is_accepted_contact
from bot.privacy import CONSENTED_SLOTS, find_pii, redact_event
from bot.privacy.logging import install_redacting_filter


logger = logging.getLogger(__name__)
T = TypeVar("T")
RETRY_DELAY = 0.5   # seconds before the one retry of a read or write that lost its connection


class TrackerStoreUnavailable(RuntimeError):
    """The conversation could not be read: the turn fails (the gateway says "try again")."""


def _acceptable(event: SlotSet) -> bool:
    if not is_accepted_contact(event.key, event.value):
        return False
    # A clean name has no digits and no "@", so no personal data; checked anyway, as the
    # module promises.
    return event.key != "contact_name" or not find_pii(event.value)


def accepted_contact_events(events: Iterable[Event]) -> List[SlotSet]:
    """The SlotSet events of the contact slots (CONSENTED_SLOTS) that hold an accepted contact
    detail (see the module docstring); never the raw answer Rasa's form put in the slot."""
    accepted = []
    carried_over = False  # action_session_start repeats the slots right after SessionStarted
    for event in events:
        if isinstance(event, SessionStarted):
            carried_over = True
            continue
        if not isinstance(event, SlotSet):
            carried_over = False
            continue
        if event.key not in CONSENTED_SLOTS:
            continue
        marked = bool((event.metadata or {}).get(ACCEPTED_MARK))
        if (marked or carried_over) and _acceptable(event):
            accepted.append(event)
    return accepted


def consented_values(tracker: DialogueStateTracker) -> List[str]:
    """Every accepted contact detail in this tracker. A person may correct their number: each
    number that was accepted was given to be used."""
    return [str(event.value) for event in accepted_contact_events(tracker.events)]


def redacted(event: Event, keep: List[str]) -> Event:
    """The event with personal data replaced; the same object when there was none. A SlotSet of
    a contact slot is redacted like any other (its value may be the raw answer): leave accepted
    ones out (redacted_events does)."""
    data = event.as_dict()
    if data.get("event") == "slot" and data.get("name") in CONSENTED_SLOTS:
        # redact_event leaves these slots as they are; under another name it redacts the value.
        clean = {**redact_event({**data, "name": None}, keep), "name": data["name"]}
    else:
        clean = redact_event(data, keep)
    if clean == data:
        return event
    rebuilt = Event.from_parameters(clean)
    if rebuilt is None:  # failing the save is better than storing the unredacted event
        raise ValueError(f"a redacted {event.type_name!r} event could not be rebuilt")
    return rebuilt


def redacted_events(tracker: DialogueStateTracker, events: Iterable[Event]) -> Iterator[Event]:
    """``events`` (some of the tracker's own) as they may be stored: the accepted contact SlotSets
    as they are, everything else redacted, keeping the accepted values."""
    accepted = accepted_contact_events(tracker.events)
    keep = [str(event.value) for event in accepted]
    accepted_ids = {id(event) for event in accepted}
    for event in events:
        yield event if id(event) in accepted_ids else redacted(event, keep)


class RedactingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that stores (and streams) redacted events; see the module docstring.

    It also survives a restart of its database: pooled connections are checked before use
    (``pool_pre_ping``), a read or write that still loses its connection is tried once more, and
    a conversation that cannot be read fails the turn instead of starting afresh (Rasa's
    FailSafeTrackerStore would answer from an empty tracker and then write a new session over the
    person's conversation)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        install_redacting_filter()
        first: Any = getattr(self, "engine")   # Rasa's, without pre-ping
        url = first.url
        first.dispose()
        engine: Any = sa.create_engine(url, pool_pre_ping=True, **create_engine_kwargs(url))
        self.engine = engine
        self.sessionmaker = sessionmaker(bind=engine)
        _refuse_fresh_start()

    async def _once_more(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except DBAPIError as exc:
            logger.warning("tracker store: %s failed (%s); trying once more", what, type(exc).__name__)
            await asyncio.sleep(RETRY_DELAY)
            return await call()

    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        return await self._once_more("read", lambda: super(RedactingSQLTrackerStore, self).retrieve(sender_id))

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        return await self._once_more(
            "read", lambda: super(RedactingSQLTrackerStore, self).retrieve_full_tracker(sender_id))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._once_more("write", lambda: super(RedactingSQLTrackerStore, self).save(tracker))

    def _additional_events(self, session, tracker: DialogueStateTracker) -> Iterator[Event]:
        # SQLTrackerStore.save() writes exactly the events this method yields, so this is the one
        # place where data goes into the table. Redaction keeps the number of events, which
        # save() uses to know what is already stored.
        return redacted_events(tracker, super()._additional_events(session, tracker))

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        # Same as TrackerStore.stream_events, but the broker gets the redacted events too.
        if self.event_broker is None:
            return None
        old_tracker = await self.retrieve(tracker.sender_id)
        new_events = TrackerEventDiffEngine.event_difference(old_tracker, tracker)
        await self._stream_new_events(self.event_broker, list(redacted_events(tracker, new_events)),
                                      tracker.sender_id)


def _refuse_fresh_start() -> None:
    """Rasa wraps every tracker store in a FailSafeTrackerStore, which turns a failed read into "no
    conversation yet". For this store a failed read raises instead, once patched (idempotent)."""
    if getattr(FailSafeTrackerStore, "_gids_no_fresh_start", False):
        return
    original = FailSafeTrackerStore.on_tracker_store_retrieve_error

    def on_tracker_store_retrieve_error(self: Any, error: Exception) -> None:
        if isinstance(self._tracker_store, RedactingSQLTrackerStore):
            raise TrackerStoreUnavailable("the conversation could not be read from the tracker store") from error
        original(self, error)

    FailSafeTrackerStore.on_tracker_store_retrieve_error = on_tracker_store_retrieve_error
    FailSafeTrackerStore._gids_no_fresh_start = True
