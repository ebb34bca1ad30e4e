"""The core's check of the action server's answers, without checking the schema every time.

Rasa 3.6 checks each answer of the action server with ``jsonschema.validate(answer, schema)``,
which first validates the (large, fixed) events schema itself against the JSON Schema meta-schema
and builds a new validator: py-spy on bench/core/profile_turn.py found 38 % of the core's CPU in
a turn there (bench/core/PROFILE.md). Here the schema is checked once, when this is installed,
and one compiled validator checks every answer. What is checked and the error raised are the
same as Rasa's: the most relevant error (``best_match``), with Rasa's hint appended.

Installed by bot.core.channel with the NLU thread; ``GIDS_FAST_ACTION_CHECK=0`` keeps Rasa's own."""
from __future__ import annotations

import logging
import os
from typing import Any, Dict

logger = logging.getLogger(__name__)


def enabled(environ=os.environ) -> bool:
    return (environ.get("GIDS_FAST_ACTION_CHECK") or "1").strip() not in ("0", "false", "no", "off")


def install() -> bool:
    """Patches RemoteAction once; False when switched off or already done."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if not enabled() or getattr(RemoteAction, "_gids_fast_action_check", False):
        return False
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          f"from the Action endpoint is valid. For more information about the format visit "
                          f"{DOCS_BASE_URL}/custom-actions")
        raise error

    RemoteAction._validate_action_result = _validate_action_result
    RemoteAction._gids_fast_action_check = True
    logger.info("action server answers are checked with one compiled validator (GIDS_FAST_ACTION_CHECK=0 to switch off)")
    return True
