"""Conversation rules that do not belong to one topic: the two-stage fallback."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List

from bot.text import InputKind, classify_input

CHECK_FALLBACK_ACTION = "action_check_fallback"
# Values of the fallback_reason slot; data/rules/fallback.yml says what the gids answers to each.
REASONS = ("empty", "no_words", "other_script", "unclear", "repeated")


def previous_turn_actions(events: Iterable[Dict[str, Any]]) -> List[str]:
    """The actions the gids took between the person's previous message and the latest one."""
    actions: List[str] = []
    users_seen = 0
    for event in reversed(list(events)):
        kind = event.get("event")
        if kind == "user":
            users_seen += 1
            if users_seen == 2:
                break
        elif kind == "action" and users_seen == 1 and event.get("name"):
            actions.append(event["name"])
    return actions


def fallback_reason(latest_text: str, events: Iterable[Dict[str, Any]]) -> str:
    """Why the gids did not understand, which decides what it says.

    Stage 1 (empty, no_words, other_script, unclear): a clarifying question with topic buttons.
    Stage 2 (repeated), when the answer before was already a clarifying question: contact with
    the Werkcentrum."""
    if CHECK_FALLBACK_ACTION in previous_turn_actions(events):
        return "repeated"
    return {
        InputKind.EMPTY: "empty",
        InputKind.NO_WORDS: "no_words",
        InputKind.OTHER_SCRIPT: "other_script",
    }.get(classify_input(latest_text), "unclear")
