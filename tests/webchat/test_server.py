"""The web chat server and the widget's files, without a browser: routes, headers, the demo
page, configuration, the vendored libraries and a static safety check of widget.js."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import b1, messages
from bot.cli import build_parser, main
from bot.channels.webchat import server
from bot.channels.webchat.server import ConfigError, WebchatConfig, config_from_env, create_app
from tests.conftest import ROOT, SVC_BIN, free_port, wait_for_port

WIDGET_JS = server.STATIC / "widget.js"
SOCKET_IO = server.VENDOR / "socket.io.min.js"
AXE_DIR = Path(__file__).resolve().parent / "vendor"
# The attributes of the script tag, as the README documents them.
DOCUMENTED_ATTRIBUTES = ["data-server", "data-name", "data-color", "data-accent", "data-mode", "data-target",
                         "data-path", "data-remember-minutes"]


@pytest.fixture
async def client():
    async with TestClient(TestServer(create_app(WebchatConfig(rasa_url="http://127.0.0.1:5999",
                                                              name="Werkcentrum Twente")))) as c:
        yield c


class ScriptTags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts, self.ids, self.styles, self.inline_code = [], set(), 0, []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if "style" in attrs or tag == "style":
            self.styles += 1
        if tag == "script":
            self.scripts.append(attrs)
            self._in_script = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline_code.append(data)


def parse(html: str) -> ScriptTags:
    p = ScriptTags()
    p.feed(html)
    return p


# ------------------------------------------------------------------------------------ routes
@pytest.mark.parametrize("path,content_type,cache", [
    ("/widget.js", "application/javascript; charset=utf-8", "public, max-age=300"),
    ("/widget.css", "text/css; charset=utf-8", "public, max-age=300"),
    ("/vendor/socket.io.min.js", "application/javascript; charset=utf-8", "public, max-age=86400"),
])
async def test_widget_files_have_type_caching_and_cross_origin_headers(client, path, content_type, cache):
    r = await client.get(path)
    assert r.status == 200
    assert r.headers["Content-Type"] == content_type
    assert r.headers["Cache-Control"] == cache
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # Loaded by other sites; the vendor script with Subresource Integrity, which needs CORS.
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    body = await r.read()
    assert body == (server.STATIC / path.lstrip("/")).read_bytes()
    again = await client.get(path, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status == 304


@pytest.mark.parametrize("path", ["/vendor/../server.py", "/vendor/%2e%2e%2fserver.py", "/vendor/VENDOR.md",
                                  "/vendor/socket.io-client.LICENSE", "/static/widget.js",
                                  "/templates/demo.html", "/widget.js.map", "/vendor/"])
async def test_nothing_else_is_served(client, path):
    r = await client.get(path)
    assert r.status == 404
    assert r.headers["X-Content-Type-Options"] == "nosniff"


async def test_demo_page_embeds_the_widget_with_one_script_tag_under_a_strict_csp(client):
    r = await client.get("/")
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["X-Frame-Options"] == "DENY"
    csp = dict(part.split(" ", 1) for part in r.headers["Content-Security-Policy"].split("; "))
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self' http://127.0.0.1:5999 ws://127.0.0.1:5999"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in r.headers["Content-Security-Policy"]
    page = parse(await r.text())
    # Under that CSP inline code and style attributes would not run: there are none.
    assert page.inline_code == [] and page.styles == 0
    assert page.scripts == [{"src": "/widget.js", "data-server": "http://127.0.0.1:5999",
                             "data-name": "Werkcentrum Twente", "data-color": "#00617f",
                             "data-accent": "#f39200", "defer": None}]


async def test_inline_demo_page_puts_the_chat_in_a_container(client):
    page = parse(await (await client.get("/?mode=inline")).text())
    assert page.scripts[0]["data-mode"] == "inline"
    assert page.scripts[0]["data-target"] == "#gids-chat" and "gids-chat" in page.ids


async def test_demo_theme_and_health(client):
    r = await client.get("/demo-theme.css")
    assert r.headers["Content-Type"] == "text/css; charset=utf-8"
    assert await r.text() == ":root { --site-color: #00617f; --site-accent: #f39200; }\n"
    r = await client.get("/healthz")
    assert await r.json() == {"status": "ok"}


async def test_the_werkcentrum_name_is_escaped_in_the_page():
    name = 'Werkcentrum "Zuid" <script>alert(1)</script>'
    async with TestClient(TestServer(create_app(WebchatConfig(name=name)))) as c:
        html = await (await c.get("/")).text()
    assert "<script>alert(1)" not in html
    page = parse(html)
    assert page.scripts[0]["data-name"] == name
    assert page.inline_code == []


def test_https_rasa_gets_a_wss_connect_source():
    csp = server.demo_csp(WebchatConfig(rasa_url="https://gids.example.nl:5005"))
    assert "connect-src 'self' https://gids.example.nl:5005 wss://gids.example.nl:5005" in csp


# ----------------------------------------------------------------------------- configuration
def test_configuration_comes_from_the_environment_and_the_flag():
    env = {"GIDS_WEBCHAT_NAME": "Werkcentrum Zwolle", "GIDS_WEBCHAT_COLOR": "#123",
           "GIDS_WEBCHAT_ACCENT": "#AABBCC", "GIDS_RASA_URL": "https://rasa.example.nl/"}
    assert config_from_env(environ=env) == WebchatConfig("https://rasa.example.nl", "Werkcentrum Zwolle",
                                                         "#123", "#AABBCC")
    assert config_from_env("http://127.0.0.1:5005", environ=env).rasa_url == "http://127.0.0.1:5005"
    assert config_from_env(environ={}) == WebchatConfig("http://localhost:5005", "Werkcentrum Groningen",
                                                        "#00617f", "#f39200")


@pytest.mark.parametrize("settings,named", [
    ({"color": "blue"}, "GIDS_WEBCHAT_COLOR"),
    ({"accent": "#12345"}, "GIDS_WEBCHAT_ACCENT"),
    ({"rasa_url": "localhost:5005"}, "Rasa URL"),
    ({"rasa_url": "ftp://gids.example.nl"}, "Rasa URL"),
    ({"rasa_url": "http://gids.example.nl/socket.io"}, "path"),
    ({"name": "  "}, "GIDS_WEBCHAT_NAME"),
    ({"name": "x" * 81}, "GIDS_WEBCHAT_NAME"),
])
def test_a_setting_that_cannot_work_is_refused_by_name(settings, named):
    with pytest.raises(ConfigError, match=named):
        WebchatConfig(**settings)


def test_cli_defaults_and_a_bad_colour(monkeypatch, capsys):
    args = build_parser().parse_args(["webchat"])
    assert (args.host, args.port, args.rasa_url) == ("127.0.0.1", 8000, None)
    monkeypatch.setenv("GIDS_WEBCHAT_COLOR", "blauw")
    assert main(["webchat", "--port", str(free_port())]) == 2
    assert "GIDS_WEBCHAT_COLOR must be a colour like #00617f, not 'blauw'" in capsys.readouterr().err


def test_cli_serves_the_demo_page(tmp_path):
    port = free_port()
    env = {**os.environ, "GIDS_WEBCHAT_NAME": "Werkcentrum Drenthe", "GIDS_WEBCHAT_COLOR": "#5a2d82"}
    env.pop("GIDS_RASA_URL", None)
    log = (tmp_path / "webchat.log").open("w")
    proc = subprocess.Popen([str(SVC_BIN / "gids"), "webchat", "--port", str(port), "--rasa-url",
                             "http://127.0.0.1:5998"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, 60, proc)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
            page = parse(r.read().decode())
        assert page.scripts[0]["data-name"] == "Werkcentrum Drenthe"
        assert page.scripts[0]["data-color"] == "#5a2d82"
        assert page.scripts[0]["data-server"] == "http://127.0.0.1:5998"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as r:
            assert json.load(r) == {"status": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    # The access log names paths, never who asked (no IP address, no browser).
    logged = (tmp_path / "webchat.log").read_text()
    assert '"GET /healthz HTTP/1.1" 200' in logged
    assert "127.0.0.1" not in logged.replace("http://127.0.0.1", "") and "Python-urllib" not in logged


# ----------------------------------------------------------------------- widget.js, statically
HTML_SINKS = re.compile(r"\.(?:inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\s*\(|"
                        r"new\s+Function\b|createContextualFragment|setAttribute\(\s*[\"']on|"
                        r"setTimeout\(\s*[\"']|\.srcdoc\b")


def html_sinks(source: str):
    code = re.sub(r"/\*.*?\*/", "", source, flags=re.S)  # the header comment names the rule
    return HTML_SINKS.findall(code)


def test_the_sink_check_finds_what_it_looks_for():
    assert html_sinks('bubble.innerHTML = message.text;') == [".innerHTML"]
    assert html_sinks('el.insertAdjacentHTML("beforeend", t); eval(x)') == ["insertAdjacentHTML", "eval("]
    assert html_sinks('a.setAttribute("onclick", t)') == ['setAttribute("on']


def test_widget_js_puts_nothing_on_the_page_as_html():
    assert html_sinks(WIDGET_JS.read_text(encoding="utf-8")) == []


def test_widget_js_reads_exactly_the_documented_attributes():
    source = WIDGET_JS.read_text(encoding="utf-8")
    read = set(re.findall(r"\bdata\.([a-zA-Z]+)", source))
    camel = {re.sub(r"-([a-z])", lambda m: m.group(1).upper(), a[len("data-"):]) for a in DOCUMENTED_ATTRIBUTES}
    assert read == camel


def widget_texts():
    block = re.search(r"var TEXT = \{(.*?)\n  \};", WIDGET_JS.read_text(encoding="utf-8"), re.S).group(1)
    return dict(re.findall(r"(\w+): \"([^\"]*)\"", block))


def test_widget_texts_are_b1_and_say_je():
    texts = widget_texts()
    assert len(texts) > 25
    sentences = {k: v.replace("{n}", "2500").replace("{max}", "2000") for k, v in texts.items()
                 if v.rstrip().endswith((".", "?"))}
    assert len(sentences) >= 10
    for key, text in sentences.items():
        result = b1.check_text(key, text)
        assert result.ok, f"{key}: {result.problems} — {text!r}"
    for key, text in texts.items():
        assert not re.search(r"\b(?:u|uw)\b", text, re.I), f"{key} says 'u': {text!r}"
    for key in ("launcher", "newChat", "confirmYes", "confirmNo", "send"):
        assert len(texts[key]) <= b1.MAX_BUTTON_CHARS, key


def test_card_labels_match_the_text_version_of_the_card():
    assert {k: v for k, v in widget_texts().items() if k in messages.CONTACT_LABELS} == messages.CONTACT_LABELS


# ------------------------------------------------------------------------ vendored libraries
def vendor_sha256(vendor_md: Path) -> str:
    return re.search(r"sha256 of `[^`]+` \| `([0-9a-f]{64})`", vendor_md.read_text()).group(1)


def test_socket_io_client_is_the_vendored_release_and_loaded_with_integrity():
    data = SOCKET_IO.read_bytes()
    assert hashlib.sha256(data).hexdigest() == vendor_sha256(server.VENDOR / "VENDOR.md")
    assert data.startswith(b"/*!\n * Socket.IO v4.8.4")
    assert "| version | 4.8.4 |" in (server.VENDOR / "VENDOR.md").read_text()
    sri = "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert f'var VENDOR_SRI = "{sri}";' in WIDGET_JS.read_text(encoding="utf-8")
    assert "MIT License" in (server.VENDOR / "socket.io-client.LICENSE").read_text()


def test_axe_core_is_the_vendored_release():
    data = (AXE_DIR / "axe.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == vendor_sha256(AXE_DIR / "VENDOR.md")
    assert b"axe v4.14.1" in data[:200]
    assert "| licence | MPL-2.0" in (AXE_DIR / "VENDOR.md").read_text()
    assert "Mozilla Public License" in (AXE_DIR / "axe-core.LICENSE").read_text()
