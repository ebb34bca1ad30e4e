"""The gateway's client of the core's internal channel (bot.core.channel), for one core or several
replicas that share the tracker store (PostgreSQL) and the lock store (Redis)."""
from __future__ import annotations

import hashlib
import logging
import time
from typing import Any, Dict, List, Optional, Sequence, Union

import aiohttp

logger = logging.getLogger(__name__)

# After a refused connection a replica is tried last for this long, so the turns of the next
# seconds do not each wait for a dead replica first.
DOWN_SECONDS = 10.0


class CoreUnavailable(Exception):
    """The core did not answer (down, loading, overloaded): the message was not handled."""


class TurnMetrics:
    """What the gateway counts per turn (bot.metrics.GatewayMetrics); this one counts nothing.
    ``turn``/``unavailable``: a turn that went to the core; ``refused``: a message the gateway
    stopped before the core (outcome: rate_limited, too_long, refused_id, ...)."""

    def turn(self, channel: str, seconds: float, answers: Sequence[Dict[str, Any]]) -> None:
        pass

    def unavailable(self, channel: str, seconds: float) -> None:
        pass

    def refused(self, channel: str, outcome: str) -> None:
        pass


def core_urls(urls: Union[str, Sequence[str]]) -> List[str]:
    """One URL, a comma-separated list (GIDS_CORE_URL) or a list of them, without duplicates."""
    parts = urls.split(",") if isinstance(urls, str) else list(urls)
    found: List[str] = []
    for part in parts:
        url = part.strip().rstrip("/")
        if url and url not in found:
            found.append(url)
    if not found:
        raise ValueError("no core URL given")
    return found


class CoreClient:
    """Turns go to the replica that rendezvous hashing gives the conversation, so one conversation
    stays on one replica while it is up. When that replica refuses the connection (it never saw the
    message) or drops it twice, the next replica in the conversation's own order takes the turn:
    the shared tracker store has the conversation. A replica that dies in the middle of a turn can
    so cost one retried turn. A timeout or an error answer is not retried elsewhere, since the
    first replica may have handled the message already."""

    def __init__(self, url: Union[str, Sequence[str]], token: str, timeout_seconds: float = 30.0) -> None:
        self.urls = core_urls(url)
        self.url = self.urls[0]
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: Optional[aiohttp.ClientSession] = None
        self._down_until: Dict[str, float] = {}
        self.metrics: TurnMetrics = TurnMetrics()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Shorter than the core's (Sanic's) keep-alive of 5 s, so a pooled connection is
            # rarely one the core has already closed.
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers,
                                                  connector=aiohttp.TCPConnector(keepalive_timeout=4))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def replicas_for(self, sender: str) -> List[str]:
        """The replicas in the order this conversation tries them: its own (stable) order, with
        replicas that recently refused a connection moved to the end."""
        def weight(url: str) -> bytes:
            return hashlib.blake2b(f"{url}\n{sender}".encode(), digest_size=8).digest()

        ranked = sorted(self.urls, key=weight, reverse=True)
        now = time.monotonic()
        return sorted(ranked, key=lambda url: self._down_until.get(url, 0.0) > now)

    async def _post(self, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        refused = 0
        for url in self.replicas_for(str(body.get("sender", ""))):
            # A second try on the same replica only after a dropped connection: a pooled
            # connection the replica had closed (it stopped, or its keep-alive ended).
            for attempt in (1, 2):
                try:
                    return await self._post_to(url, path, body)
                except aiohttp.ServerDisconnectedError:
                    if attempt == 1:
                        continue
                except aiohttp.ClientConnectorError:
                    pass
                refused += 1
                self._down_until[url] = time.monotonic() + DOWN_SECONDS
                logger.warning("core replica %d of %d is not reachable; trying the next",
                               self.urls.index(url) + 1, len(self.urls))
                break
        raise CoreUnavailable(f"no core replica accepted the connection ({refused} tried)")

    async def _post_to(self, url: str, path: str, body: Dict[str, Any]) -> Dict[str, Any]:
        try:
            async with self._http().post(f"{url}/webhooks/gateway/{path}", json=body) as resp:
                if resp.status != 200:
                    # Never the body: it may echo what the person typed.
                    raise CoreUnavailable(f"the core answered {resp.status}")
                answer = await resp.json()
        except (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError):
            raise
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CoreUnavailable(f"the core is unreachable ({type(exc).__name__})") from None
        self._down_until.pop(url, None)
        if not isinstance(answer, dict):
            raise CoreUnavailable("the core's answer is not a JSON object")
        return answer

    async def turn(self, sender: str, text: str, channel: str, message_id: Optional[str] = None,
                   metadata: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
        """One turn: the bot messages the core produced for this message."""
        started = time.monotonic()
        try:
            answer = await self._post("webhook", {"sender": sender, "message": text, "channel": channel,
                                                  "message_id": message_id, "metadata": metadata or {}})
        except CoreUnavailable:
            self.metrics.unavailable(channel, time.monotonic() - started)
            raise
        messages = answer.get("messages")
        found = [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []
        self.metrics.turn(channel, time.monotonic() - started, found)
        return found

    async def resume(self, sender: str, what: str) -> List[Dict[str, Any]]:
        """A live chat ended (bot.gateway.live): the core speaks again; its bot messages."""
        answer = await self._post("resume", {"sender": sender, "what": what})
        messages = answer.get("messages")
        return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []

    async def last_bot_message(self, sender: str) -> Optional[Dict[str, Any]]:
        answer = await self._post("last_bot_message", {"sender": sender})
        message = answer.get("message")
        return message if isinstance(message, dict) else None

    async def replica_ready(self, url: str) -> bool:
        try:
            async with self._http().get(f"{url}/webhooks/gateway/") as resp:
                return resp.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def readiness(self) -> Dict[str, int]:
        """How many replicas there are and how many answer (counts only: URLs stay internal)."""
        ready = 0
        for url in self.urls:
            ready += await self.replica_ready(url)
        return {"replicas": len(self.urls), "ready": ready}

    async def ready(self) -> bool:
        return (await self.readiness())["ready"] > 0
