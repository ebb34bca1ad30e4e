"""Several core replicas behind one gateway (GIDS_CORE_URL with a comma-separated list).

The unit part uses stand-in cores (aiohttp servers of our own) to pin down the rules: a
conversation keeps its replica, a refused connection moves the turn to the next replica, and an
error answer is never retried elsewhere (the first replica may have handled the message). The
end-to-end part runs two real cores (trained model) on one PostgreSQL tracker store and one Redis
lock store with the real action server, and stops the replica a conversation is on halfway."""
from __future__ import annotations

import asyncio
import json
from contextlib import ExitStack

import pytest

from bot import messages
from bot.gateway.core import CoreClient, CoreUnavailable, core_urls
from tests.conftest import (ACTION_TOKEN, CORE_BIN, CORE_TOKEN, ROOT, SVC_BIN, drop_database, free_port,
                            new_database, require_tool, running, wait_for_port)
from tests.gateway.standin import StandIn


def test_core_urls_are_split_and_deduplicated():
    assert core_urls("http://a:1/, http://b:2,,http://a:1") == ["http://a:1", "http://b:2"]
    assert core_urls(["http://a:1"]) == ["http://a:1"]
    with pytest.raises(ValueError):
        core_urls(" , ")


def test_a_conversation_keeps_its_replica_and_conversations_spread():
    client = CoreClient("http://a:1,http://b:2,http://c:3", "t")
    firsts = {client.replicas_for(f"web-{i}")[0] for i in range(200)}
    assert firsts == set(client.urls)  # every replica gets conversations
    for i in range(50):
        order = client.replicas_for(f"web-{i}")
        assert sorted(order) == sorted(client.urls)
        assert client.replicas_for(f"web-{i}") == order  # stable
    # Removing a replica moves only the conversations that were on it.
    smaller = CoreClient("http://a:1,http://b:2", "t")
    for i in range(200):
        first = client.replicas_for(f"web-{i}")[0]
        if first != "http://c:3":
            assert smaller.replicas_for(f"web-{i}")[0] == first


async def test_a_refused_connection_moves_the_turn_to_the_next_replica():
    a, b = StandIn("a"), StandIn("b")
    await a.start()
    await b.start()
    client = CoreClient([a.url, b.url], "t", timeout_seconds=5)
    try:
        sender = next(f"web-{i}" for i in range(100) if client.replicas_for(f"web-{i}")[0] == a.url)
        assert (await client.turn(sender, "een", "rest"))[0]["text"] == "a: een"
        await a.stop()
        assert (await client.turn(sender, "twee", "rest"))[0]["text"] == "b: twee"
        assert await client.readiness() == {"replicas": 2, "ready": 1}
        # The dead replica is tried last for a while: the next turn does not wait for it.
        assert client.replicas_for(sender)[0] == b.url
        assert (a.turns, b.turns) == (["een"], ["twee"])
        await b.stop()
        with pytest.raises(CoreUnavailable, match="no core replica"):
            await client.turn(sender, "drie", "rest")
        assert not await client.ready()
    finally:
        await client.close()


async def test_an_error_answer_is_not_retried_on_another_replica():
    a, b = StandIn("a", status=500), StandIn("b")
    await a.start()
    await b.start()
    client = CoreClient([a.url, b.url], "t", timeout_seconds=5)
    try:
        sender = next(f"web-{i}" for i in range(100) if client.replicas_for(f"web-{i}")[0] == a.url)
        with pytest.raises(CoreUnavailable, match="answered 500"):
            await client.turn(sender, "een", "rest")
        assert (a.turns, b.turns) == (["een"], [])  # handled at most once
    finally:
        await client.close()
        await a.stop()
        await b.stop()


# --- two real cores -----------------------------------------------------------------------------

def pg_events(url: str, sender: str) -> list:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"), {"s": sender})
            return [json.loads(data) for (data,) in rows]
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def two_cores(model_path, action_server, tmp_path_factory):
    """Two `rasa run` replicas on one PostgreSQL tracker store and one Redis lock store, and a
    gateway in front of both, and one gateway in front of each replica alone (the same secret, as
    replicas of the gateway behind a load balancer). Yields a dict."""
    import yaml

    # A Redis of the test's own (the machine's Redis is shared), so a test can restart it.
    redis_server = require_tool("redis-server")
    redis_port = free_port()
    redis_argv = [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    tracker_url, cleanup = new_database("postgresql", tmp_path_factory)
    database = tracker_url.rsplit("/", 1)[1]
    work = tmp_path_factory.mktemp("replicas")
    (work / "endpoints.yml").write_text(yaml.safe_dump({
        "action_endpoint": {"url": action_server, "headers": {"Authorization": f"Bearer {ACTION_TOKEN}"}},
        "tracker_store": {"type": "bot.privacy.tracker_store.RedactingSQLTrackerStore", "dialect": "postgresql",
                          "url": "127.0.0.1", "port": 5432, "db": database, "username": "postgres"},
        "lock_store": {"type": "bot.core.lock_store.AtomicRedisLockStore", "url": "127.0.0.1", "port": redis_port,
                       "db": 0}}))
    ports = [free_port(), free_port()]
    with ExitStack() as stack:
        redis = {"proc": stack.enter_context(running(redis_argv, redis_port, {}, "test-replica-redis.log"))}

        def restart_redis() -> None:
            redis["proc"].terminate()
            redis["proc"].wait(30)
            redis["proc"] = stack.enter_context(running(redis_argv, redis_port, {}, "test-replica-redis.log"))

        cores = [stack.enter_context(running(
            [CORE_BIN / "rasa", "run", "--model", model_path, "--endpoints", work / "endpoints.yml",
             "--credentials", ROOT / "credentials.yml", "--interface", "127.0.0.1", "--port", port],
            port, {"GIDS_CORE_TOKEN": CORE_TOKEN, "TF_CPP_MIN_LOG_LEVEL": "3"}, f"test-replica-{i}.log",
            wait=False)) for i, port in enumerate(ports)]
        for port, proc in zip(ports, cores):  # both load their model at the same time
            wait_for_port(port, 400, proc)
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        gateways = []
        for name, core_url in (("both", ",".join(urls)), ("a", urls[0]), ("b", urls[1])):
            gateway_port = free_port()
            stack.enter_context(running(
                [SVC_BIN / "gids", "gateway", "--port", gateway_port], gateway_port,
                {"GIDS_CORE_URL": core_url, "GIDS_CORE_TOKEN": CORE_TOKEN,
                 "GIDS_GATEWAY_SECRET": "test-replica-secret"}, f"test-replica-gateway-{name}.log"))
            gateways.append(f"http://127.0.0.1:{gateway_port}")
        yield {"gateway": gateways[0], "gateway_a": gateways[1], "gateway_b": gateways[2],
               "urls": urls, "cores": cores, "tracker_url": tracker_url, "restart_redis": restart_redis}
    drop_database(cleanup)


@pytest.mark.model
def test_one_conversation_through_two_gateways_and_two_replicas_at_once(two_cores):
    """A person's messages arrive at the same moment at two gateways, each in front of another
    replica: both replicas work on one conversation. Every message is handled once, and one turn
    is finished before the next begins."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.gateway.test_gateway import rest

    status, headers, _ = rest(two_cores["gateway_a"], "hoi")
    assert status == 200
    token = headers["X-Gids-Conversation"]
    pairs = [("hallo", "goedemorgen"), ("dank je", "bedankt"), ("hoi daar", "goedemiddag"), ("top, dank", "dankjewel")]
    with ThreadPoolExecutor(2) as pool:
        for a_text, b_text in pairs:
            answers = list(pool.map(lambda gw_text: rest(gw_text[0], gw_text[1], token),
                                    ((two_cores["gateway_a"], a_text), (two_cores["gateway_b"], b_text))))
            assert [status for status, _, _ in answers] == [200, 200]
            assert all(body for _, _, body in answers)  # each got its own answer

    events = pg_events(two_cores["tracker_url"], "rest-" + token[:22])
    users = [e["text"] for e in events if e["event"] == "user"]
    sent = ["hoi"] + [t for pair in pairs for t in pair]
    assert sorted(users) == sorted(sent) and users[0] == "hoi"
    # Between two messages the previous turn ended (the core listened again): no interleaving.
    kinds = [("user" if e["event"] == "user" else "listen" if e.get("name") == "action_listen" else None)
             for e in events]
    kinds = [k for k in kinds if k]
    assert all(kinds[i + 1] == "listen" for i, k in enumerate(kinds) if k == "user" and i + 1 < len(kinds)), kinds


@pytest.mark.model
def test_a_restart_of_redis_costs_at_most_one_retried_turn(two_cores):
    """Redis (the lock store) restarts between two turns and keeps nothing: the conversation goes
    on from the tracker store; the first turn after the restart may fail once (the replicas'
    connections to Redis are broken) and then succeeds when the person sends it again."""
    from tests.gateway.test_gateway import DEBT_QUESTION, rest, texts

    gateway = two_cores["gateway"]
    status, headers, answers = rest(gateway, DEBT_QUESTION)
    assert status == 200 and messages.ASK_PLACE in texts(answers)
    token = headers["X-Gids-Conversation"]
    two_cores["restart_redis"]()
    status, _, answers = rest(gateway, "Zwolle", token)
    retried = status != 200
    if retried:
        assert status == 503 and texts(answers) == [messages.GIDS_DOWN]
        status, _, answers = rest(gateway, "Zwolle", token)
    assert status == 200
    assert messages.PLACE_FOUND.format(gemeente="Zwolle", region="Zwolle") in texts(answers)
    users = [e["text"] for e in pg_events(two_cores["tracker_url"], "rest-" + token[:22]) if e["event"] == "user"]
    # A failed try never reached the conversation (the lock comes before the tracker).
    assert users == [DEBT_QUESTION, "Zwolle"]


@pytest.mark.model
def test_stopping_the_replica_a_conversation_is_on_loses_nothing(two_cores):
    from tests.gateway.test_gateway import DEBT_QUESTION, rest, texts

    gateway, urls, cores, tracker_url = (two_cores[k] for k in ("gateway", "urls", "cores", "tracker_url"))
    status, headers, answers = rest(gateway, DEBT_QUESTION)
    assert status == 200 and messages.ASK_PLACE in texts(answers)
    token = headers["X-Gids-Conversation"]
    sender = "rest-" + token[:22]
    first = CoreClient(urls, CORE_TOKEN).replicas_for(sender)[0]

    # The replica that held the conversation stops between two turns; the other one goes on
    # where it was (it asked for the place), from the shared tracker store.
    proc = cores[urls.index(first)]
    proc.terminate()
    proc.wait(timeout=60)
    status, _, answers = rest(gateway, "Zwolle", token)
    assert status == 200
    assert messages.PLACE_FOUND.format(gemeente="Zwolle", region="Zwolle") in texts(answers)
    assert any(isinstance(a.get("custom"), dict) and a["custom"].get("type") == "partner_card" for a in answers)

    status, _, health = asyncio.run(_get_json(gateway + "/health"))
    assert (status, health["cores"]) == (200, {"replicas": 2, "ready": 1})

    # Each message is in the conversation once, in order.
    events = pg_events(tracker_url, sender)
    assert [e["text"] for e in events if e["event"] == "user"] == [DEBT_QUESTION, "Zwolle"]


async def _get_json(url: str):
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, resp.headers, await resp.json()
