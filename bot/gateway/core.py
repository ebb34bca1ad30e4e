"""The gateway's client of the core's internal channel (bot.core.channel)."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import aiohttp

logger = logging.getLogger(__name__)


class CoreUnavailable(Exception):
    """The core did not answer (down, loading, overloaded): the message was not handled."""


class CoreClient:
    def __init__(self, url: str, token: str, timeout_seconds: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: Optional[aiohttp.ClientSession] = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        try:
            async with self._http().post(f"{self.url}/webhooks/gateway/{path}", json=body) as resp:
                if resp.status != 200:
                    # Never the body: it may echo what the person typed.
                    raise CoreUnavailable(f"the core answered {resp.status}")
                answer = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CoreUnavailable(f"the core is unreachable ({type(exc).__name__})") from None
        if not isinstance(answer, dict):
            raise CoreUnavailable("the core's answer is not a JSON object")
        return answer

    async def turn(self, sender: str, text: str, channel: str, message_id: Optional[str] = None,
                   metadata: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """One turn: the bot messages the core produced for this message."""
        answer = await self._post("webhook", {"sender": sender, "message": text, "channel": channel,
                                              "message_id": message_id, "metadata": metadata or {}})
        messages = answer.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    async def last_bot_message(self, sender: str) -> Optional[Dict[str, Any]]:
        answer = await self._post("last_bot_message", {"sender": sender})
        message = answer.get("message")
        return message if isinstance(message, dict) else None

    async def ready(self) -> bool:
        try:
            async with self._http().get(f"{self.url}/webhooks/gateway/") as resp:
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False
