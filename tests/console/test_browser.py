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
