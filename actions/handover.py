"""The handover: ask for consent, collect a name and a way to be contacted, and hand the case to
the partner (or to the Werkcentrum itself) with a redacted transcript.

Thin on purpose: the validation, transcript and storage live in bot.handover (the handover itself
is made by bot.handover.lifecycle.create, the function behind every change to a handover)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.routing import validate_place_answer
from bot import config, live, messages
from bot.db import DatabaseUnavailable, session_scope
from bot.handover import lifecycle
from bot.handover.contact import (ACCEPTED_MARK, EMAIL, PHONE, WHATSAPP, clean_name, contact_from_text,
                                  display_phone, is_accepted_contact, normalise_email, normalise_phone,
                                  parse_contact_method, whatsapp_id_to_e164)
from bot.handover.transcript import build_summary, build_transcript
from bot.privacy import CONSENTED_SLOTS
from bot.routing.services import EMPLOYER_TOPICS

log = logging.getLogger(__name__)

ROUTING, REQUEST_HUMAN, FALLBACK = "routing", "request_human", "fallback"
# The database may be restarting: a few quick tries before the person is asked to try again.
RETRY_DELAYS = (0.5, 1.5, 3.0)
CONTACT_SLOTS = ("contact_name", "contact_method", "contact_value")


def _reason(tracker: Tracker) -> str:
    if tracker.latest_message.get("intent", {}).get("name") == "request_human":
        return REQUEST_HUMAN
    if tracker.get_slot("fallback_reason") == "repeated":
        return FALLBACK
    if not tracker.get_slot("handover_partner_id"):
        return REQUEST_HUMAN  # no partner card to hand over to: the Werkcentrum itself helps
    return ROUTING


def _channel(tracker: Tracker) -> str:
    return tracker.get_latest_input_channel() or "rest"


def _whatsapp_number(tracker: Tracker) -> Optional[str]:
    return whatsapp_id_to_e164(tracker.sender_id) if _channel(tracker) == "whatsapp" else None


def _done_key(reason: str, partner_id: Optional[str]) -> str:
    # One handover per partner per conversation; asking for a person twice is one request.
    return "werkcentrum" if reason != ROUTING else f"partner:{partner_id}"


class ActionOfferHandover(Action):
    """Asks whether the partner may contact the person, saying what is shared and for how long."""

    def name(self) -> Text:
        return "action_offer_handover"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        events: List[EventType] = []
        asked_for_person = tracker.latest_message.get("intent", {}).get("name") == "request_human"
        declined_live = tracker.get_slot("handover_offer") == "live"  # "nee" to the chat (rules)
        unanswered = tracker.get_slot("live_chat_state") == "unavailable"  # nobody picked the chat up
        if declined_live:
            reason = tracker.get_slot("handover_reason") or _reason(tracker)
            events += [SlotSet("handover_offer", None), SlotSet("live_declined", True)]
        elif unanswered:
            reason = REQUEST_HUMAN
            dispatcher.utter_message(text=messages.LIVE_NOT_FOUND)
            events.append(SlotSet("live_chat_state", None))
        else:
            reason = _reason(tracker)
        events.insert(0, SlotSet("handover_reason", reason))
        key = _done_key(reason, tracker.get_slot("handover_partner_id"))
        done = tracker.get_slot("handover_done") or {}
        if key in done:
            dispatcher.utter_message(text=messages.HANDOVER_ALREADY.format(reference=done[key]))
            return events
        days = self._retention_days()
        if reason in (ROUTING, REQUEST_HUMAN) and not (declined_live or unanswered
                                                      or tracker.get_slot("live_declined")):
            chat = self._live_offer(tracker)
            if chat is not None and chat.possible:
                if asked_for_person:
                    dispatcher.utter_message(text=messages.HUMAN_INTRO)
                dispatcher.utter_message(
                    text=messages.LIVE_OFFER.format(days=days),
                    buttons=[{"title": messages.LIVE_YES, "payload": "/affirm"},
                             {"title": messages.LIVE_NO, "payload": "/deny"}])
                return [SlotSet("handover_reason", reason), SlotSet("handover_offer", "live")]
        else:
            chat = None
        if reason == ROUTING:
            partner = tracker.get_slot("handover_partner_name")
        else:
            partner = messages.WERKCENTRUM_STAFF
            if asked_for_person:
                dispatcher.utter_message(text=messages.HUMAN_INTRO)
        if asked_for_person and chat is not None and chat.why == "closed":
            # Someone who asks for a person hears when chatting is possible; then what is possible now.
            dispatcher.utter_message(text=messages.LIVE_OUTSIDE_HOURS.format(hours=chat.hours))
        dispatcher.utter_message(
            text=messages.CONSENT_ASK.format(partner=partner, days=days),
            buttons=[{"title": messages.CONSENT_YES, "payload": "/affirm"},
                     {"title": messages.CONSENT_NO, "payload": "/deny"}])
        return events

    @staticmethod
    def _retention_days() -> int:
        try:
            return config.retention_days()
        except ValueError as exc:  # the purge refuses to run too; the person still gets an answer
            log.error("%s", exc)
            return config.DEFAULT_RETENTION_DAYS

    @staticmethod
    def _live_offer(tracker: Tracker) -> Optional[live.Offer]:
        """Whether a live chat can be offered now; None when the database cannot tell (then the
        handover is offered, which works without the chat)."""
        try:
            with session_scope() as session:
                return live.offer(session, tracker.get_slot("region_code"))
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.warning("live chat availability unknown: %s", type(exc).__name__)
            return None


class ActionAskContactName(Action):
    def name(self) -> Text:
        return "action_ask_contact_name"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(text=messages.ASK_NAME)
        return []


class ActionAskContactMethod(Action):
    def name(self) -> Text:
        return "action_ask_contact_method"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        number = _whatsapp_number(tracker)
        order = (WHATSAPP, PHONE, EMAIL) if number else (PHONE, EMAIL, WHATSAPP)
        # Plain-text payloads: the form reads the answer as text, whatever the classifier thinks.
        buttons = [{"title": messages.METHOD_BUTTONS[m], "payload": messages.METHOD_BUTTONS[m]} for m in order]
        text = (messages.ASK_CONTACT_METHOD_WHATSAPP.format(number=display_phone(number)) if number
                else messages.ASK_CONTACT_METHOD)
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionAskContactValue(Action):
    def name(self) -> Text:
        return "action_ask_contact_value"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        method = tracker.get_slot("contact_method")
        text = {EMAIL: messages.ASK_EMAIL, WHATSAPP: messages.ASK_WHATSAPP_NUMBER}.get(method, messages.ASK_PHONE)
        dispatcher.utter_message(text=text)
        return []


def _mark_accepted(event: EventType) -> EventType:
    """The SlotSet of a name or contact value this form accepted, marked for the tracker store."""
    if (event.get("event") == "slot" and event.get("name") in CONSENTED_SLOTS
            and is_accepted_contact(event["name"], event.get("value"))):
        return {**event, "metadata": {**(event.get("metadata") or {}), ACCEPTED_MARK: True}}
    return event


class ValidateHandoverForm(FormValidationAction):
    """Checks the answers to the handover questions. The SlotSet events of the name and contact
    value it accepts carry ACCEPTED_MARK: only those values stay unredacted in the tracker store.
    The raw answer Rasa put in the slot before this action ran (a BSN typed at the phone prompt)
    is redacted like any other text."""

    def name(self) -> Text:
        return "validate_handover_form"

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> List[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        return [_mark_accepted(event) for event in events]

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        # The Werkcentrum of the person's own region should call them back: ask where they live
        # first when nobody knows yet (and they did not say they live abroad).
        needs_place = (tracker.get_slot("handover_reason") in (REQUEST_HUMAN, FALLBACK)
                       and not tracker.get_slot("region_code") and tracker.get_slot("place") != "buitenland")
        return [s for s in domain_slots if s != "place" or needs_place]

    def validate_place(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: DomainDict) -> Dict[Text, Any]:
        return validate_place_answer(slot_value, dispatcher, tracker)

    def validate_contact_name(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        name = clean_name(str(slot_value or ""))
        if not name:
            dispatcher.utter_message(text=messages.NAME_INVALID)
        return {"contact_name": name}

    def validate_contact_method(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> Dict[Text, Any]:
        text = str(slot_value or "")
        method = parse_contact_method(text)
        value = None
        if method is None:
            # "0612345678" or "jan@example.nl" straight away answers both questions.
            method, value = contact_from_text(text)
        if method is None:
            dispatcher.utter_message(text=messages.METHOD_INVALID)
            return {"contact_method": None}
        if method == WHATSAPP:
            value = _whatsapp_number(tracker) or value
        return {"contact_method": method, "contact_value": value}

    def validate_contact_value(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> Dict[Text, Any]:
        method = tracker.get_slot("contact_method")
        text = str(slot_value or "")
        if method == EMAIL:
            value = normalise_email(text)
            if not value:
                dispatcher.utter_message(text=messages.EMAIL_INVALID)
        else:
            value = normalise_phone(text, mobile_only=(method == WHATSAPP))
            if not value:
                dispatcher.utter_message(text=messages.PHONE_INVALID)
        return {"contact_value": value}


def _topics(tracker: Tracker) -> List[str]:
    topics = list(tracker.get_slot("routed_topics") or tracker.get_slot("needs") or [])
    main = tracker.get_slot("handover_topic")
    if main in topics:
        topics.remove(main)
    return ([main] if main else []) + topics


class ActionCreateHandover(Action):
    """Writes the handover in one transaction and tells the person their reference."""

    def name(self) -> Text:
        return "action_create_handover"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        reason = tracker.get_slot("handover_reason") or ROUTING
        partner_id = tracker.get_slot("handover_partner_id") if reason == ROUTING else None
        key = _done_key(reason, partner_id)
        done = dict(tracker.get_slot("handover_done") or {})
        if key in done:
            dispatcher.utter_message(text=messages.HANDOVER_ALREADY.format(reference=done[key]))
            return []
        name, method, value = (tracker.get_slot(s) for s in CONTACT_SLOTS)
        if not (name and method and value):
            # Only reachable through the retry button after the slots were cleared.
            dispatcher.utter_message(text=messages.HANDOVER_NO_PARTNER)
            return []
        result = None
        for attempt, delay in enumerate((0.0,) + RETRY_DELAYS):
            if delay:
                await asyncio.sleep(delay)
            try:
                result = self._store(tracker, reason, partner_id, name, method, value)
                break
            except (DatabaseUnavailable, SQLAlchemyError) as exc:
                log.warning("handover not stored (attempt %d): %s", attempt + 1, type(exc).__name__)
        if result is None:
            dispatcher.utter_message(text=messages.HANDOVER_DB_DOWN,
                                     buttons=[{"title": messages.RETRY_BUTTON, "payload": "/retry_handover"}])
            return []
        if result == "no_partner":
            dispatcher.utter_message(text=messages.HANDOVER_NO_PARTNER)
            return []
        reference, partner_name = result
        done[key] = reference
        dispatcher.utter_message(text=messages.HANDOVER_DONE.format(
            partner=partner_name, method=messages.METHOD_NAMES.get(method, method)))
        dispatcher.utter_message(text=messages.HANDOVER_REFERENCE.format(reference=reference),
                                 json_message={"type": "handover", "reference": reference})
        return [SlotSet("handover_done", done), SlotSet("handover_reference", reference)]

    def _store(self, tracker: Tracker, reason: str, partner_id: Optional[str], name: str, method: str,
               value: str):
        keep = [value, name] + ([display_phone(value)] if method != EMAIL else [])
        transcript = build_transcript(tracker.events, keep=keep)
        channel = _channel(tracker)
        topics = _topics(tracker)
        with session_scope() as session:
            partner = lifecycle.receiving_partner(session, partner_id, tracker.get_slot("region_code"))
            if partner is None:
                return "no_partner"
            service_id = tracker.get_slot("handover_service_id") if reason == ROUTING else None
            summary = build_summary(
                topics=topics, gemeente_name=tracker.get_slot("gemeente_name"),
                region_name=tracker.get_slot("region_name"), place=tracker.get_slot("place"),
                reason=reason, contact_method=method, channel=channel, partner_name=partner.name)
            handover = lifecycle.create(
                session, partner=partner, conversation_id=tracker.sender_id, channel=channel,
                service_id=int(service_id) if service_id else None,
                region_code=tracker.get_slot("region_code"),
                gemeente_code=tracker.get_slot("gemeente_code"), topics=topics,
                audience=tracker.get_slot("audience") or ("werkgever" if _is_employer(topics) else "werkzoekende"),
                reason=reason, contact_name=name, contact_method=method, contact_value=value,
                summary=summary, transcript=transcript)
            return handover.reference, partner.name


def _is_employer(topics: List[str]) -> bool:
    return bool(topics) and topics[0] in EMPLOYER_TOPICS
