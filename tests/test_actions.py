"""Custom actions with rasa_sdk Tracker objects, as the action server calls them."""
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import ActionCheckFallback, ActionSessionStart
from bot import config

DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())


def tracker(text, events=(), slots=None):
    return Tracker(sender_id="t1", slots=slots or {}, latest_message={"text": text, "intent": {}},
                   events=list(events), paused=False, followup_action=None, active_loop={},
                   latest_action_name="action_listen")


async def test_session_start_introduces_the_gids_and_keeps_what_we_knew():
    dispatcher = CollectingDispatcher()
    t = tracker("", slots={"location": "Hoogezand", "fallback_reason": "unclear", "postcode": None})
    events = await ActionSessionStart().run(dispatcher, t, DOMAIN)
    sent = [m["response"] for m in dispatcher.messages]
    assert sent == ["utter_welcome", "utter_what_i_do", "utter_privacy_note"]
    assert all(r in DOMAIN["responses"] for r in sent)
    assert events[0]["event"] == "session_started"
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots == {"location": "Hoogezand"}
    assert events[-1] == {"event": "action", "name": "action_listen", "policy": None,
                          "confidence": None, "timestamp": None, "action_text": None,
                          "hide_rule_turn": False} or events[-1]["name"] == "action_listen"


async def test_check_fallback_sets_the_reason():
    dispatcher = CollectingDispatcher()
    events = await ActionCheckFallback().run(dispatcher, tracker("🙈🙈", [{"event": "user", "text": "🙈🙈"}]), DOMAIN)
    assert events == [{"event": "slot", "timestamp": None, "name": "fallback_reason", "value": "no_words"}]
    assert dispatcher.messages == []


def test_every_fallback_reason_is_a_slot_value():
    from bot.conversation import REASONS
    assert list(REASONS) == DOMAIN["slots"]["fallback_reason"]["values"]
