"""The live chat in two real browsers: a person in the web chat widget (the gateway, the core with
the trained model, the real action server) and a Werkcentrum employee in the console, on one
database. The gids offers the chat, the employee picks the person up, they write both ways, a
crisis is answered at once and flagged, both sides reload without losing or doubling anything,
and the employee makes a handover of the chat, after which the gids speaks again."""
from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from bot import live, messages
from bot.db import make_engine, session_scope
from tests.console.conftest import SECRET
from tests.console.test_browser import Served, submit
from tests.live.conftest import ALWAYS, PASSWORD, REGION, staff
from tests.webchat.support import bot_texts, js, make_driver, message_list, screenshot, wait
from tests.webchat.test_webchat_model import ask_debts_in_zwolle, demo_url, say, start_chat  # noqa: F401

pytestmark = pytest.mark.model

STAFF_HELLO = "Hallo, ik ben Anna van het Werkcentrum. Waar kan ik je mee helpen?"


@pytest.fixture
def engine(actions_db_url):
    eng = make_engine(actions_db_url)
    with session_scope(eng) as session:
        live.set_hours(session, REGION, dict(ALWAYS), actor="test")
    yield eng
    with session_scope(eng) as session:  # the other tests of this session see no live chat
        live.set_hours(session, REGION, {}, actor="test")
    eng.dispose()


def console_log_in(browser, base: str, username: str) -> None:
    browser.get(base + "/login")
    browser.find_element(By.ID, "username").send_keys(username)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))


def pane_messages(browser) -> list:
    return [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#messages li")]


def staff_bubbles(driver) -> list:
    return js(driver, "return Array.from(root.querySelectorAll('.gids-staff .gids-bubble')).map(b => b.textContent);")


def banner(driver) -> str:
    return js(driver, "const b = root.querySelector('.gids-live-banner'); return b && !b.hidden ? b.textContent : '';")


def test_a_live_chat_from_offer_to_handover_in_two_browsers(engine, demo_url):  # noqa: F811
    from bot.console import make_app

    staff(engine, "anna.live", name="Anna de Vries")
    person, employee = make_driver(), make_driver(1280, 1400)
    try:
        with Served(make_app(engine, secret=SECRET, secure_cookies=True)) as console:
            # The employee is available.
            console_log_in(employee, console, "anna.live")
            employee.get(console + "/live")
            employee.find_element(By.ID, "availability").click()
            wait(employee, lambda: "Je bent beschikbaar" in employee.find_element(By.ID, "availability-state").text)

            # The person asks about debts in Zwolle; after the cards the gids offers the chat.
            start_chat(person, demo_url)
            ask_debts_in_zwolle(person)
            offer = messages.LIVE_OFFER.format(days=90)  # the shown text ends with the buttons' titles
            wait(person, lambda: any(t.startswith(offer) for t in bot_texts(person)), 90, "no live chat offer")
            js(person, "Array.from(root.querySelectorAll('.gids-choice')).find(b => b.textContent === arguments[0]).click();",
               messages.LIVE_YES)
            wait(person, lambda: messages.LIVE_WAITING.format(minutes=2) in bot_texts(person), 60)
            assert banner(person) == "Je wacht op iemand van het Werkcentrum."

            # The employee sees the person waiting and picks them up.
            wait(employee, lambda: employee.find_elements(By.CSS_SELECTOR, "#queue li .pickup"), 20, "nobody in the queue")
            employee.find_element(By.CSS_SELECTOR, "#queue li .pickup").click()
            wait(employee, lambda: employee.find_element(By.ID, "send").is_displayed(), 20)
            before = employee.find_element(By.ID, "before").get_attribute("textContent")
            assert "ik heb schulden" in before and "Zwolle" in before
            wait(person, lambda: banner(person) == messages.LIVE_JOINED.format(name="Anna").rstrip("."), 20,
                 "the widget does not say who the person talks with")

            # Both ways.
            quick = employee.find_element(By.CSS_SELECTOR, ".quick-text")
            assert quick.get_attribute("data-text") == STAFF_HELLO
            quick.click()
            employee.find_element(By.CSS_SELECTOR, "#send button[type=submit]").click()
            wait(person, lambda: staff_bubbles(person) == [STAFF_HELLO], 20, "the staff message did not arrive")
            say(person, "Ik heb een brief van de deurwaarder. Mijn BSN is 111222333.")
            wait(employee, lambda: any("deurwaarder" in m for m in pane_messages(employee)), 20)
            assert not any("111222333" in m for m in pane_messages(employee))

            # A crisis: the answer at once, and the employee is alerted.
            say(person, "ik wil niet meer leven")
            wait(person, lambda: messages.LIVE_CRISIS in bot_texts(person), 20, "no 112/113 during the chat")
            wait(employee, lambda: employee.find_element(By.ID, "pane-crisis").is_displayed(), 20)

            # Reload on both sides: everything once, the chat goes on.
            shown = message_list(person)
            person.refresh()
            wait(person, lambda: js(person, "return !!(window.WerkcentrumGids && window.WerkcentrumGids.widget.ready);"), 60)
            wait(person, lambda: len(message_list(person)) >= len(shown), 20)
            assert staff_bubbles(person) == [STAFF_HELLO]
            assert bot_texts(person).count(messages.LIVE_CRISIS) == 1
            employee.refresh()
            wait(employee, lambda: any("deurwaarder" in m for m in pane_messages(employee)), 20, "the pane did not reopen")
            employee.find_element(By.ID, "text").send_keys("Dat regelen we samen. Wat is je naam?")
            employee.find_element(By.CSS_SELECTOR, "#send button[type=submit]").click()
            wait(person, lambda: len(staff_bubbles(person)) == 2, 20)
            say(person, "Sara")
            wait(employee, lambda: any(m.endswith("Sara") for m in pane_messages(employee)), 20)
            assert [m for m in pane_messages(employee) if "Wat is je naam" in m].__len__() == 1
            screenshot(employee, "live-console.png")
            screenshot(person, "live-widget.png")

            # A handover of the chat, to the gemeente; the gids speaks again.
            employee.find_element(By.ID, "handover-open").click()
            Select(employee.find_element(By.ID, "partner")).select_by_value("gemeente-GM0193")
            employee.find_element(By.ID, "contact-name").send_keys("Sara")
            employee.find_element(By.ID, "contact-value").send_keys("06 12345678")
            employee.find_element(By.CSS_SELECTOR, "#handover button[type=submit]").click()
            wait(employee, lambda: "Overdracht gemaakt: WC-" in employee.find_element(By.ID, "pane-note").text, 20,
                 "no handover: " + employee.find_element(By.ID, "pane-note").text)
            reference = employee.find_element(By.ID, "pane-note").text.split(": ")[1].rstrip(".")
            wait(person, lambda: any(reference in t for t in bot_texts(person)), 20, "no reference in the widget")
            back = "Je praat weer met de gids. Waar kan ik je nog mee helpen?"
            wait(person, lambda: back in bot_texts(person), 60, "the gids did not speak again")
            assert banner(person) == ""
            say(person, "dank je wel")
            wait(person, lambda: bot_texts(person)[-1] != back, 60, "the gids does not answer after the chat")
    finally:
        person.quit()
        employee.quit()
