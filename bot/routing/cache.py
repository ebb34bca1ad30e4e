"""A small per-key cache for the routing table in memory (the place index, the services).

The table changes a few times a year and people ask all day, so values live INDEX_TTL seconds.
After the first load nobody waits for a reload: a stale value is served while one background
thread reloads it. Without that, every first question after a quiet 5 minutes paid ~0.3 s."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Dict, Generic, Hashable, Optional, Set, Tuple, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class RefreshingCache(Generic[T]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.entries: Dict[Hashable, Tuple[float, T]] = {}  # key -> (loaded at, value)
        self._lock = threading.Lock()
        self._reloading: Set[Hashable] = set()
        self._generation = 0  # clear() makes reloads that started before it void

    def get(self, key: Hashable, load: Callable[[], T], max_age: Optional[float] = None) -> T:
        max_age = self.ttl if max_age is None else max_age
        with self._lock:
            hit = self.entries.get(key)
            if hit is not None:
                if time.monotonic() - hit[0] >= max_age and key not in self._reloading:
                    self._reloading.add(key)
                    threading.Thread(target=self._reload, args=(key, load, self._generation),
                                     name=f"reload-{key}", daemon=True).start()
                return hit[1]
        value = load()  # the very first load: the caller has to wait for it
        with self._lock:
            self.entries[key] = (time.monotonic(), value)
        return value

    def _reload(self, key: Hashable, load: Callable[[], T], generation: int) -> None:
        try:
            value = load()
        except Exception as exc:  # keep serving the old value; the next call tries again
            log.warning("reloading the routing table failed: %s", type(exc).__name__)
            value = None
        with self._lock:
            self._reloading.discard(key)
            if value is not None and generation == self._generation:
                self.entries[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self._generation += 1
