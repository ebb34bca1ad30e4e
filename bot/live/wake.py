"""Wakes the readers of the live chat (the gateway's desk, the console's event streams) when a
message is committed, instead of at their next poll: PostgreSQL's LISTEN/NOTIFY.

Writers notify in their own transaction (``bot.live.notify``), so PostgreSQL sends the
notification when, and only when, the message is committed. One thread per process listens on its
own connection and wakes every waiting reader. A notification carries nothing: readers read the
database as before, and their poll stays as the safety net (a listener that lost its connection,
SQLite, which has no notifications). Nothing here can lose a message; it can only make a reader
look sooner."""
from __future__ import annotations

import asyncio
import logging
import os
import select
import threading
import time
from typing import Any, Dict, Optional, Set, Tuple

from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

CHANNEL = "gids_live"
RECONNECT_MAX_SECONDS = 10.0


class Waker:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # GIDS_LIVE_LISTEN=0: poll only (e.g. behind a pgbouncer in transaction mode, which
        # cannot keep a LISTEN).
        self.listening = engine.dialect.name == "postgresql" and os.environ.get("GIDS_LIVE_LISTEN", "1") != "0"
        self.seq = 0                      # notifications seen; a reader remembers it before it reads
        self.backend_pid: Optional[int] = None
        self.connected = threading.Event()
        self._waiters: Set[Tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._last_complaint = 0.0

    def start(self) -> "Waker":
        if self.listening and self._thread is None:
            self._thread = threading.Thread(target=self._listen, name="gids-live-waker", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    async def wait(self, since: int, timeout: float) -> None:
        """Until a message was committed after the reader took ``since`` (``seq`` before its last
        read), or ``timeout`` seconds passed."""
        event = asyncio.Event()
        key = (asyncio.get_running_loop(), event)
        with self._lock:
            if self.seq != since:
                return
            self._waiters.add(key)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(key)

    def _wake_all(self) -> None:
        with self._lock:
            self.seq += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that reader's loop has closed
                pass

    def _listen(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            pooled = None
            try:
                pooled = self.engine.raw_connection()
                pooled.detach()  # ours for good: the pool must never hand out a listening connection
                conn: Any = pooled.dbapi_connection  # psycopg2's own connection
                conn.autocommit = True
                with conn.cursor() as cursor:
                    cursor.execute(f"LISTEN {CHANNEL}")
                self.backend_pid = conn.get_backend_pid()
                self.connected.set()
                delay = 0.5
                self._wake_all()  # what was committed while we were not listening
                while not self._stop.is_set():
                    if select.select([conn], [], [], 1.0) == ([], [], []):
                        continue
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        self._wake_all()
            except Exception as exc:  # noqa: BLE001 - the database went away; the poll carries on
                self.connected.clear()
                if time.monotonic() - self._last_complaint > 60:
                    self._last_complaint = time.monotonic()
                    logger.warning("live chat: not listening for new messages (%s); polling until it is back",
                                   type(exc).__name__)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)
            finally:
                self.connected.clear()
                if pooled is not None:
                    try:
                        pooled.close()
                    except Exception:  # noqa: BLE001 - already gone
                        pass


_WAKERS: Dict[Engine, Waker] = {}
_WAKERS_LOCK = threading.Lock()


def waker_for(engine: Engine) -> Waker:
    """The process's one listener for this engine, started on first use."""
    with _WAKERS_LOCK:
        waker = _WAKERS.get(engine)
        if waker is None:
            waker = _WAKERS[engine] = Waker(engine).start()
        return waker


def release(engine: Engine) -> None:
    """Stops this engine's listener (an app's cleanup); a later ``waker_for`` starts a new one."""
    with _WAKERS_LOCK:
        waker = _WAKERS.pop(engine, None)
    if waker is not None:
        waker.stop()
