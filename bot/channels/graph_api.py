"""A small client for the WhatsApp Cloud API's ``POST /{phone-number-id}/messages``.

Delivery is at most once, because WhatsApp has no idempotency key and a doubled message confuses
a person more than a missing one (the gids says something again on the next turn anyway):

- an answer 429, 500, 502 or 503, or a Graph throttling error code, is retried with exponential
  backoff and jitter, honouring ``Retry-After``, at most ``max_attempts`` times in all;
- a request that never left this machine (connection refused, DNS, connect timeout: the request
  headers were not sent) is retried the same way;
- anything that may have reached Meta without an answer (read timeout, dropped connection, 504
  from a gateway) is NOT repeated: it is logged as "delivery unknown";
- any other 4xx is not retried and is logged with Graph's error code only.

Logs never hold message text or phone numbers: the caller passes a masked recipient."""
from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, Dict, Optional

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v25.0"

RETRY_STATUSES = {429, 500, 502, 503}
# Graph error codes that mean "too much, too fast" or "temporarily down", whatever the HTTP status:
# 2 service unavailable, 4 app call limit, 80007 account rate limit, 130429 throughput,
# 131056 too many messages to one recipient.
RETRY_ERROR_CODES = {2, 4, 80007, 130429, 131056}
OUTSIDE_WINDOW_ERROR = 131047  # "re-engagement message": the 24-hour window is closed

SENT, REJECTED, GAVE_UP, UNKNOWN = "sent", "rejected", "gave_up", "unknown"


@dataclass(frozen=True)
class SendResult:
    outcome: str                       # sent, rejected, gave_up (retries used up), unknown
    status: Optional[int] = None       # last HTTP status, None when there was no answer
    error_code: Optional[int] = None   # Graph's error.code
    attempts: int = 0
    message_id: Optional[str] = None   # the wamid Meta gave the sent message

    @property
    def ok(self) -> bool:
        return self.outcome == SENT

    @property
    def maybe_delivered(self) -> bool:
        return self.outcome in (SENT, UNKNOWN)


def retry_after_seconds(value: Optional[str], now: Optional[datetime] = None) -> Optional[float]:
    """``Retry-After`` as seconds: either a number or an HTTP date. None when absent or garbled."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


async def _headers_sent(session, trace_ctx, params) -> None:  # aiohttp trace hook
    if isinstance(trace_ctx.trace_request_ctx, dict):
        trace_ctx.trace_request_ctx["headers_sent"] = True


class GraphClient:
    def __init__(self, base_url: str, phone_number_id: str, access_token: str, *,
                 max_attempts: int = 5, backoff_seconds: float = 1.0, max_backoff_seconds: float = 30.0,
                 max_retry_after_seconds: float = 120.0, timeout_seconds: float = 15.0,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.url = f"{base_url.rstrip('/')}/{phone_number_id}/messages"
        self._token = access_token
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.max_retry_after_seconds = max_retry_after_seconds
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds, connect=min(10.0, timeout_seconds))
        self._sleep = sleep
        self._session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            trace = aiohttp.TraceConfig()
            trace.on_request_headers_sent.append(_headers_sent)
            self._session = aiohttp.ClientSession(timeout=self.timeout, trace_configs=[trace])
            self._loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)  # jitter: replicas do not retry in step

    async def send(self, payload: Dict[str, Any], *, who: str = "?", what: str = "message") -> SendResult:
        """POST one message. ``who`` is the masked recipient, ``what`` its kind, both for logs."""
        headers = {"Authorization": f"Bearer {self._token}"}
        status = code = None
        for attempt in range(1, self.max_attempts + 1):
            trace: Dict[str, bool] = {"headers_sent": False}
            retry_after = None
            try:
                async with self._client().post(self.url, json=payload, headers=headers,
                                               trace_request_ctx=trace) as resp:
                    status = resp.status
                    body = await resp.read()
                    retry_after = retry_after_seconds(resp.headers.get("Retry-After"))
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                if trace["headers_sent"]:
                    logger.error("WhatsApp %s to %s: delivery unknown (%s after the request was sent); "
                                 "not repeated, to never send it twice", what, who, type(exc).__name__)
                    return SendResult(UNKNOWN, None, None, attempt)
                logger.warning("WhatsApp %s to %s: Graph API not reachable (%s), attempt %d of %d",
                               what, who, type(exc).__name__, attempt, self.max_attempts)
                status = code = None
            else:
                data = _json(body)
                if 200 <= status < 300:
                    ids = data.get("messages") if isinstance(data, dict) else None
                    wamid = ids[0].get("id") if isinstance(ids, list) and ids and isinstance(ids[0], dict) else None
                    return SendResult(SENT, status, None, attempt, wamid)
                error = data.get("error") if isinstance(data, dict) else None
                code = error.get("code") if isinstance(error, dict) else None
                trace_id = error.get("fbtrace_id") if isinstance(error, dict) else None
                if status == 504:
                    logger.error("WhatsApp %s to %s: HTTP 504 from a gateway, delivery unknown; not repeated",
                                 what, who)
                    return SendResult(UNKNOWN, status, code, attempt)
                if status not in RETRY_STATUSES and code not in RETRY_ERROR_CODES:
                    level = logging.INFO if code == OUTSIDE_WINDOW_ERROR else logging.ERROR
                    logger.log(level, "WhatsApp %s to %s rejected: HTTP %s, Graph error code %s, fbtrace_id %s; "
                               "not retried", what, who, status, code, trace_id)
                    return SendResult(REJECTED, status, code, attempt)
                logger.warning("WhatsApp %s to %s: HTTP %s, Graph error code %s, attempt %d of %d",
                               what, who, status, code, attempt, self.max_attempts)
            if attempt == self.max_attempts:
                break
            if retry_after is not None and retry_after > self.max_retry_after_seconds:
                logger.error("WhatsApp %s to %s: Graph API asks to wait %.0f s; giving up", what, who, retry_after)
                return SendResult(GAVE_UP, status, code, attempt)
            await self._sleep(retry_after if retry_after is not None else self._backoff(attempt))
        logger.error("WhatsApp %s to %s not sent after %d attempts (last HTTP %s, Graph error code %s)",
                     what, who, self.max_attempts, status, code)
        return SendResult(GAVE_UP, status, code, self.max_attempts)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
