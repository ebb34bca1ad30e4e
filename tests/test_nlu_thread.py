"""bot.core.nlu_thread: the core classifies a message in one worker thread, with the same result,
while its event loop keeps running (the trained model, in process)."""
from __future__ import annotations

import asyncio
import threading

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

from bot.core import nlu_thread

pytestmark = pytest.mark.model

MESSAGES = ["ik heb schulden", "ik zoek werk in Zwolle", "ik wil beter Nederlands leren", "hoi"] * 3


@pytest.fixture
def patched(monkeypatch):
    # Undone afterwards: the other tests of the session use Rasa's own method.
    monkeypatch.setattr(MessageProcessor, "parse_message", MessageProcessor.parse_message)
    monkeypatch.setattr(MessageProcessor, "_gids_nlu_thread", False, raising=False)
    monkeypatch.setenv("GIDS_NLU_THREAD", "1")
    threads = []
    original = MessageProcessor._parse_message_with_graph

    def recording(self, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MessageProcessor, "_parse_message_with_graph", recording)
    return threads


async def parse_all(agent):
    return [await agent.processor.parse_message(UserMessage(text, sender_id="t")) for text in MESSAGES]


async def test_the_same_parse_in_the_worker_thread_while_the_loop_runs(agent, patched, monkeypatch):
    before = await parse_all(agent)
    assert set(patched) == {threading.current_thread().name}   # Rasa's own: on the loop's thread
    patched.clear()
    assert nlu_thread.install() and not nlu_thread.install()   # once
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    after = await parse_all(agent)
    task.cancel()
    assert {p["intent"]["name"] for p in after} and \
        [p["intent"]["name"] for p in after] == [p["intent"]["name"] for p in before]
    assert [p["intent"]["confidence"] for p in after] == pytest.approx([p["intent"]["confidence"] for p in before])
    assert set(patched) == {"gids-nlu_0"}
    assert ticks >= len(MESSAGES)  # the loop kept running during the parses


def test_switched_off_with_gids_nlu_thread_0(patched, monkeypatch):
    monkeypatch.setenv("GIDS_NLU_THREAD", "0")
    assert not nlu_thread.install()
