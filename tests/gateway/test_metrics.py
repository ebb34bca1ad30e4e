"""The gateway's /metrics: real REST turns against a core stand-in are counted by channel and
outcome, with latency and fallbacks; only allowed, unproxied clients may read it; it holds no
conversation id and no text. The fallback texts it recognises are the ones in domain.yml."""
from __future__ import annotations

from pathlib import Path

import asyncio

import pytest
import socketio
import yaml
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.gateway.app import GatewaySettings, make_app
from bot.metrics import FALLBACK_TEXTS, may_read_metrics, parse_allow
from tests.gateway.standin import StandIn

ROOT = Path(__file__).resolve().parents[2]
CLARIFY = next(t for t, stage in FALLBACK_TEXTS.items() if stage == "clarify")
OFFER = next(t for t, stage in FALLBACK_TEXTS.items() if stage == "offer_contact")
# What people type here, and a place: none of it may show up in /metrics.
UNCLEAR = "qwrtzp Harderwijk"
QUESTION = "ik heb schulden in Zwolle"


def answer(message: str):
    if message == UNCLEAR:
        return [{"text": CLARIFY, "buttons": [{"title": "Schulden", "payload": "/ask_debt_help"}]}]
    if message == UNCLEAR + " weer":
        return [{"text": OFFER}]
    return [{"text": f"Hulp bij schulden: {message}"}]


def samples(text: str) -> dict:
    """{(name, ((label, value), ...)): value} of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


@pytest.fixture
async def gateway():
    core = StandIn("core", answer=answer)
    await core.start()
    app = make_app(GatewaySettings(core_url=core.url, core_token="t", secret="s", core_timeout=5))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client, core
    finally:
        await client.close()
        await core.stop()


async def rest(client, message, sender=None):
    body = {"message": message, **({"sender": sender} if sender is not None else {})}
    resp = await client.post("/webhooks/rest/webhook", json=body)
    return resp.status, resp.headers.get("X-Gids-Conversation"), await resp.json()


async def test_metrics_count_real_rest_turns_and_hold_no_personal_data(gateway):
    client, core = gateway
    status, token, _ = await rest(client, QUESTION)
    assert status == 200 and token
    assert (await rest(client, UNCLEAR, token))[0] == 200
    assert (await rest(client, UNCLEAR + " weer", token))[0] == 200
    assert (await rest(client, "x" * 5001, token))[0] == 413
    assert (await rest(client, "hallo", "rest-not-issued-by-us"))[0] == 403
    assert core.turns == [QUESTION, UNCLEAR, UNCLEAR + " weer"]  # refused ones never reached it

    resp = await client.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    body = await resp.text()
    got = samples(body)
    turns = lambda outcome: got[("gids_gateway_turns_total", (("channel", "rest"), ("outcome", outcome)))]  # noqa: E731
    assert (turns("ok"), turns("too_long"), turns("refused_id"), turns("core_unavailable")) == (3, 1, 1, 0)
    assert got[("gids_gateway_turn_seconds_count", (("channel", "rest"),))] == 3
    assert got[("gids_gateway_turn_seconds_sum", (("channel", "rest"),))] > 0
    assert got[("gids_gateway_fallbacks_total", (("channel", "rest"), ("stage", "clarify")))] == 1
    assert got[("gids_gateway_fallbacks_total", (("channel", "rest"), ("stage", "offer_contact")))] == 1
    assert got[("gids_gateway_fallbacks_total", (("channel", "socketio"), ("stage", "clarify")))] == 0
    assert got[("gids_gateway_cores_ready", ())] == 1 and got[("gids_gateway_core_replicas", ())] == 1

    # No conversation id, no text, no place, no core address.
    for secret in (token, QUESTION, UNCLEAR, "Zwolle", "Harderwijk", "schulden", "rest-not-issued", core.url,
                   str(core.port)):
        assert secret not in body, secret


async def test_rate_limited_turns_and_a_core_that_is_gone_are_counted(gateway):
    client, core = gateway
    _, token, _ = await rest(client, "een")
    statuses = [(await rest(client, f"nog {i}", token))[0] for i in range(12)]
    assert 429 in statuses  # ten at once per conversation
    await core.stop()
    assert (await rest(client, "twee"))[0] == 503
    got = samples(await (await client.get("/metrics")).text())
    rest_turns = {dict(labels)["outcome"]: value for (name, labels), value in got.items()
                  if name == "gids_gateway_turns_total" and dict(labels)["channel"] == "rest"}
    assert rest_turns["rate_limited"] == statuses.count(429)
    assert rest_turns["ok"] == 1 + statuses.count(200)
    assert rest_turns["core_unavailable"] == 1
    assert got[("gids_gateway_cores_ready", ())] == 0
    await core.start()  # the fixture stops it again


async def test_web_chat_turns_and_fallbacks_are_counted_under_their_channel(gateway):
    client, _ = gateway
    said: asyncio.Queue = asyncio.Queue()
    confirmed: asyncio.Queue = asyncio.Queue()
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("session_confirm", confirmed.put_nowait)
    sio.on("bot_uttered", said.put_nowait)
    await sio.connect(str(client.make_url("/")), socketio_path="socket.io", transports=["websocket"])
    try:
        await sio.emit("session_request", {"session_id": None})
        token = await asyncio.wait_for(confirmed.get(), 30)
        await sio.emit("user_uttered", {"message": UNCLEAR, "session_id": token})
        assert (await asyncio.wait_for(said.get(), 30))["text"] == CLARIFY
        await sio.emit("user_uttered", {"message": "x" * 5001, "session_id": token})
        await asyncio.wait_for(said.get(), 30)
    finally:
        await sio.disconnect()
    body = await (await client.get("/metrics")).text()
    got = samples(body)
    assert got[("gids_gateway_turns_total", (("channel", "socketio"), ("outcome", "ok")))] == 1
    assert got[("gids_gateway_turns_total", (("channel", "socketio"), ("outcome", "too_long")))] == 1
    assert got[("gids_gateway_fallbacks_total", (("channel", "socketio"), ("stage", "clarify")))] == 1
    assert got[("gids_gateway_turns_total", (("channel", "rest"), ("outcome", "ok")))] == 0
    assert token not in body and "Harderwijk" not in body


async def test_metrics_refuse_clients_outside_the_allowed_networks(gateway, monkeypatch):
    client, _ = gateway
    # Through a proxy (even one on this machine): refused, whoever the proxy says the client is.
    for header in ({"X-Forwarded-For": "127.0.0.1"}, {"Forwarded": "for=127.0.0.1"}, {"X-Real-IP": "127.0.0.1"}):
        assert (await client.get("/metrics", headers=header)).status == 403
    # /health stays open to everyone.
    assert (await client.get("/health", headers={"X-Forwarded-For": "203.0.113.9"})).status == 200

    # A gateway that allows only the docker network: a loopback client is refused.
    monkeypatch.setenv("GIDS_METRICS_ALLOW", "172.18.0.0/16")
    monkeypatch.setenv("GIDS_CORE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("GIDS_GATEWAY_SECRET", "s")
    monkeypatch.setenv("GIDS_CORE_TOKEN", "t")
    other = TestClient(TestServer(make_app(GatewaySettings.from_env()), host="127.0.0.1"))
    await other.start_server()
    try:
        resp = await other.get("/metrics")
        assert resp.status == 403 and "gids_" not in await resp.text()
    finally:
        await other.close()


def test_the_allowed_networks_are_parsed_and_matched():
    class Request:
        def __init__(self, remote, headers=None):
            self.remote, self.headers = remote, headers or {}

    loopback = parse_allow("")
    assert may_read_metrics(Request("127.0.0.1"), loopback) and may_read_metrics(Request("::1"), loopback)
    assert not may_read_metrics(Request("10.0.0.5"), loopback)
    assert not may_read_metrics(Request(None), loopback)
    docker = parse_allow("172.18.0.0/16, 10.1.2.3")
    assert may_read_metrics(Request("172.18.0.7"), docker) and may_read_metrics(Request("10.1.2.3"), docker)
    assert may_read_metrics(Request("::ffff:172.18.0.7"), docker)
    assert not may_read_metrics(Request("127.0.0.1"), docker)
    assert not may_read_metrics(Request("172.18.0.7", {"X-Forwarded-For": "172.18.0.7"}), docker)
    with pytest.raises(ValueError, match="GIDS_METRICS_ALLOW"):
        parse_allow("172.18.0.0/33")


def test_the_fallback_texts_are_the_domain_responses():
    responses = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]
    assert {responses["utter_clarify"][0]["text"]: "clarify",
            responses["utter_offer_contact"][0]["text"]: "offer_contact"} == FALLBACK_TEXTS
