"""The two-stage fallback decision (bot/conversation.py), on Rasa-shaped event lists."""
from bot.conversation import fallback_reason, previous_turn_actions


def user(text):
    return {"event": "user", "text": text}


def action(name):
    return {"event": "action", "name": name}


def test_first_unclear_message_asks_a_clarifying_question():
    events = [action("action_session_start"), action("action_listen"), user("blorp")]
    assert fallback_reason("blorp", events) == "unclear"


def test_second_unclear_message_in_a_row_offers_contact():
    events = [action("action_listen"), user("blorp"), action("action_check_fallback"),
              {"event": "slot", "name": "fallback_reason", "value": "unclear"},
              action("utter_clarify"), action("action_listen"), user("zxq")]
    assert fallback_reason("zxq", events) == "repeated"


def test_an_understood_message_in_between_resets_the_stages():
    events = [user("blorp"), action("action_check_fallback"), action("utter_clarify"),
              action("action_listen"), user("ik heb schulden"), action("utter_topic_ask_debt_help"),
              action("action_listen"), user("zxq")]
    assert fallback_reason("zxq", events) == "unclear"


def test_odd_input_gets_its_own_reason():
    assert fallback_reason("", [user("")]) == "empty"
    assert fallback_reason("🙈", [user("🙈")]) == "no_words"
    assert fallback_reason("مرحبا", [user("مرحبا")]) == "other_script"


def test_previous_turn_actions():
    events = [user("a"), action("x"), action("action_listen"), user("b"), action("y")]
    assert previous_turn_actions(events) == ["action_listen", "x"]
    assert previous_turn_actions([user("a")]) == []
