"""The widget with the real gids: the gateway's socket.io endpoint in front of the core (Rasa
with the trained model, internal channel only), the real action server, the demo page from
`gids webchat`, headless Chromium. A person asks about debts, answers "Zwolle", gets the gemeente's card, reloads and
carries on in the same conversation."""
from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from selenium.webdriver.common.keys import Keys

from bot import config, messages
from tests.conftest import ROOT, SVC_BIN, free_port, tracker_events, wait_for_port
from tests.webchat.support import (ARTIFACTS, axe_violations, bot_texts, js, make_driver, message_list,
                                   phone_viewport, root_element, screenshot, stored_conversation, wait,
                                   widget_ready)

pytestmark = pytest.mark.model

DOMAIN = yaml.safe_load((config.ROOT / "domain.yml").read_text())
WELCOME = DOMAIN["responses"]["utter_welcome"][0]["text"]
DEBT_QUESTION = "ik heb schulden en weet niet wat ik moet doen"


@pytest.fixture(scope="module")
def demo_url(gateway):
    port = free_port()
    env = {**os.environ, "GIDS_WEBCHAT_NAME": "Werkcentrum Regio Zwolle", "GIDS_WEBCHAT_COLOR": "#00617f",
           "GIDS_WEBCHAT_ACCENT": "#f39200"}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = (ARTIFACTS / "webchat-demo.log").open("w")
    proc = subprocess.Popen([str(SVC_BIN / "gids"), "webchat", "--port", str(port), "--rasa-url", gateway],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 60, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def driver():
    d = make_driver()
    yield d
    d.quit()


def start_chat(driver, url):
    driver.get(url)
    wait(driver, lambda: widget_ready(driver))
    root_element(driver, ".gids-launcher").send_keys(Keys.ENTER)
    wait(driver, lambda: js(driver, "return window.WerkcentrumGids.widget.ready;"), 60, "no session with Rasa")


def say(driver, text):
    root_element(driver, ".gids-input").send_keys(text, Keys.ENTER)


def cards(driver):
    return js(driver, "return Array.from(root.querySelectorAll('.gids-card')).map(c => c.textContent);")


def ask_debts_in_zwolle(driver):
    say(driver, DEBT_QUESTION)
    wait(driver, lambda: messages.ASK_PLACE in bot_texts(driver), 90, "the gids did not ask where I live")
    say(driver, "Zwolle")
    wait(driver, lambda: any(c.startswith("Gemeente Zwolle") for c in cards(driver)), 90,
         "no card of the gemeente Zwolle")


def tracker(core, session_id):
    """The stored events of the web chat conversation (the core's sender id is "web-" + the
    random half of the id the gateway issued)."""
    _, tracker_db = core
    return tracker_events(tracker_db, "web-" + session_id[:22])


def wait_turn_done(driver, core):
    """Until the core listens again and every message of the turn is on screen (a reload while the
    gids is still answering loses the rest of the answer: it is not sent again)."""
    def done():
        session_id = js(driver, "return window.WerkcentrumGids.widget.sessionId;")
        events = tracker(core, session_id)
        actions = [e.get("name") for e in events if e["event"] == "action"]
        if not actions or actions[-1] != "action_listen":
            return False
        sent = sum(e["event"] == "bot" for e in events)
        return sent == sum(m["who"] == "bot" for m in message_list(driver))
    wait(driver, done, 90, "the turn did not finish")


def test_debt_question_in_zwolle_survives_a_reload_and_continues_the_same_conversation(driver, demo_url, core):
    start_chat(driver, demo_url)
    ask_debts_in_zwolle(driver)
    said = bot_texts(driver)
    assert said.count(WELCOME) == 1
    gemeente_card = next(c for c in cards(driver) if c.startswith("Gemeente Zwolle"))
    assert "schulden" in gemeente_card
    assert messages.PLACE_FOUND.format(gemeente="Zwolle", region="Zwolle") in said
    # Every website on a card is a real https link.
    hrefs = js(driver, "return Array.from(root.querySelectorAll('.gids-card a')).map(a => a.href);")
    assert hrefs and all(h.startswith(("https://", "tel:", "mailto:")) for h in hrefs)
    wait_turn_done(driver, core)
    screenshot(driver, "webchat-gids-desktop.png")

    before = message_list(driver)
    session_id = stored_conversation(driver)["sessionId"]
    driver.refresh()
    wait(driver, lambda: widget_ready(driver))
    assert root_element(driver, ".gids-panel").is_displayed()
    after = message_list(driver)
    assert after[:len(before)] == before
    wait(driver, lambda: js(driver, "return window.WerkcentrumGids.widget.ready;"), 60)
    assert js(driver, "return window.WerkcentrumGids.widget.sessionId;") == session_id

    # Carry on: the gids's last question has buttons; answer it, or just say thanks.
    shown = len(after)
    no_thanks = js(driver, "return Array.from(root.querySelectorAll('.gids-choice:not(:disabled)'))"
                           ".some(b => b.textContent === 'Nee, dank je');")
    if no_thanks:
        js(driver, "Array.from(root.querySelectorAll('.gids-choice')).find(b => b.textContent === 'Nee, dank je').click();")
    else:
        say(driver, "dank je wel")
    wait(driver, lambda: any(m["who"] == "bot" for m in message_list(driver)[shown:]), 60, "no answer after the reload")
    wait_turn_done(driver, core)
    new = [m["text"] for m in message_list(driver)[shown:] if m["who"] == "bot"]
    assert WELCOME not in new, new  # the gids does not greet again: same conversation

    events = tracker(core, session_id)
    user_texts = [e["text"] for e in events if e["event"] == "user"]
    assert user_texts[:2] == [DEBT_QUESTION, "Zwolle"] and len(user_texts) == 3
    assert sum(e["event"] == "session_started" for e in events) == 1
    assert [e["value"] for e in events if e["event"] == "slot" and e["name"] == "gemeente_name"][-1] == "Zwolle"

    phone_viewport(driver, 360, 740)
    box = js(driver, "const r = root.querySelector('.gids-panel').getBoundingClientRect(); return [r.width, innerWidth];")
    assert box == [360, 360]
    screenshot(driver, "webchat-gids-360.png")


def test_axe_audit_of_the_demo_page_with_a_real_conversation(driver, demo_url, core):
    start_chat(driver, demo_url)
    violations = axe_violations(driver)
    assert violations == [], violations  # open, nothing said yet
    ask_debts_in_zwolle(driver)
    wait_turn_done(driver, core)
    violations = axe_violations(driver)
    assert violations == [], violations
    phone_viewport(driver, 360, 740)
    violations = axe_violations(driver)
    screenshot(driver, "webchat-gids-360-axe.png")
    assert violations == [], violations
