"""bot.core.action_calls: the action server's answers are checked as Rasa checks them (the same
valid answers pass, the same invalid ones fail with the same error), with one compiled validator."""
from __future__ import annotations

import jsonschema
import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.core import action_calls

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "place", "value": "Zwolle", "timestamp": None}],
     "responses": [{"text": "Hoi", "buttons": [{"title": "Ja", "payload": "/affirm"}]}]},
    {"events": [{"event": "followup", "name": "action_offer_handover"}, {"event": "pause"}]},
    {},
]
INVALID = [
    {"events": [{"event": "slot", "value": 1}]},          # a slot event without its name
    {"events": "not a list"},
    {"responses": [1, 2]},
    {"events": [{"event": "no_such_event"}]},
]


@pytest.fixture
def both(monkeypatch):
    """Rasa's own check and ours, on the same RemoteAction."""
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(RemoteAction, "_gids_fast_action_check", False, raising=False)
    monkeypatch.setenv("GIDS_FAST_ACTION_CHECK", "1")
    action = RemoteAction("action_x", None)
    rasa_check = RemoteAction._validate_action_result
    assert action_calls.install() and not action_calls.install()
    return action, rasa_check


def outcome(check, action, answer):
    try:
        return check(action, answer)
    except ValidationError as error:
        return ("invalid", error.message, list(error.path))


@pytest.mark.parametrize("answer", VALID + INVALID)
def test_the_same_verdict_and_error_as_rasa(both, answer):
    action, rasa_check = both
    ours = outcome(RemoteAction._validate_action_result, action, answer)
    assert ours == outcome(rasa_check, action, answer)
    assert (ours is True) == (answer in VALID)


def test_the_schema_is_not_checked_again_per_answer(both, monkeypatch):
    action, _ = both
    checked = []
    monkeypatch.setattr(jsonschema.validators.Draft202012Validator, "check_schema",
                        classmethod(lambda cls, schema, **kw: checked.append(1)))
    monkeypatch.setattr(jsonschema.validators.Draft7Validator, "check_schema",
                        classmethod(lambda cls, schema, **kw: checked.append(1)))
    for answer in VALID * 5:
        assert action._validate_action_result(answer) is True
    assert checked == []


def test_switched_off_with_gids_fast_action_check_0(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_gids_fast_action_check", False, raising=False)
    monkeypatch.setenv("GIDS_FAST_ACTION_CHECK", "0")
    assert not action_calls.install()
