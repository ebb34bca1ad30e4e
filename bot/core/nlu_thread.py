"""The core's NLU in a worker thread of its own, so the event loop keeps serving while a message
is classified (bench/core/PROFILE.md: the NLU is more than half of a turn's time).

Rasa 3.6 parses a message inside ``MessageProcessor.parse_message`` on the event loop: during those
~30 ms of CPU no other conversation's action call, tracker write or answer moves. This replaces
that method (Rasa 3.6.21 is frozen, so its body is stable) with one that runs the same graph in ONE
worker thread: parses stay one at a time (the NLU components are not made for concurrent use) while
the loop goes on with the other turns' I/O. The policies still run on the loop, on other
components of the graph. ``GIDS_NLU_THREAD=0`` keeps Rasa's own behaviour (for measuring).

Installed by bot.core.channel, which Rasa imports before it serves (credentials-core.yml)."""
from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Optional

logger = logging.getLogger(__name__)

_executor: Optional[ThreadPoolExecutor] = None


def enabled(environ=os.environ) -> bool:
    return (environ.get("GIDS_NLU_THREAD") or "1").strip() not in ("0", "false", "no", "off")


def install() -> bool:
    """Patches MessageProcessor once; False when switched off or already done."""
    from rasa.core.processor import MessageProcessor
    from rasa.shared.core.trackers import DialogueStateTracker

    if not enabled() or getattr(MessageProcessor, "_gids_nlu_thread", False):
        return False

    async def parse_message(self: Any, message: Any, tracker: Optional[Any] = None,
                            only_output_properties: bool = True) -> Dict[str, Any]:
        global _executor
        if self.http_interpreter:
            parse_data = await self.http_interpreter.parse(message)
        else:
            if tracker is None:
                tracker = DialogueStateTracker.from_events(message.sender_id, [])
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gids-nlu")
            parse_data = await asyncio.get_running_loop().run_in_executor(
                _executor, self._parse_message_with_graph, message, tracker, only_output_properties)
        self._update_full_retrieval_intent(parse_data)
        self._check_for_unseen_features(parse_data)
        return parse_data

    MessageProcessor.parse_message = parse_message
    MessageProcessor._gids_nlu_thread = True
    logger.info("the NLU runs in a worker thread (GIDS_NLU_THREAD=0 to switch off)")
    return True
