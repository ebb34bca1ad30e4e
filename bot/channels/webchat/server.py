"""Serves the web chat widget (/widget.js, /widget.css, /vendor/...) and a demo page (/) that
looks like a Werkcentrum site with the widget on it.

A Werkcentrum can host widget.js from this server or copy the files in static/ to its own web
server; the widget finds its CSS and the socket.io client next to itself either way."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
VENDOR = STATIC / "vendor"
TEMPLATES = HERE / "templates"

DEFAULT_RASA_URL = "http://localhost:5005"
DEFAULT_NAME = "Werkcentrum Groningen"
DEFAULT_COLOR = "#00617f"
DEFAULT_ACCENT = "#f39200"
HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")

# Sites embed /widget.js without a version in the URL, so a fix must reach them within minutes;
# the vendored library changes only with a new widget release.
CACHE_WIDGET = "public, max-age=300"
CACHE_VENDOR = "public, max-age=86400"
CONTENT_TYPES = {".js": "application/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# What a request line may show in the log: the path, never who asked (no IP, no user agent).
ACCESS_LOG_FORMAT = '"%r" %s %b %Tf'


class ConfigError(ValueError):
    """A setting of the web chat server that cannot work; the message says which and why."""


@dataclass(frozen=True)
class WebchatConfig:
    rasa_url: str = DEFAULT_RASA_URL
    name: str = DEFAULT_NAME
    color: str = DEFAULT_COLOR
    accent: str = DEFAULT_ACCENT

    def __post_init__(self) -> None:
        parts = urlsplit(self.rasa_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"the Rasa URL must be http(s)://host[:port], not {self.rasa_url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ConfigError(f"the Rasa URL must not have a path or query: {self.rasa_url!r}")
        for label, value in (("GIDS_WEBCHAT_COLOR", self.color), ("GIDS_WEBCHAT_ACCENT", self.accent)):
            if not HEX_COLOUR.fullmatch(value):
                raise ConfigError(f"{label} must be a colour like #00617f, not {value!r}")
        if not self.name.strip() or len(self.name) > 80:
            raise ConfigError("GIDS_WEBCHAT_NAME must be 1 to 80 characters")

    @property
    def rasa_origin(self) -> str:
        parts = urlsplit(self.rasa_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def rasa_socket_origin(self) -> str:
        parts = urlsplit(self.rasa_url)
        return f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"


def config_from_env(rasa_url: Optional[str] = None, environ: Mapping[str, str] = os.environ) -> WebchatConfig:
    return WebchatConfig(
        rasa_url=(rasa_url or environ.get("GIDS_RASA_URL") or DEFAULT_RASA_URL).rstrip("/"),
        name=environ.get("GIDS_WEBCHAT_NAME") or DEFAULT_NAME,
        color=environ.get("GIDS_WEBCHAT_COLOR") or DEFAULT_COLOR,
        accent=environ.get("GIDS_WEBCHAT_ACCENT") or DEFAULT_ACCENT,
    )


def demo_csp(config: WebchatConfig) -> str:
    """The demo page's Content-Security-Policy: what a Werkcentrum site needs for the widget."""
    connect = " ".join(["'self'", config.rasa_origin, config.rasa_socket_origin])
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        f"connect-src {connect}",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # on_response_prepare: also for 404s and 304s, not only for what the handlers return.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")


def _asset(path: Path, cache_control: str) -> web.FileResponse:
    # FileResponse answers If-None-Match / If-Modified-Since with 304 from the file's ETag.
    return web.FileResponse(path, headers={
        "Content-Type": CONTENT_TYPES[path.suffix],
        "Cache-Control": cache_control,
        # The widget runs on other sites: they load these files cross-origin, the vendor script
        # with Subresource Integrity (which needs CORS).
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    })


def create_app(config: Optional[WebchatConfig] = None) -> web.Application:
    config = config or WebchatConfig()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined)
    demo = env.get_template("demo.html")
    # Only the files that exist at start-up are served: no path from a request reaches the disk.
    vendor_files = {p.name: p for p in VENDOR.iterdir() if p.suffix == ".js"}

    async def demo_page(request: web.Request) -> web.Response:
        inline = request.query.get("mode") == "inline"
        html = demo.render(config=config, inline=inline)
        return web.Response(text=html, content_type="text/html", charset="utf-8", headers={
            "Content-Security-Policy": demo_csp(config),
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        })

    async def demo_theme(request: web.Request) -> web.Response:
        # The demo site's own colours, as a stylesheet: the CSP allows no inline styles.
        css = f":root {{ --site-color: {config.color}; --site-accent: {config.accent}; }}\n"
        return web.Response(text=css, content_type="text/css", charset="utf-8",
                            headers={"Cache-Control": "no-cache"})

    async def widget_js(request: web.Request) -> web.FileResponse:
        return _asset(STATIC / "widget.js", CACHE_WIDGET)

    async def widget_css(request: web.Request) -> web.FileResponse:
        return _asset(STATIC / "widget.css", CACHE_WIDGET)

    async def demo_css(request: web.Request) -> web.FileResponse:
        return _asset(STATIC / "demo.css", CACHE_WIDGET)

    async def vendor(request: web.Request) -> web.FileResponse:
        path = vendor_files.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound(text="not found")
        return _asset(path, CACHE_VENDOR)

    async def favicon(request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"Cache-Control": "public, max-age=86400"})

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})

    app = web.Application()
    app.on_response_prepare.append(_security_headers)
    app["config"] = config
    app.router.add_get("/", demo_page)
    app.router.add_get("/demo-theme.css", demo_theme)
    app.router.add_get("/demo.css", demo_css)
    app.router.add_get("/widget.js", widget_js)
    app.router.add_get("/widget.css", widget_css)
    app.router.add_get("/vendor/{name}", vendor)
    app.router.add_get("/healthz", health)
    app.router.add_get("/favicon.ico", favicon)  # browsers ask; a 404 would only be noise
    return app


def run(config: WebchatConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    print(f"Web chat demo on http://{host}:{port}/ (widget: http://{host}:{port}/widget.js), "
          f"Rasa at {config.rasa_url}", flush=True)
    web.run_app(create_app(config), host=host, port=port, print=None, access_log_format=ACCESS_LOG_FORMAT)
