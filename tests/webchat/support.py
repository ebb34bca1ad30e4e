"""Test helpers for the web chat: servers in a background thread, a scripted stand-in for Rasa's
socket.io channel, and Selenium helpers that look into the widget's shadow root."""
from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional

import socketio
from aiohttp import web
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import ROOT, free_port

ARTIFACTS = ROOT / "var" / "test-artifacts"
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# A 1×1 PNG for the image message.
PIXEL = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                      "0000000d49444154789c6360f8cfc0f01f0005000201e2b3d6a80000000049454e44ae426082")


class BackgroundApp:
    """An aiohttp app on 127.0.0.1:<port> in its own thread and event loop; stop() and start()
    again on the same port (the connection-lost test needs that)."""

    def __init__(self, make_app: Callable[[], web.Application], port: Optional[int] = None):
        self.make_app = make_app
        self.port = port or free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner: Optional[web.AppRunner] = None
        self.app: Optional[web.Application] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def start(self) -> "BackgroundApp":
        async def go():
            self.app = self.make_app()
            self.runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=1.0)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self._call(go())
        return self

    def stop(self) -> None:
        async def go():
            sio = self.app.get("sio") if self.app is not None else None
            if sio is not None:
                await sio.shutdown()
            await self.runner.cleanup()
        if self.runner is not None:
            self._call(go())
            self.runner = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class FakeGids:
    """Speaks Rasa's socket.io protocol (session_request → session_confirm, user_uttered →
    bot_uttered to the session's room) and answers from a script, so the widget's rendering can
    be tested without the trained model. Records what the browser sent."""

    def __init__(self):
        self.received: List[Dict] = []          # {"session_id", "message"} in arrival order
        self.session_requests: List[Optional[str]] = []
        self.confirmed: List[str] = []
        self.server = BackgroundApp(self._make_app)
        self.server.start()

    @property
    def url(self) -> str:
        return self.server.url

    def script(self, message: str) -> List[Dict]:
        base = self.url
        if message == "xss":
            return [{"text": '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> '
                             'Lees [dit](javascript:alert(1)) of kijk op https://example.org/info.'}]
        if message == "knoppen":
            return [{"text": "Wil je dat een medewerker contact met je opneemt?", "quick_replies": [
                {"content_type": "text", "title": "Ja, graag", "payload": "/affirm"},
                {"content_type": "text", "title": "Nee, dank je", "payload": "/deny"}]}]
        if message == "kaart":
            return [
                {"text": "Gemeente Teststad: De gemeente helpt je gratis.", "custom": {
                    "type": "partner_card", "topic": "ask_debt_help", "partner_type": "gemeente",
                    "partner": "Gemeente <b>Teststad</b>", "service": "De gemeente helpt je gratis.",
                    "conditions": "Ook als je werk hebt.", "scope": "gemeente", "verified": False,
                    "contact": {"phone": "050 - 367 91 11", "phone_hours": "9.00 tot 17.00 uur",
                                "website": "https://www.teststad.nl/schulden", "email": "hulp@teststad.nl",
                                "address": "Markt 1, Teststad"}}},
                {"custom": {"type": "partner_card", "partner": "Foute Links", "service": "Test.",
                            "contact": {"website": "javascript:alert(1)", "email": 'x@y.nl"><img src=x>',
                                        "phone": "geen nummer"}}},
            ]
        if message == "plaatje":
            return [{"attachment": {"type": "image", "payload": {"src": f"{base}/pixel.png"}}},
                    {"attachment": {"type": "image", "payload": {"src": "javascript:alert(1)"}}},
                    {"text": "Dat waren de plaatjes."}]
        return [{"text": f"Je zei: {message}"}]

    def _make_app(self) -> web.Application:
        sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*")
        app = web.Application()
        app["sio"] = sio
        sio.attach(app, socketio_path="/socket.io")

        async def pixel(request):
            return web.Response(body=PIXEL, content_type="image/png")
        app.router.add_get("/pixel.png", pixel)

        @sio.on("session_request")
        async def session_request(sid, data):
            requested = (data or {}).get("session_id")
            self.session_requests.append(requested)
            session_id = requested or f"fake{len(self.confirmed):04d}{sid[:8]}"
            await sio.enter_room(sid, session_id)
            self.confirmed.append(session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on("user_uttered")
        async def user_uttered(sid, data):
            self.received.append({"session_id": data.get("session_id"), "message": data.get("message")})
            for answer in self.script(data.get("message", "")):
                await sio.emit("bot_uttered", answer, room=data.get("session_id"))
        return app

    def messages(self) -> List[str]:
        return [r["message"] for r in self.received]

    def close(self) -> None:
        self.server.close()


# ---------------------------------------------------------------------------- Selenium helpers
def make_driver(width: int = 1280, height: int = 900):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.conftest import require_tool

    chromium = require_tool("chromium")
    chromedriver = require_tool("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--lang=nl-NL", "--no-first-run",
                "--disable-extensions", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(chromedriver), options=options)


def js(driver, body: str, *args):
    """Runs `body` with `root` = the widget's shadow root (null before it exists)."""
    return driver.execute_script(
        "const host = document.getElementById('werkcentrum-gids');"
        "const root = host ? host.shadowRoot : null;" + body, *args)


def wait(driver, condition: Callable, timeout: float = 30, message: str = ""):
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(), message)


def widget_ready(driver) -> bool:
    return bool(js(driver, "return !!(root && root.querySelector('.gids-panel') && host.style.visibility !== 'hidden');"))


def root_element(driver, selector: str):
    host = driver.find_element("id", "werkcentrum-gids")
    return host.shadow_root.find_element("css selector", selector)


def message_list(driver) -> List[Dict]:
    """The conversation as shown: who, the visible text (without the screen-reader prefix),
    buttons and cards."""
    return js(driver, """
        return Array.from(root.querySelectorAll('.gids-messages > li')).map(li => {
          const clone = li.cloneNode(true);
          clone.querySelectorAll('.gids-vh').forEach(n => n.remove());
          const who = li.classList.contains('gids-user') ? 'user'
                    : li.classList.contains('gids-bot') ? 'bot' : 'note';
          return {who: who, text: clone.textContent.trim(),
                  buttons: Array.from(li.querySelectorAll('.gids-choice')).map(b => ({title: b.textContent, disabled: b.disabled})),
                  card: li.querySelector('.gids-card') ? li.querySelector('.gids-card-title').textContent : null};
        });""")


def bot_texts(driver) -> List[str]:
    return [m["text"] for m in message_list(driver) if m["who"] == "bot"]


def active_element_class(driver) -> str:
    return js(driver, "const a = root.activeElement; return a ? a.className : '';") or ""


def stored_conversation(driver) -> Optional[Dict]:
    raw = driver.execute_script(
        "for (let i = 0; i < localStorage.length; i++) { const k = localStorage.key(i);"
        " if (k.startsWith('wcgids:') && k.endsWith(':conversation')) return localStorage.getItem(k); }"
        " return null;")
    return json.loads(raw) if raw else None


def axe_violations(driver) -> List[Dict]:
    """axe-core on the whole page (it looks into open shadow roots); serious and critical only."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(120)
    violations = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
           .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                 nodes: v.nodes.slice(0, 5).map(n => ({target: n.target, summary: n.failureSummary}))}))))
           .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));""")
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


def phone_viewport(driver, width: int = 360, height: int = 740) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True})
