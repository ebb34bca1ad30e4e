"""The core replicas' shared lock store (bot.core.lock_store) on the real Redis: several replicas
(here: several store instances on threads, each with its own connection) issuing and returning
tickets for one conversation at the same time never lose a ticket, never hand out one number
twice, and never let two turns of one conversation run at once (rasa#9213)."""
from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from tests.conftest import require_service

REPLICAS, ROUNDS = 4, 150


@pytest.fixture
def stores():
    require_service("Redis", 6379)
    from bot.core.lock_store import AtomicRedisLockStore

    prefix = "t" + uuid.uuid4().hex[:10]
    made = [AtomicRedisLockStore(host="127.0.0.1", port=6379, db=4, key_prefix=prefix) for _ in range(REPLICAS)]
    yield made
    for key in made[0].red.scan_iter(made[0].key_prefix + "*"):
        made[0].red.delete(key)


def run_on_threads(work) -> list:
    errors: list = []

    def guarded(i):
        try:
            work(i)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(REPLICAS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def test_replicas_never_lose_or_share_a_ticket(stores):
    conversation = "web-race"
    problems: list = []

    def replica(i):
        store = stores[i]
        for _ in range(ROUNDS):
            ticket = store.issue_ticket(conversation)
            lock = store.get_lock(conversation)
            if lock is None or lock._ticket_for_ticket_number(ticket) is None:
                problems.append(f"replica {i}: ticket {ticket} lost right after it was issued")
            store.cleanup(conversation, ticket)

    assert run_on_threads(replica) == []
    assert problems == []
    assert stores[0].get_lock(conversation) is None  # everything returned, the lock is gone


def test_two_turns_of_one_conversation_never_run_at_once(stores):
    conversation = "wa-race"
    inside, most, done = [0], [0], []
    guard = threading.Lock()

    async def turns(store, i):
        for n in range(15):
            async with store.lock(conversation, lock_lifetime=30):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                await asyncio.sleep(0.002)
                with guard:
                    inside[0] -= 1
                    done.append((i, n))

    errors = run_on_threads(lambda i: asyncio.run(turns(stores[i], i)))
    assert errors == []
    assert most[0] == 1
    assert len(done) == REPLICAS * 15


def test_built_from_endpoints_yml_as_rasa_does(stores, tmp_path):
    from rasa.core.lock_store import LockStore
    from rasa.utils.endpoints import read_endpoint_config

    from bot.core.lock_store import POLL_SECONDS, AtomicRedisLockStore

    (tmp_path / "endpoints.yml").write_text(
        "lock_store:\n  type: bot.core.lock_store.AtomicRedisLockStore\n  url: 127.0.0.1\n  port: 6379\n"
        "  db: 4\n  key_prefix: gidstest\n")
    store = LockStore.create(read_endpoint_config(str(tmp_path / "endpoints.yml"), "lock_store"))
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix.startswith("gidstest:")
    assert store.red.ping()
    assert POLL_SECONDS < 1  # a waiting message is not held back a whole second
