"""Live chat with the Werkcentrum: the action that starts it after the person said yes.

The offer itself is part of action_offer_handover (actions/handover.py), which makes it only when
bot.live.offer() says staff are there. This action stores the waiting chat with the conversation
so far and pauses the core: from now on the gateway carries the person's messages to staff
(bot/gateway/live.py), until the chat ends and the gateway resumes the core."""
from __future__ import annotations

import logging
import math
from typing import List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions.handover import _channel, _topics
from bot import live, messages
from bot.db import DatabaseUnavailable, session_scope
from bot.handover.transcript import build_transcript

log = logging.getLogger(__name__)


class ActionStartLiveChat(Action):
    def name(self) -> Text:
        return "action_start_live_chat"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        region = tracker.get_slot("region_code")
        before = build_transcript(tracker.events)
        try:
            with session_scope() as session:
                # Staff may have left between the offer and the "ja".
                if not live.offer(session, region).possible:
                    chat_id = None
                else:
                    chat_id = live.start(session, conversation_id=tracker.sender_id, channel=_channel(tracker),
                                         region_code=region, gemeente_code=tracker.get_slot("gemeente_code"),
                                         topics=_topics(tracker), before=before).id
        except (DatabaseUnavailable, SQLAlchemyError) as exc:
            log.warning("live chat not started: %s", type(exc).__name__)
            dispatcher.utter_message(text=messages.LIVE_DB_DOWN)
            return [SlotSet("handover_offer", None), SlotSet("live_declined", True),
                    FollowupAction("action_offer_handover")]
        if chat_id is None:
            dispatcher.utter_message(text=messages.LIVE_NOBODY_FREE)
            return [SlotSet("handover_offer", None), SlotSet("live_declined", True),
                    FollowupAction("action_offer_handover")]
        minutes = max(1, math.ceil(live.wait_seconds() / 60))
        dispatcher.utter_message(text=messages.LIVE_WAITING.format(minutes=minutes),
                                 json_message={"type": "live_chat", "status": "waiting"})
        return [SlotSet("handover_offer", None), ConversationPaused()]
