"""A real browser (headless Chromium through Selenium) against the console served on a free port,
with the production cookie settings (Secure: Chromium accepts those on http://127.0.0.1)."""
from __future__ import annotations

import asyncio
import threading
from datetime import date, timedelta

import pytest
from aiohttp import web

from bot.handover import TranscriptEntry
from tests.conftest import ROOT, free_port, require_tool

from .conftest import PASSWORD, SECRET, add_handover, add_signals, add_staff, audit_rows

ARTIFACTS = ROOT / "var" / "test-artifacts"


class Served:
    """The console on an AppRunner in a thread of its own, as `gids console` serves it."""

    def __init__(self, app: web.Application):
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app)
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(30), "the console did not start"
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def submit(browser, element) -> None:
    """Clicks a link or button and waits until the next page replaced this one (a click returns
    before the navigation it starts has finished)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    # A mark on the old page's window: gone once the next page is loaded. Asking the old element
    # whether it is stale can hit Chromium mid-navigation ("unhandled inspector error"), so
    # errors while the page changes count as "not yet".
    browser.execute_script("window.__gidsOldPage = true")
    element.click()
    WebDriverWait(browser, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return window.__gidsOldPage === undefined && document.readyState === 'complete'"))


@pytest.fixture
def browser():
    chromium = require_tool("chromium")
    chromedriver = require_tool("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1500", "--lang=nl-NL"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_log_in_open_claim_and_close_a_handover(engine, browser):
    from selenium.webdriver.common.by import By

    from bot.console import make_app

    add_staff(engine, "wim", "werkcentrum", region="AM01", name="Wim de Boer")
    ref = add_handover(engine, partner_id="gemeente-GM0014", region_code="AM01", gemeente_code="GM0014",
                       topics=["ask_debt_help", "ask_retraining"], summary="Schulden; wil daarna omscholen",
                       transcript=[
                           TranscriptEntry("persoon", "Ik heb schulden en ik wil iets anders gaan doen"),
                           TranscriptEntry("gids", "Hulp bij schulden krijg je bij je gemeente. Die hulp is gratis."),
                           TranscriptEntry("persoon", "<img src=x onerror=\"document.title='XSS'\"> hoe lang duurt dat?"),
                       ])
    for i in range(3):
        add_handover(engine, partner_id="uwv", region_code="AM01", gemeente_code="GM0014",
                     topics=[["ask_vacancies"], ["ask_language_help"], ["ask_benefits", "ask_debt_help"]][i])
    monday = date.today() - timedelta(days=date.today().weekday())
    add_signals(engine, [(monday - timedelta(weeks=w), topic, "AM01", n)
                         for w in range(8) for topic, n in (("ask_debt_help", 5 + w % 3), ("ask_vacancies", 2 + w),
                                                            ("ask_language_help", 8 - w))])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Served(make_app(engine, secret=SECRET, secure_cookies=True)) as base:
        browser.get(base + "/")
        assert "/login" in browser.current_url
        browser.find_element(By.ID, "username").send_keys("wim")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        assert browser.find_element(By.TAG_NAME, "h1").text == "Vragen"  # the Secure cookie was kept

        submit(browser, browser.find_element(By.LINK_TEXT, ref))
        assert browser.find_element(By.TAG_NAME, "h1").text == f"Vraag {ref}"
        assert browser.find_element(By.ID, "status").text == "Nieuw"
        # The typed HTML is text on the page, and nothing ran.
        assert "<img src=x" in browser.find_element(By.CSS_SELECTOR, ".transcript").text
        assert browser.title != "XSS" and not browser.find_elements(By.CSS_SELECTOR, ".transcript img")

        submit(browser, browser.find_element(By.ID, "claim"))
        assert browser.find_element(By.ID, "status").text == "Opgepakt"
        assert "Je hebt deze vraag opgepakt." in browser.find_element(By.CSS_SELECTOR, ".flash").text

        submit(browser, browser.find_element(By.ID, "close"))
        status = browser.find_element(By.ID, "status").text
        browser.save_screenshot(str(ARTIFACTS / "console-handover.png"))
        assert status == "Afgesloten"
        assert "De vraag is afgesloten." in browser.find_element(By.CSS_SELECTOR, ".flash").text
        assert not browser.find_elements(By.ID, "close")

        # At phone width the page is one column and still usable.
        browser.set_window_size(390, 1400)
        browser.get(f"{base}/")
        browser.get(f"{base}/handovers/{ref}")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        browser.save_screenshot(str(ARTIFACTS / "console-handover-phone.png"))

        browser.set_window_size(1280, 1100)
        browser.get(f"{base}/?status=all")
        assert ref in browser.find_element(By.CSS_SELECTOR, "table.list").text
        browser.save_screenshot(str(ARTIFACTS / "console-inbox.png"))
        browser.get(f"{base}/trends")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Trends"
        assert len(browser.find_elements(By.CSS_SELECTOR, "svg polyline")) == 3
        browser.save_screenshot(str(ARTIFACTS / "console-trends.png"))

        # Nothing on these pages broke the Content-Security-Policy (no inline script or style).
        problems = [entry["message"] for entry in browser.get_log("browser")
                    if "Content Security Policy" in entry["message"] or entry["level"] == "SEVERE"]
        assert not [p for p in problems if "favicon.ico" not in p], problems

    assert (ARTIFACTS / "console-handover.png").stat().st_size > 10_000
    actions = [e["action"] for e in audit_rows(engine, reference=ref)]
    assert actions[:3] == ["view", "claim", "view"] and "close" in actions


def test_coverage_and_a_partner_change_through_approval(engine, browser):
    """A Werkcentrum member sees only their region's coverage; a partner proposes a new phone
    number; the Werkcentrum of that region approves it; the card the gids shows has the new number
    and "Gecontroleerd op <datum>", and so has the partner's own page."""
    from selenium.webdriver.common.by import By

    from bot import messages
    from bot.console import make_app
    from bot.routing import route

    add_staff(engine, "anna", "werkcentrum", region="AM01", name="Anna de Wit")
    add_staff(engine, "piet", "partner", partner="gemeente-GM0014", name="Piet Bakker")
    new_phone = "050 123 45 67"

    def groningen_card() -> dict:
        answer = route("ask_debt_help", "Groningen", engine=engine)
        return next(c for c in answer["services"] if c["partner"] == "Gemeente Groningen")

    before = groningen_card()  # also fills this process's cached table with the old card
    assert "phone" not in before["contact"] and not before["verified"]

    def log_in(base: str, username: str) -> None:
        browser.get(base + "/login")
        browser.find_element(By.ID, "username").send_keys(username)
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))

    def log_out() -> None:
        submit(browser, browser.find_element(By.CSS_SELECTOR, ".who button"))

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Served(make_app(engine, secret=SECRET, secure_cookies=True)) as base:
        log_in(base, "anna")
        submit(browser, browser.find_element(By.LINK_TEXT, "Dekking"))
        assert browser.find_element(By.TAG_NAME, "h1").text == "Dekking"
        regions = {tr.get_attribute("data-region") for tr in browser.find_elements(By.CSS_SELECTOR, "#coverage-table tbody tr")}
        assert regions == {"AM01"}
        assert not browser.find_elements(By.ID, "c-region")  # no other region to choose
        browser.get(base + "/coverage?region=AM02")            # and asking for one does not help
        regions = {tr.get_attribute("data-region") for tr in browser.find_elements(By.CSS_SELECTOR, "#coverage-table tbody tr")}
        assert regions == {"AM01"}
        assert browser.find_element(By.ID, "coverage-totals").text.startswith("Totaal")
        browser.save_screenshot(str(ARTIFACTS / "console-coverage.png"))
        log_out()

        log_in(base, "piet")
        assert not browser.find_elements(By.LINK_TEXT, "Dekking")
        submit(browser, browser.find_element(By.LINK_TEXT, "Onze gegevens"))
        assert "nog niet gecontroleerd" in browser.find_element(By.ID, "verified-state").text
        phone = browser.find_element(By.ID, "f-phone")
        phone.clear()
        phone.send_keys(new_phone)
        submit(browser, browser.find_element(By.ID, "propose"))
        assert "Je voorstel is verstuurd." in browser.find_element(By.CSS_SELECTOR, ".flash").text
        browser.save_screenshot(str(ARTIFACTS / "console-partner-proposed.png"))
        log_out()

        log_in(base, "anna")
        submit(browser, browser.find_element(By.LINK_TEXT, "Wijzigingen"))
        change = browser.find_element(By.CSS_SELECTOR, "section.change")
        assert "Gemeente Groningen" in change.text and new_phone in change.text
        browser.save_screenshot(str(ARTIFACTS / "console-changes.png"))
        change.find_element(By.CSS_SELECTOR, "input[name=services_checked]").click()
        submit(browser, change.find_element(By.CSS_SELECTOR, "button.primary"))
        assert "is goedgekeurd" in browser.find_element(By.CSS_SELECTOR, ".flash").text
        assert not browser.find_elements(By.CSS_SELECTOR, "section.change")
        log_out()

        # The card the gids shows now (this process forgot its cached table at the approval).
        card = groningen_card()
        assert card["contact"]["phone"] == new_phone and card["verified"]
        verified_on = date.fromisoformat(card["verified_on"])
        text = messages.partner_card(card)
        assert f"Bel: {new_phone}" in text and text.endswith(f"Gecontroleerd op {messages.dutch_date(verified_on)}.")

        log_in(base, "piet")
        submit(browser, browser.find_element(By.LINK_TEXT, "Onze gegevens"))
        state = browser.find_element(By.ID, "verified-state").text
        assert state.startswith("Gecontroleerd op") and state.endswith("door Anna de Wit.")
        previews = browser.find_elements(By.CSS_SELECTOR, ".card-text")
        assert previews and all("Gecontroleerd op" in p.text and new_phone in p.text for p in previews)
        browser.save_screenshot(str(ARTIFACTS / "console-partner-verified.png"))
        browser.set_window_size(390, 1400)  # a phone: one column, nothing scrolls sideways
        browser.get(base + "/partner")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        browser.set_window_size(1280, 1500)

        problems = [entry["message"] for entry in browser.get_log("browser")
                    if "Content Security Policy" in entry["message"] or entry["level"] == "SEVERE"]
        assert not [p for p in problems if "favicon.ico" not in p], problems

    actions = [(e["action"], e["actor"]) for e in audit_rows(engine) if e["action"].startswith("partner_change")]
    assert actions == [("partner_change_propose", "piet"), ("partner_change_approve", "anna")]
