"""A core stand-in for the gateway tests: an aiohttp server on 127.0.0.1 that answers the core's
internal channel (bot.core.channel) and records each turn's message."""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

from aiohttp import web

from tests.conftest import free_port


class StandIn:
    """Answers ``POST /webhooks/gateway/webhook`` with ``answer(message)`` (default: one text,
    "<name>: <message>") or with ``status`` when that is not 200, ``POST /webhooks/gateway/resume``
    (a live chat ended) with one text and a button, and ``GET /webhooks/gateway/`` (readiness) with 200."""

    def __init__(self, name: str, status: int = 200,
                 answer: Optional[Callable[[str], List[Dict[str, object]]]] = None) -> None:
        self.name, self.status, self.turns = name, status, []
        self.resumes: List[tuple] = []  # (sender, what) of each /resume (a live chat ended)
        self.answer = answer or (lambda message: [{"text": f"{self.name}: {message}"}])
        self.port = free_port()

    async def start(self) -> None:
        async def webhook(request: web.Request) -> web.Response:
            body = await request.json()
            self.turns.append(body["message"])
            if self.status != 200:
                return web.json_response({"error": "kapot"}, status=self.status)
            return web.json_response({"messages": self.answer(body["message"])})

        async def resume(request: web.Request) -> web.Response:
            body = await request.json()
            if self.status != 200:
                return web.json_response({"error": "kapot"}, status=self.status)
            self.resumes.append((body["sender"], body["what"]))
            return web.json_response({"messages": [{"text": f"{self.name}: weer de gids ({body['what']})",
                                                    "buttons": [{"title": "Ja", "payload": "/affirm"}]}]})

        async def ready(_: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_post("/webhooks/gateway/webhook", webhook)
        app.router.add_post("/webhooks/gateway/resume", resume)
        app.router.add_get("/webhooks/gateway/", ready)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
