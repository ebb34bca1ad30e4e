"""Issue 13: a BSN typed at "Op welk nummer kunnen ze je bellen?" was stored in the clear. Rasa's form
puts the raw answer in contact_value before validate_handover_form checks it, and the tracker
store kept every value the contact slots ever had. Now only what the validation accepted (its
SlotSet carries ACCEPTED_MARK) is kept; everything else typed at the prompts is redacted.

End to end: the trained model in process with RedactingSQLTrackerStore on an SQLite file, the
real action server, and the Rasa server's logs as ``rasa run`` writes them (structlog through
the logging module, at DEBUG). Every stored byte is searched afterwards."""
from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot import config, messages
from bot.handover.contact import ACCEPTED_MARK
from tests.conftest import ROOT, action_endpoint

DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())

BSN = "123456782"
IBAN = "NL91ABNA0417164300"
ADDRESS = "Pimpernelstraat 37"
PHONE, PHONE_E164 = "06 24681357", "+31624681357"


def bsn_forms(digits: str = BSN):
    threes = [digits[:3], digits[3:6], digits[6:]]
    return [digits, *(sep.join(threes) for sep in ".- "), f"{digits[:4]}.{digits[4:6]}.{digits[6:]}"]


def iban_forms(iban: str = IBAN):
    spaced = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
    return [iban, spaced, iban[8:], spaced[10:]]


SECRETS = bsn_forms() + iban_forms() + [ADDRESS, ADDRESS.replace(" ", "")]


def leaks(data: bytes, secrets=SECRETS) -> list:
    low = data.lower()
    return [s for s in secrets if s.lower().encode() in low]


def file_bytes(path: Path) -> bytes:
    """A database file with its journal or WAL, if there is one."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


# --- the validation action marks what it accepted ------------------------------------------------

def _form_tracker(slot: str, answer: str, slots: dict) -> Tracker:
    latest = {"text": answer, "intent": {"name": "inform", "confidence": 1.0}, "entities": []}
    events = [{"event": "user", "text": answer, "parse_data": latest}, {"event": "slot", "name": slot, "value": answer}]
    return Tracker(sender_id="conv-1", slots={"handover_reason": "routing", "requested_slot": slot, **slots,
                                              slot: answer},
                   latest_message=latest, events=events, paused=False, followup_action=None,
                   active_loop={"name": "handover_form"}, latest_action_name="action_listen")


@pytest.mark.parametrize("slot,answer,slots,value,marked", [
    ("contact_value", BSN, {"contact_method": "phone"}, None, False),
    ("contact_value", PHONE, {"contact_method": "phone"}, PHONE_E164, True),
    ("contact_value", "Jan@Example.nl", {"contact_method": "email"}, "Jan@example.nl", True),
    ("contact_value", PHONE, {"contact_method": "email"}, None, False),
    ("contact_name", f"Piet {BSN}", {}, None, False),
    ("contact_name", "ik heet sanne de boer", {}, "Sanne de Boer", True),
    ("contact_method", PHONE, {}, "phone", False),  # answers the number too: contact_value is marked
])
async def test_the_validation_marks_only_the_values_it_accepted(slot, answer, slots, value, marked):
    import actions.handover as ah

    events = await ah.ValidateHandoverForm().run(CollectingDispatcher(), _form_tracker(slot, answer, slots), DOMAIN)
    by_slot = {e["name"]: e for e in events if e["event"] == "slot" and e["name"] != "requested_slot"}
    assert by_slot[slot]["value"] == value
    assert bool((by_slot[slot].get("metadata") or {}).get(ACCEPTED_MARK)) is marked
    if slot == "contact_method":
        assert by_slot["contact_value"]["value"] == PHONE_E164
        assert by_slot["contact_value"]["metadata"] == {ACCEPTED_MARK: True}


# --- end to end -----------------------------------------------------------------------------------

@pytest.fixture
def structlog_like_rasa_run(monkeypatch):
    """Rasa's own log lines (structlog) go through the logging module, as ``rasa run`` sets it up;
    unconfigured, structlog prints to stdout, which no Rasa server does. Restored afterwards."""
    import structlog
    from rasa.utils.log_utils import configure_structlog

    was_configured, saved = structlog.is_configured(), structlog.get_config()
    monkeypatch.setattr(logging, "basicConfig", lambda **kwargs: None)  # pytest's handlers stay
    configure_structlog(logging.DEBUG)
    structlog.configure(cache_logger_on_first_use=False)  # no logger keeps this set-up
    yield
    if was_configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()


@pytest.fixture
def redacting_agent(model_path, action_server, tmp_path):
    """The trained model with the redacting tracker store on an SQLite file, as endpoints.yml has it."""
    from rasa.core.agent import Agent

    from bot.privacy.tracker_store import RedactingSQLTrackerStore

    path = tmp_path / "tracker.db"
    store = RedactingSQLTrackerStore(dialect="sqlite", db=str(path))
    agent = Agent.load(str(model_path), action_endpoint=action_endpoint(action_server), tracker_store=store)
    yield agent, store, path
    store.engine.dispose()


def handover_of(db_url: str, sender: str):
    from bot.db import make_engine, session_scope
    from bot.db.models import Handover

    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            [h] = s.scalars(select(Handover).where(Handover.conversation_id == sender)).all()
            return (h.contact_name, h.contact_method, h.contact_value, [(t.speaker, t.text) for t in h.transcript])
    finally:
        engine.dispose()


@pytest.mark.model
async def test_a_bsn_at_the_phone_prompt_is_stored_nowhere(redacting_agent, actions_db_url, structlog_like_rasa_run,
                                                           caplog, capfd):
    agent, store, tracker_db = redacting_agent
    actions_db = Path(actions_db_url.removeprefix("sqlite:///"))
    actions_log = ROOT / "var" / "test-actions.log"
    assert leaks(file_bytes(actions_db)) == []  # nobody before this test left them there
    caplog.set_level(logging.DEBUG)
    sender = f"leak-{uuid.uuid4().hex}"

    async def say(text: str):
        return [m.get("text") for m in await agent.handle_text(text, sender_id=sender) if m.get("text")]

    await say("hoi")
    await say(f"mijn bsn is 123.456.782, mijn iban is NL91 ABNA 0417 1643 00 en ik woon op {ADDRESS}")
    await say("ik heb schulden")
    assert (await say("Zwolle"))[-1].startswith(messages.CONSENT_ASK.split("{")[0])
    assert await say("ja") == [messages.ASK_NAME]
    assert await say("NL91 ABNA 0417 1643 00") == [messages.NAME_INVALID, messages.ASK_NAME]
    assert await say("ik heet sanne de boer") == [messages.ASK_CONTACT_METHOD]
    assert await say("bel me") == [messages.ASK_PHONE]
    assert await say(BSN) == [messages.PHONE_INVALID, messages.ASK_PHONE]
    # The tracker is saved after each turn: halfway through the form the BSN is not stored either.
    assert leaks(file_bytes(tracker_db)) == []
    done = await say(PHONE)
    assert done[0] == messages.HANDOVER_DONE.format(partner="Gemeente Zwolle", method="de telefoon")

    # The handover has the accepted number and name; the transcript has neither the BSN nor the IBAN.
    name, method, value, transcript = handover_of(actions_db_url, sender)
    assert (name, method, value) == ("Sanne de Boer", "phone", PHONE_E164)
    assert ("persoon", PHONE) in transcript and ("persoon", "[BSN]") in transcript
    assert ("persoon", "[IBAN]") in transcript

    # The tracker store: no BSN, IBAN or address anywhere in the file, the contact details there.
    stored = file_bytes(tracker_db)
    assert leaks(stored) == []
    assert PHONE_E164.encode() in stored and PHONE.encode() in stored and b"Sanne de Boer" in stored
    tracker = await store.retrieve(sender)
    assert (tracker.get_slot("contact_name"), tracker.get_slot("contact_value")) == ("Sanne de Boer", PHONE_E164)
    texts = [e.text for e in tracker.events if e.type_name == "user"]
    assert "mijn bsn is [BSN], mijn iban is [IBAN] en ik woon op [adres]" in texts and "[BSN]" in texts

    # The action server's database (handover, transcript, outbox, audit) and every log line.
    assert leaks(file_bytes(actions_db)) == []
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert "[BSN]" in logged  # the Rasa server did log the messages, redacted
    out, err = capfd.readouterr()
    assert leaks((logged + out + err).encode()) == []
    if actions_log.exists():
        assert leaks(actions_log.read_bytes()) == []
