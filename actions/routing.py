"""Routing: remember the topic, find out where the person lives, show who helps.

Thin on purpose: slots in, a bot.routing call, messages out."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import messages, routing
from bot.routing.places import GemeenteRef
from bot.routing.signals import record_questions
from bot.routing.services import EMPLOYER_TOPICS, TOPICS

MAX_CARDS = 3            # per topic; more is too much to read on a phone
MAX_CARDS_SEVERAL = 2    # per topic when there are several needs
SECONDARY_TOPIC_CONFIDENCE = 0.25  # "schulden en omscholing": the second topic in the ranking


def _place_slots(ref: Optional[GemeenteRef], place: Optional[str]) -> Dict[Text, Any]:
    return {"place": place, "gemeente_code": ref.code if ref else None,
            "gemeente_name": ref.name if ref else None, "region_code": ref.region_code if ref else None,
            "region_name": ref.region_name if ref else None, "place_candidates": None,
            "place_suggestions": None}


def _latest_entity(tracker: Tracker, name: str) -> Optional[str]:
    return next(tracker.get_latest_entity_values(name), None)


class ActionSetTopic(Action):
    """Adds the question's topic (and a clear second topic) to the needs of this conversation,
    and fills in the place when the person named it earlier."""

    def name(self) -> Text:
        return "action_set_topic"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        needs = list(tracker.get_slot("needs") or [])
        found = [intent] if intent in TOPICS else []
        for r in tracker.latest_message.get("intent_ranking", [])[1:3]:
            if r.get("name") in TOPICS and r.get("confidence", 0) >= SECONDARY_TOPIC_CONFIDENCE:
                found.append(r["name"])
        for topic in found:
            if topic not in needs:
                needs.append(topic)
        events: List[EventType] = [SlotSet("needs", needs)]
        if found:
            events.append(SlotSet("topic", found[0]))
        if tracker.get_slot("gemeente_code") or tracker.get_slot("place"):
            return events
        said = tracker.get_slot("postcode") or tracker.get_slot("location")
        if said:
            try:
                res = routing.resolve_place(said)
            except routing.DatabaseUnavailable:
                return events
            if res.ok:
                events += [SlotSet(k, v) for k, v in _place_slots(res.gemeente, said).items()]
            elif res.status == routing.AMBIGUOUS:
                events.append(SlotSet("place_candidates", [g.code for g in res.candidates]))
        return events


class ActionAskPlace(Action):
    """The form's question: plain, or with one button per candidate gemeente."""

    def name(self) -> Text:
        return "action_ask_place"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        candidates = tracker.get_slot("place_candidates") or []
        suggestions = tracker.get_slot("place_suggestions") or []
        if candidates:
            try:
                refs = [routing.resolve_gemeente_code(c).gemeente for c in candidates]
            except routing.DatabaseUnavailable:
                refs = []
            refs = [r for r in refs if r]
            if refs:
                said = tracker.get_slot("location") or tracker.get_slot("postcode") or "Deze plaats"
                buttons = [{"title": r.name[:20], "payload": f'/inform_location{{"gemeente_code": "{r.code}"}}'}
                           for r in refs]
                dispatcher.utter_message(text=messages.ASK_PLACE_CHOOSE.format(name=said), buttons=buttons)
                return []
        if suggestions:
            dispatcher.utter_message(text=messages.ASK_PLACE_SUGGEST,
                                     buttons=[{"title": s[:20], "payload": s} for s in suggestions])
            return []
        employer = tracker.get_slot("topic") in EMPLOYER_TOPICS
        dispatcher.utter_message(text=messages.ASK_PLACE_EMPLOYER if employer else messages.ASK_PLACE)
        return []


class ValidateRoutingForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_routing_form"

    def validate_place(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: DomainDict) -> Dict[Text, Any]:
        return validate_place_answer(slot_value, dispatcher, tracker)


def validate_place_answer(slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[Text, Any]:
    """The place question, in the routing form and in the handover form (a person who asks for
    a person before saying where they live)."""
    code = _latest_entity(tracker, "gemeente_code")
    # The whole message says more than the extracted entity: "postcode 1234 SS" must be
    # answered as an invalid postcode, not as the unknown place "1234".
    # Only when this message answers the place question: a place remembered from earlier
    # is validated as it was said then.
    said = tracker.latest_message.get("text") or ""
    answering = tracker.get_slot("requested_slot") == "place"
    text = said if answering and said and not said.startswith("/") else str(slot_value or "")
    try:
        res = routing.resolve_gemeente_code(code) if code else routing.resolve_place(text)
    except routing.DatabaseUnavailable:
        dispatcher.utter_message(text=messages.DATABASE_DOWN)
        return {"place": None}
    employer = tracker.get_slot("topic") in EMPLOYER_TOPICS
    if res.ok:
        found = messages.PLACE_FOUND_EMPLOYER if employer else messages.PLACE_FOUND
        dispatcher.utter_message(text=found.format(gemeente=res.gemeente.name,
                                             region=messages.region_label(res.gemeente.region_name)))
        return _place_slots(res.gemeente, res.matched or text)
    if res.status == routing.AMBIGUOUS:
        return {"place": None, "location": res.matched or text,
                "place_candidates": [g.code for g in res.candidates], "place_suggestions": None}
    if res.status == routing.ABROAD:
        dispatcher.utter_message(text=messages.PLACE_ABROAD)
        return {**_place_slots(None, "buitenland")}
    if res.status == routing.INVALID_POSTCODE:
        dispatcher.utter_message(text=messages.POSTCODE_INVALID.format(place=res.matched or text))
    elif res.status == routing.EMPTY:
        dispatcher.utter_message(text=messages.PLACE_EMPTY)
    else:
        dispatcher.utter_message(text=messages.PLACE_UNKNOWN.format(place=text[:40]))
    return {"place": None, "place_candidates": None, "place_suggestions": res.suggestions or None}


class ActionShowServices(Action):
    """Partner cards for every need, the most urgent need first."""

    def name(self) -> Text:
        return "action_show_services"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        needs = routing.order_needs(tracker.get_slot("needs") or [tracker.get_slot("topic")])
        if not needs:
            return []
        code = tracker.get_slot("gemeente_code")
        try:
            ref = routing.resolve_gemeente_code(code).gemeente if code else None
            if ref is None:
                # Abroad, or the person would rather not say: the national organisations.
                ref = GemeenteRef("", "", "", "", "")
                if not tracker.get_slot("place"):
                    dispatcher.utter_message(text=messages.NO_PLACE_NATIONAL)
            per_topic = {t: routing.services_for(t, ref, tracker.get_slot("audience")) for t in needs}
        except routing.DatabaseUnavailable:
            dispatcher.utter_message(text=messages.DATABASE_DOWN)
            return []
        if len(needs) > 1:
            names = [messages.TOPIC_NAMES[t] for t in needs]
            dispatcher.utter_message(text=messages.SEVERAL_NEEDS.format(needs=messages.join_dutch(names), first=names[0]))
        limit = MAX_CARDS_SEVERAL if len(needs) > 1 else MAX_CARDS
        unverified = False
        target = None  # the first card of the most urgent need: who a handover goes to
        for topic in needs:
            cards = per_topic[topic][:limit]
            if cards and target is None:
                target = (topic, cards[0])
            if not cards:
                dispatcher.utter_message(text=messages.NO_SERVICES)
                continue
            dispatcher.utter_message(text=messages.SERVICES_INTRO.format(topic=messages.TOPIC_NAMES[topic]))
            for card in cards:
                data = card.as_dict()
                unverified = unverified or not card.verified
                dispatcher.utter_message(text=messages.partner_card(data),
                                         json_message={"type": "partner_card", "topic": topic, **data})
        if unverified:
            dispatcher.utter_message(text=messages.UNVERIFIED)
        record_questions(needs, tracker.get_slot("region_code"), tracker.get_slot("audience"),
                         tracker.get_latest_input_channel())
        events: List[EventType] = [SlotSet("routed_topics", needs)]
        if target is not None:
            topic, card = target
            events += [SlotSet("handover_partner_id", card.partner_id),
                       SlotSet("handover_partner_name", card.partner),
                       SlotSet("handover_service_id", card.service_id),
                       SlotSet("handover_topic", topic)]
        else:
            events += [SlotSet("handover_partner_id", None), SlotSet("handover_partner_name", None),
                       SlotSet("handover_service_id", None), SlotSet("handover_topic", None)]
        return events
