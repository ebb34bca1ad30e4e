"""Conversation ids the gateway signs, and the limits it puts in front of the core."""
from __future__ import annotations

import asyncio
import re

from bot.gateway.ids import ConversationIds
from bot.gateway.limits import KeyedLocks, RateLimiter

WIDGET_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")  # widget.js SESSION_ID


def test_an_issued_id_names_one_conversation_of_its_own_channel():
    ids = ConversationIds("secret")
    token = ids.issue("socketio")
    assert WIDGET_SESSION_ID.fullmatch(token)
    sender = ids.sender("socketio", token)
    assert sender == "web-" + token[:22]
    assert ids.sender("socketio", token) == sender          # stable
    assert ids.sender("rest", token) is None                 # another channel refuses it
    assert ConversationIds("other secret").sender("socketio", token) is None
    assert ids.issue("socketio") != token


def test_ids_the_gateway_did_not_issue_are_refused():
    ids = ConversationIds("secret")
    token = ids.issue("rest")
    forged = token[:22] + ("A" if token[22] != "A" else "B") + token[23:]
    for candidate in (forged, "31612345678", "web-" + token[:22], token + "x", token[:-1], "", None, 42,
                      {"session_id": token}, "a" * 5_000_000):
        assert ids.sender("rest", candidate) is None, candidate
    # Whatever a client sends, the core's sender id never looks like a WhatsApp number.
    assert not ids.sender("rest", token).isdigit()


def test_rate_limiter_allows_a_burst_then_the_rate():
    now = [0.0]
    limiter = RateLimiter(burst=3, per_minute=6, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")                    # per key
    now[0] += 9.9
    assert not limiter.allow("a")                # 6 per minute: one every 10 s
    now[0] += 0.2
    assert limiter.allow("a") and not limiter.allow("a")


def test_rate_limiter_memory_is_bounded():
    limiter = RateLimiter(burst=1, per_minute=1, max_keys=100)
    for i in range(1000):
        limiter.allow(f"k{i}")
    assert len(limiter._buckets) == 100


async def test_keyed_locks_keep_the_order_of_one_conversation_and_forget_idle_keys():
    locks, seen = KeyedLocks(), []

    async def turn(key, n, delay):
        async with locks.hold(key):
            await asyncio.sleep(delay)
            seen.append((key, n))

    await asyncio.gather(turn("a", 1, 0.05), turn("a", 2, 0.0), turn("b", 1, 0.0), turn("a", 3, 0.0))
    assert [n for k, n in seen if k == "a"] == [1, 2, 3]
    assert seen.index(("b", 1)) < seen.index(("a", 1))   # another conversation does not wait
    assert len(locks) == 0


def test_the_rest_rate_per_client_is_a_setting():
    from bot.gateway.app import GatewaySettings, make_app

    default = make_app(GatewaySettings(secret="s"))["rest"].per_client
    assert (default.burst, round(default.rate * 60)) == (20, 60)
    settings = GatewaySettings.from_env({"GIDS_REST_RATE_PER_MINUTE": "600", "GIDS_GATEWAY_SECRET": "s"})
    raised = make_app(settings)["rest"].per_client
    assert (raised.burst, round(raised.rate * 60)) == (200, 600)
    assert sum(raised.allow("127.0.0.1") for _ in range(250)) == 200
