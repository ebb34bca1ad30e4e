"""Limits the gateway puts on what reaches the core: size caps, rates, one turn at a time."""
from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, Dict, Tuple

# A person's message: longer texts are refused before redaction and NLU see them.
MAX_MESSAGE_CHARS = 5000
# A request body of the web chat or REST endpoint (JSON with one message and an id).
MAX_BODY_BYTES = 64 * 1024
# Meta's webhook batches several messages and metadata; still small.
MAX_WEBHOOK_BYTES = 1024 * 1024


class RateLimiter:
    """Token buckets per key: ``burst`` messages at once, then ``per_minute``. Bounded memory: the
    least recently used keys are forgotten first (a forgotten key starts with a full bucket)."""

    def __init__(self, burst: int, per_minute: float, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.rate = float(burst), per_minute / 60.0
        self._buckets: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()
        self._max_keys, self._clock = max_keys, clock

    def allow(self, key: str) -> bool:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return allowed


class KeyedLocks:
    """One asyncio.Lock per key (FIFO), dropped when nobody holds or waits for it: one turn at a
    time per conversation, in the order the messages came."""

    def __init__(self) -> None:
        self._locks: Dict[str, asyncio.Lock] = {}
        self._users: Dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
