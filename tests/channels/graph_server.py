"""A stand-in for Meta's Graph API ``POST /{phone-number-id}/messages`` on 127.0.0.1 (aiohttp).

It checks what the real one checks that matters here (bearer token, phone number id, the Cloud
API's limits on interactive messages), records every attempt, and can be told to answer 429/500,
a Graph error, or nothing for a while."""
from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional, Set

from aiohttp import web


@dataclass
class Planned:
    status: int
    error_code: Optional[int] = None
    retry_after: Optional[str] = None
    hang_seconds: float = 0.0


@dataclass
class GraphTestServer:
    phone_number_id: str
    token: str
    version: str = "v25.0"   # as DEFAULT_GRAPH_API_URL
    attempts: List[Dict[str, Any]] = field(default_factory=list)    # every well-authorised POST body
    delivered: List[Dict[str, Any]] = field(default_factory=list)   # bodies answered 200
    unauthorised: int = 0
    outside_window: Set[str] = field(default_factory=set)            # wa_ids that get error 131047
    _plan: Deque[Planned] = field(default_factory=deque)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _runner: Optional[web.AppRunner] = None
    base_url: str = ""

    # -- what the next POSTs get ----------------------------------------------------------------
    def fail_next(self, count: int, status: int = 500, *, retry_after: Optional[str] = None,
                  error_code: Optional[int] = None) -> None:
        for _ in range(count):
            self._plan.append(Planned(status, error_code, retry_after))

    def hang_next(self, seconds: float) -> None:
        self._plan.append(Planned(200, hang_seconds=seconds))

    # -- what arrived ---------------------------------------------------------------------------
    def delivered_to(self, wa_id: str) -> List[Dict[str, Any]]:
        return [m for m in self.delivered if m.get("to") == wa_id]

    def texts_to(self, wa_id: str) -> List[str]:
        return [m["text"]["body"] for m in self.delivered_to(wa_id) if m.get("type") == "text"]

    # -- server ---------------------------------------------------------------------------------
    async def start(self, port: int) -> str:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{port}/{self.version}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _messages(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            self.unauthorised += 1
            return _error(401, 190, "Invalid OAuth access token")
        if request.match_info["phone_number_id"] != self.phone_number_id:
            return _error(400, 100, "Unknown phone number id")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 100, "Invalid JSON")
        self.attempts.append(body)
        if self._plan:
            planned = self._plan.popleft()
            if planned.hang_seconds:
                await asyncio.sleep(planned.hang_seconds)
            if planned.status != 200:
                headers = {"Retry-After": planned.retry_after} if planned.retry_after else {}
                return _error(planned.status, planned.error_code or 1, "Planned failure", headers)
        problem = validate(body)
        if problem:
            return _error(400, 100, problem)
        if body.get("type") != "template" and body.get("to") in self.outside_window:
            return _error(400, 131047, "Re-engagement message")
        self.delivered.append(body)
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                  "messages": [{"id": f"wamid.test-{next(self._ids)}"}]})


def _error(status: int, code: int, message: str, headers: Optional[Dict[str, str]] = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "OAuthException", "code": code,
                                        "fbtrace_id": "AbCdEf"}}, status=status, headers=headers)


def validate(body: Dict[str, Any]) -> Optional[str]:
    """The Cloud API's rules for the message types the gids sends; None when the body is fine."""
    if body.get("messaging_product") != "whatsapp" or not body.get("to"):
        return "messaging_product and to are required"
    kind = body.get("type")
    if kind == "text":
        text = body.get("text", {}).get("body", "")
        return None if 0 < len(text) <= 4096 else "text body must have 1 to 4096 characters"
    if kind == "template":
        template = body.get("template", {})
        return None if template.get("name") and template.get("language", {}).get("code") else "bad template"
    if kind != "interactive":
        return f"unexpected type {kind!r}"
    interactive = body.get("interactive", {})
    if not 0 < len(interactive.get("body", {}).get("text", "")) <= 1024:
        return "interactive body must have 1 to 1024 characters"
    action = interactive.get("action", {})
    if interactive.get("type") == "button":
        buttons = action.get("buttons", [])
        ids = [b["reply"]["id"] for b in buttons]
        if not 1 <= len(buttons) <= 3 or len(set(ids)) != len(ids):
            return "1 to 3 reply buttons with unique ids"
        if any(len(b["reply"]["title"]) > 20 or len(b["reply"]["id"]) > 256 for b in buttons):
            return "button title at most 20 characters, id at most 256"
        return None
    if interactive.get("type") == "list":
        rows = [r for s in action.get("sections", []) for r in s.get("rows", [])]
        ids = [r["id"] for r in rows]
        if not 1 <= len(rows) <= 10 or len(set(ids)) != len(ids):
            return "1 to 10 rows with unique ids"
        if any(len(r["title"]) > 24 or len(r["id"]) > 200 for r in rows):
            return "row title at most 24 characters, id at most 200"
        if not 0 < len(action.get("button", "")) <= 20:
            return "list button label 1 to 20 characters"
        if any(len(s.get("title", "")) > 24 for s in action.get("sections", [])):
            return "section title at most 24 characters"
        return None
    return "unexpected interactive type"
