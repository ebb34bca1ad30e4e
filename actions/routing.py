"""Routing: remember the topic, find out where the person lives, show who helps.

Thin on purpose: slots in, a bot.routing call, messages out."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import messages, routing
from bot.routing import sectors
from bot.routing.places import GemeenteRef
from bot.routing.signals import record_questions
from bot.routing.services import EMPLOYER_TOPICS, TOPICS

MAX_CARDS = 3            # per topic; more is too much to read on a phone
MAX_CARDS_SEVERAL = 2    # per topic when there are several needs
NEED_ENTITY = "need"     # bot.nlp.rasa_components.NEED_ENTITY (the core's runtime; not importable here)


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
        # The core's NeedFinder names every need of the message, most urgent first
        # (bot/nlp/needs.py, measured in bench/nlu/MULTINEED.md); the intent is one of them.
        found = [e["value"] for e in tracker.latest_message.get("entities", [])
                 if e.get("entity") == NEED_ENTITY and e.get("value") in TOPICS]
        if not found and intent in TOPICS:
            found = [intent]
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
                found = [routing.resolve_gemeente_code(c).gemeente for c in candidates]
            except routing.DatabaseUnavailable:
                found = []
            refs = [r for r in found if r]
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

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        """The place, and the sector for a question with a sectoral route (bot.routing.sectors)."""
        slots = [s for s in domain_slots if s != SECTOR_SLOT]
        return slots + [SECTOR_SLOT] if _sector_wanted(tracker) else slots

    def validate_place(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: DomainDict) -> Dict[Text, Any]:
        return validate_place_answer(slot_value, dispatcher, tracker)

    def extract_sector(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                       domain: DomainDict) -> Dict[Text, Any]:
        """The sector from what the person said so far ("ik ben lasser"), so the question is not
        asked; and a short answer to it that the classifier took for a question ("lasser")."""
        if tracker.get_slot(SECTOR_SLOT) is not None:
            return {}
        intent = tracker.latest_message.get("intent", {}).get("name")
        if intent in NOT_A_SECTOR_ANSWER:
            return {}
        try:
            if _answering_sector(tracker) and intent in TOPICS:
                # Not mapped from the text (a new question stops the form), unless it is the
                # answer after all: a few words, or the same question again with the sector.
                text = tracker.latest_message.get("text") or ""
                if len(text.split()) <= SHORT_ANSWER_WORDS:
                    value = routing.sector_answer(text)
                    return {SECTOR_SLOT: value} if value != sectors.OTHER else {}
                if intent not in (tracker.get_slot("needs") or []):
                    return {}
                match = routing.find_sector(text, prefer_towards=_prefers_towards(tracker))
            else:
                match = routing.find_sector(_user_texts(tracker), prefer_towards=_prefers_towards(tracker))
        except routing.DatabaseUnavailable:
            return {}
        return {SECTOR_SLOT: match.key} if match else {}

    def validate_sector(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: DomainDict) -> Dict[Text, Any]:
        """Any answer ends the question: a sector key, or "weet ik niet" / a sector without a
        fund / "ik werk niet" (sectors.NO_SECTOR); the cards say what that means."""
        try:
            return {SECTOR_SLOT: routing.sector_answer(str(slot_value or ""))}
        except routing.DatabaseUnavailable:
            return {SECTOR_SLOT: sectors.UNKNOWN}


class ActionAskSector(Action):
    """The form's sector question, once: buttons for the common sectors and "Weet ik niet"."""

    def name(self) -> Text:
        return "action_ask_sector"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        employer = _sector_topic(tracker) in EMPLOYER_TOPICS
        choices = messages.SECTOR_BUTTONS_EMPLOYER if employer else messages.SECTOR_BUTTONS
        buttons = [{"title": title, "payload": f'/inform_sector{{"sector": "{key}"}}'} for title, key in choices]
        dispatcher.utter_message(text=messages.ASK_SECTOR_EMPLOYER if employer else messages.ASK_SECTOR,
                                 buttons=buttons)
        return []


SECTOR_SLOT = "sector"
SHORT_ANSWER_WORDS = 4   # "lasser", "in de bouw", "weet ik het niet": an answer, not a new question
# Messages that never answer the sector question: the form stops for their own rules.
NOT_A_SECTOR_ANSWER = {"crisis", "request_human", "goodbye", "bot_challenge", "ask_privacy", "thank"}


def _user_texts(tracker: Tracker) -> List[str]:
    """What the person typed so far in this conversation (not the buttons' payloads)."""
    texts = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
    latest = tracker.latest_message.get("text") or ""
    if latest and (not texts or texts[-1] != latest):
        texts.append(latest)
    return [t for t in texts if t and not t.startswith("/")]


def _sector_topic(tracker: Tracker) -> Optional[str]:
    return sectors.sector_topic(tracker.get_slot("needs") or [tracker.get_slot("topic")])


def _prefers_towards(tracker: Tracker) -> bool:
    # A career switcher's training or career question is about the sector they want to go to.
    return _sector_topic(tracker) in ("ask_retraining", "ask_career_advice")


def _sector_wanted(tracker: Tracker) -> bool:
    if tracker.get_slot(SECTOR_SLOT) is not None:
        return True
    needs = tracker.get_slot("needs") or [tracker.get_slot("topic")]
    texts = _user_texts(tracker)
    if sectors.sector_wanted(needs, tracker.get_slot("audience"), texts):
        return True
    if _sector_topic(tracker) is None:
        return False
    try:  # someone without work is not asked, but a sector they named still counts
        return routing.find_sector(texts, prefer_towards=_prefers_towards(tracker)) is not None
    except routing.DatabaseUnavailable:
        return False


def _answering_sector(tracker: Tracker) -> bool:
    """The latest message is the reply to the sector question: the form asked it, and no other
    action ran since (a new question would have run its own rule first)."""
    if tracker.get_slot("requested_slot") != SECTOR_SLOT:
        return False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return True
        if event.get("event") == "action" and event.get("name") not in ("routing_form", "action_listen"):
            return False
    return False


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
    if res.ok and res.gemeente is not None:
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
            # The sectoral route goes with the first need that has one (bot.routing.sectors).
            sector = tracker.get_slot(SECTOR_SLOT)
            sector_host = sectors.sector_topic(needs) if sector else None
            sector_cards = (routing.sector_services(sector, sector_host, tracker.get_slot("audience"))
                            if sector_host else [])
            # Only when no card of a topic says how to reach anyone: where to look instead.
            unreachable = any(cards and not any(c.reachable for c in cards) for cards in per_topic.values())
            website = routing.gemeente_website(ref.code) if unreachable and ref.code else None
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
            else:
                dispatcher.utter_message(text=messages.SERVICES_INTRO.format(topic=messages.TOPIC_NAMES[topic]))
                for card in cards:
                    data = card.as_dict()
                    unverified = unverified or not card.verified
                    dispatcher.utter_message(text=messages.partner_card(data),
                                             json_message={"type": "partner_card", "topic": topic, **data})
                if not any(c.reachable for c in cards):
                    dispatcher.utter_message(text=messages.NO_REACH_GEMEENTE.format(website=website) if website
                                             else messages.NO_REACH)
            if topic == sector_host and sector:
                unverified = _show_sector(dispatcher, sector, topic, sector_cards) or unverified
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


def _show_sector(dispatcher: CollectingDispatcher, sector: str, topic: str, cards: List[routing.ServiceCard]) -> bool:
    """The sectoral route after the regional cards of its topic: the sector's fund or portal, or,
    without one, that the Werkcentrum and the vakbond help. True when a card is unverified."""
    employer = topic in EMPLOYER_TOPICS
    if cards:
        intro = messages.SECTOR_INTRO_EMPLOYER if employer else messages.SECTOR_INTRO
        dispatcher.utter_message(text=intro.format(sector=sectors.sector_name(sector)))
        for card in cards:
            data = card.as_dict()
            dispatcher.utter_message(text=messages.partner_card(data),
                                     json_message={"type": "partner_card", "topic": topic, "sector": sector, **data})
        if not any(c.reachable for c in cards):
            dispatcher.utter_message(text=messages.SECTOR_NO_REACH_EMPLOYER if employer else messages.SECTOR_NO_REACH)
        return any(not c.verified for c in cards)
    if sector == sectors.NOT_WORKING:
        return False
    if sector == sectors.UNKNOWN:
        dispatcher.utter_message(text=messages.SECTOR_UNKNOWN_EMPLOYER if employer else messages.SECTOR_UNKNOWN)
    else:  # a sector without a fund in the table
        dispatcher.utter_message(text=messages.SECTOR_NO_FUND_EMPLOYER if employer else messages.SECTOR_NO_FUND)
    return False
