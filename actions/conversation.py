"""Session start and the two-stage fallback."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.conversation import CHECK_FALLBACK_ACTION, fallback_reason

WELCOME = ["utter_welcome", "utter_what_i_do", "utter_privacy_note"]
# Slots that describe one turn, not the person: not carried into a new session.
TURN_SLOTS = {"fallback_reason"}


class ActionSessionStart(Action):
    """Says who the gids is, that it is a computer, and what happens with the person's data."""

    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        # Carry over what the person already told us (session_config asks for it).
        for name, value in tracker.current_slot_values().items():
            if value is not None and name not in TURN_SLOTS:
                events.append(SlotSet(name, value))
        for response in WELCOME:
            dispatcher.utter_message(response=response)
        events.append(ActionExecuted("action_listen"))
        return events


class ActionCheckFallback(Action):
    """Decides why a message was not understood; the rules in data/rules/fallback.yml answer."""

    def name(self) -> Text:
        return CHECK_FALLBACK_ACTION

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        text = tracker.latest_message.get("text") or ""
        return [SlotSet("fallback_reason", fallback_reason(text, tracker.events))]
