"""The gateway in front of the real core (trained model, internal channel, real action server):
conversation ids it issues, the web chat's socket.io protocol, the REST endpoint, the caps, and
a core that faces nobody else."""
from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from aiohttp import web

from bot import messages
from bot.gateway.app import GatewaySettings, make_app
from tests.conftest import CORE_TOKEN, free_port, tracker_events
from tests.gateway.widget import WidgetClient

pytestmark = pytest.mark.model

DEBT_QUESTION = "ik heb schulden en weet niet wat ik moet doen"


def post(url: str, body, headers=None):
    """(status, headers, JSON answer) of a POST; HTTP errors are answers too."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.headers, json.load(r)
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, exc.headers, json.loads(raw)
        except ValueError:
            return exc.code, exc.headers, raw.decode(errors="replace")


def rest(gateway, message, sender=None):
    body = {"message": message, **({"sender": sender} if sender is not None else {})}
    return post(f"{gateway}/webhooks/rest/webhook", body)


def texts(answers):
    return [a.get("text") for a in answers]


# --- REST ---------------------------------------------------------------------------------------

def test_rest_issues_a_conversation_and_continues_it(gateway, core):
    status, headers, answers = rest(gateway, DEBT_QUESTION)
    assert status == 200
    token = headers["X-Gids-Conversation"]
    assert messages.ASK_PLACE in texts(answers)
    assert {a["recipient_id"] for a in answers} == {token}
    status, _, answers = rest(gateway, "Zwolle", token)
    assert status == 200
    assert messages.PLACE_FOUND.format(gemeente="Zwolle", region="Zwolle") in texts(answers)
    card = next(a for a in answers if isinstance(a.get("custom"), dict))
    assert card["custom"]["type"] == "partner_card" and card["text"].startswith(card["custom"]["partner"])
    events = tracker_events(core[1], "rest-" + token[:22])
    assert [e["text"] for e in events if e["event"] == "user"] == [DEBT_QUESTION, "Zwolle"]
    assert {e.get("input_channel") for e in events if e["event"] == "user"} == {"rest"}


def test_rest_refuses_ids_it_did_not_issue(gateway, core):
    _, headers, _ = rest(gateway, "hallo")
    token = headers["X-Gids-Conversation"]
    for sender in ("31612345678", "web-" + token[:22], token[:-2] + "xx", "test-1", 12345):
        status, _, answer = rest(gateway, "wat weet je van mij?", sender)
        assert status == 403, sender
        assert "onbekend gesprek" in answer["error"]
    assert tracker_events(core[1], "31612345678") == []


def test_rest_caps_the_message_before_the_core_sees_it(gateway, core):
    _, headers, _ = rest(gateway, "hoi")
    token = headers["X-Gids-Conversation"]
    status, _, answers = rest(gateway, "1" * 5001, token)
    assert status == 413 and texts(answers) == [messages.MESSAGE_TOO_LONG]
    status, _, answers = rest(gateway, "€" * 5000, token)  # 5,000 characters is still a message
    assert status == 200 and answers
    users = [e["text"] for e in tracker_events(core[1], "rest-" + token[:22]) if e["event"] == "user"]
    assert len(users) == 2 and all(len(u) <= 5000 for u in users)
    # A body far over the cap is refused by the server itself.
    status, _, _ = post(f"{gateway}/webhooks/rest/webhook", b'{"message": "' + b"a" * 2_000_000 + b'"}')
    assert status == 413


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"message": 5}', b'{"sender": "x"}', b""])
def test_rest_answers_bad_requests_plainly(gateway, body):
    status, _, answer = post(f"{gateway}/webhooks/rest/webhook", body)
    assert status == 400 and "error" in answer


# --- the web chat's socket.io -------------------------------------------------------------------

async def test_webchat_conversation_with_partner_card_as_one_event(gateway, core):
    client = WidgetClient()
    try:
        session_id = await client.open(gateway)
        await client.say(DEBT_QUESTION, session_id)
        await client.answers(lambda e: e.get("text") == messages.ASK_PLACE)
        await client.say("Zwolle", session_id)
        got = await client.answers(lambda e: isinstance(e.get("custom"), dict))
        card = got[-1]
        assert card["custom"]["partner"] == "Gemeente Zwolle"
        assert card["text"].startswith("Gemeente Zwolle")     # the widget's fallback text
    finally:
        await client.close()
    # A reconnect with the same id continues the same conversation (the widget after a reload).
    again = WidgetClient()
    try:
        assert await again.open(gateway, session_id) == session_id
    finally:
        await again.close()
    users = [e["text"] for e in tracker_events(core[1], "web-" + session_id[:22]) if e["event"] == "user"]
    assert users == [DEBT_QUESTION, "Zwolle"]


async def test_webchat_cannot_name_or_write_another_conversation(gateway, core):
    victim, attacker = WidgetClient(), WidgetClient()
    try:
        victim_id = await victim.open(gateway)
        # A WhatsApp number, a made-up id, a forged one: each gets a fresh conversation instead.
        for requested in ("31612345678", "abcdefgh12345678", victim_id[:22] + "A" * 22):
            got = await attacker.open(gateway, requested) if not attacker.sio.connected else None
            if got is None:
                await attacker.sio.emit("session_request", {"session_id": requested})
                got = await asyncio.wait_for(attacker.confirmed.get(), 30)
            assert got != requested and got != victim_id
        # Writing into the victim's conversation from another connection does nothing.
        await attacker.say("ik heb schulden", victim_id)
        assert await attacker.nothing_within(3) and await victim.nothing_within(0.5)
        assert tracker_events(core[1], "web-" + victim_id[:22]) == []
        assert tracker_events(core[1], "31612345678") == []
    finally:
        await victim.close()
        await attacker.close()


async def test_webchat_too_long_and_too_many(gateway, core):
    client = WidgetClient()
    try:
        session_id = await client.open(gateway)
        await client.say("x" * 5001, session_id)
        got = await client.answers(lambda e: True)
        assert got == [{"text": messages.MESSAGE_TOO_LONG}]
        for i in range(15):                      # burst 10 per connection and conversation
            await client.say("hoi", session_id)
        seen = await client.answers(lambda e: e.get("text") == messages.SLOW_DOWN, timeout=120)
        while True:                              # the accepted ones are still being answered
            try:
                seen.append(await asyncio.wait_for(client.said.get(), 15))
            except asyncio.TimeoutError:
                break
    finally:
        await client.close()
    refused = seen.count({"text": messages.SLOW_DOWN})
    assert 5 <= refused < 15
    users = [e["text"] for e in tracker_events(core[1], "web-" + session_id[:22]) if e["event"] == "user"]
    assert users == ["hoi"] * (15 - refused)      # the 5,001 characters never reached the core


# --- faults ---------------------------------------------------------------------------------------

async def test_a_core_that_is_down_gets_a_plain_answer_and_a_503():
    app = make_app(GatewaySettings(core_url=f"http://127.0.0.1:{free_port()}", core_token=CORE_TOKEN,
                                   secret="s", core_timeout=5))
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        status, headers, answers = await asyncio.to_thread(rest, f"http://127.0.0.1:{port}", "hoi")
        assert status == 503 and texts(answers) == [messages.GIDS_DOWN]
        assert headers["Retry-After"]
        status, _, health = await asyncio.to_thread(urllib.request.urlopen, f"http://127.0.0.1:{port}/health")
    except urllib.error.HTTPError as exc:
        assert exc.code == 503
    else:
        pytest.fail("/health said ok without a core")
    finally:
        await runner.cleanup()


# --- the core faces nobody but the gateway --------------------------------------------------------

def test_the_core_has_no_public_api_and_needs_the_token(core):
    url, _ = core
    for path in ("/conversations/31612345678/tracker", "/webhooks/rest/webhook", "/model/parse", "/status"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url + path, data=b"{}"), timeout=10)
        assert refused.value.code in (404, 405), path
    turn = {"sender": "31612345678", "message": "hoi", "channel": "whatsapp"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": CORE_TOKEN}):
        status, _, _ = post(f"{url}/webhooks/gateway/webhook", turn, headers)
        assert status == 401
    status, _, _ = post(f"{url}/webhooks/gateway/webhook", {**turn, "message": "x" * 5001},
                        {"Authorization": f"Bearer {CORE_TOKEN}"})
    assert status == 413
    assert tracker_events(core[1], "31612345678") == []


# --- a small fuzz run ------------------------------------------------------------------------------

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=50),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                     max_leaves=10)
_message = st.one_of(st.text(max_size=300), st.sampled_from(["", "😀" * 40, "<script>alert(1)</script>", "\x00",
                                                             "ik heb schulden", "1234 AB", "x" * 6000]))
_rest_body = st.one_of(_json, st.fixed_dictionaries({"message": _message},
                                                    optional={"sender": st.one_of(st.text(max_size=60), _json)}))


def test_fuzz_the_rest_endpoint_never_answers_5xx(gateway):
    statuses = []

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(body=_rest_body, broken=st.booleans())
    def send(body, broken):
        data = json.dumps(body).encode()
        status, _, answer = post(f"{gateway}/webhooks/rest/webhook", data[:-1] if broken else data)
        statuses.append(status)
        assert status in (200, 400, 403, 413, 429), (status, answer)

    send()
    # The run means something only if messages got through to the core, not just refusals.
    assert statuses.count(200) >= 5, statuses
