"""The gateway's half of the live chat with staff (bot/live has the whole story).

While a person's conversation has an open chat, each of their messages is stored here instead of
going to the core (``person_message``); a message about acute danger is answered at once with
112/113 and flagged for the staff member. ``run()`` is the desk's loop, in every gateway process:

- it reads the stored messages in id order (a late commit included: ``live.FeedCursor``) and delivers what staff and the gids wrote to the
  person's channel (web chat: the conversation's socket.io room; WhatsApp: one gateway claims
  each message and sends it to Graph, so it goes out once);
- every SWEEP_SECONDS it sends waiting people whom nobody picked up back to the gids, resumes the
  core for chats that ended (the core's answers are stored and so delivered like the rest), and
  sends WhatsApp messages that a stopped gateway had claimed but not sent.

On PostgreSQL the loop wakes when a message is committed (bot/live/wake.py), else every
POLL_SECONDS. Everything goes through the database, so any gateway can serve any person and a restart loses
nothing: a web chat that reconnects asks for what it missed (``replay``)."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, TypeVar

from sqlalchemy.engine import Engine

from bot import live, messages
from bot.db import DatabaseUnavailable, database_errors, get_engine, session_scope
from bot.gateway.core import CoreClient, CoreUnavailable
from bot.live.wake import Waker, release, waker_for
from bot.safety import mentions_crisis

logger = logging.getLogger(__name__)

T = TypeVar("T")
POLL_SECONDS = 0.25
SWEEP_SECONDS = 2.0
Deliver = Callable[[live.FeedItem], Awaitable[None]]


@dataclass
class Stored:
    """A person's message, stored for the chat; ``replies`` go to the person at once (112/113)."""
    chat_id: int
    message_id: int
    replies: List[live.FeedItem] = field(default_factory=list)


def room(conversation_id: str) -> str:
    """The socket.io room of a conversation's live messages (every tab and reconnect joins it)."""
    return f"live:{conversation_id}"


class LiveDesk:
    def __init__(self, core: CoreClient, engine: Optional[Callable[[], Engine]] = None, *,
                 poll_seconds: float = POLL_SECONDS, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self.core = core
        self._engine_factory = engine or get_engine
        self._engine: Optional[Engine] = None
        self.poll_seconds, self.sweep_seconds = poll_seconds, sweep_seconds
        self.deliverers: Dict[str, Deliver] = {}
        self.typing: Optional[Callable[[str], Awaitable[None]]] = None
        self._task: Optional[asyncio.Task] = None
        self._last_complaint = 0.0
        self.rounds = 0

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._engine_factory()
        return self._engine

    async def db(self, fn: Callable[..., T], *args: Any) -> T:
        def work() -> T:
            with database_errors("the gids database"), session_scope(self.engine) as session:
                return fn(session, *args)
        return await asyncio.to_thread(work)

    # -- a person writes -----------------------------------------------------------------------

    async def person_message(self, channel: str, sender: str, text: str,
                             client_ref: Optional[str] = None) -> Optional[Stored]:
        """None when the conversation has no open chat (the message goes to the core). Raises
        DatabaseUnavailable when that cannot be known."""
        crisis = mentions_crisis(text)

        def work(session) -> Optional[Stored]:
            chat = live.open_chat(session, sender)
            if chat is None:
                return None
            message, new = live.add_message(session, chat, live.PERSON, text, client_ref=client_ref, crisis=crisis)
            stored = Stored(chat.id, message.id)
            if crisis and new:
                reply, _ = live.add_message(session, chat, live.GIDS, messages.LIVE_CRISIS, crisis=True)
                live.add_message(session, chat, live.SYSTEM, messages.LIVE_STAFF_CRISIS, to_person=False,
                                 crisis=True)
                session.flush()
                if chat.channel == "whatsapp":
                    live.claim_delivery(session, reply.id)  # sent by the caller now, not by the feed
                stored.replies = live.items(session, [reply.id])
            return stored
        return await self.db(work)

    async def replay(self, sender: str, after: int) -> List[live.FeedItem]:
        return await self.db(live.replay, sender, max(0, after))

    async def delivered(self, message_id: int, error: Optional[str] = None) -> None:
        await self.db(live.delivered, message_id, error)

    # -- the loop ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._engine is not None:
            await asyncio.to_thread(release, self._engine)

    async def run(self) -> None:
        cursor: Optional[live.FeedCursor] = None
        typing_since = live.utcnow()
        next_sweep = 0.0
        waker: Optional[Waker] = None
        while True:
            try:
                waker = waker or waker_for(self.engine)
                woken = waker.seq  # before the reads: a commit during them ends the next wait at once
                if cursor is None:
                    # Only what is new from now: a web chat asks for what it missed when it
                    # reconnects, and the sweep sends WhatsApp messages nobody sent.
                    cursor = live.FeedCursor(await self.db(live.last_id))
                for item in await self.db(cursor.read, live.feed):
                    if item.to_person and item.author != live.PERSON:
                        await self._deliver(item)
                now = live.utcnow()
                if self.typing is not None:
                    for conversation_id in await self.db(live.typing_since, typing_since):
                        await self.typing(conversation_id)
                typing_since = now
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_seconds
                    await self.sweep()
            except DatabaseUnavailable as exc:
                self._complain("live chat: %s", exc)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the loop must outlive one bad round
                logger.exception("live chat: a round of the desk failed")
            self.rounds += 1
            if waker is None:
                await asyncio.sleep(self.poll_seconds)
            else:  # the next commit of a message wakes us (PostgreSQL), else the poll
                await waker.wait(woken, self.poll_seconds)

    def _complain(self, text: str, *args: Any) -> None:
        if time.monotonic() - self._last_complaint > 60:  # once a minute, not four times a second
            self._last_complaint = time.monotonic()
            logger.error(text, *args)

    async def sweep(self) -> None:
        await self.db(live.expire)
        for resume in await self.db(live.claim_resumes):
            try:
                answers = await self.core.resume(resume.conversation_id, resume.what)
            except CoreUnavailable as exc:
                logger.warning("live chat: the core was not resumed (%s); tried again later", exc)
                await self.db(live.resume_failed, resume.chat_id)
                continue
            await self.db(live.resume_done, resume.chat_id, answers)
        if "whatsapp" in self.deliverers:
            for item in await self.db(live.undelivered):
                await self._deliver(item)

    async def _deliver(self, item: live.FeedItem) -> None:
        deliver = self.deliverers.get(item.channel)
        if deliver is None:
            return  # REST: scripts ask for nothing; another gateway's channel
        try:
            await deliver(item)
        except DatabaseUnavailable:
            raise
        except Exception:  # noqa: BLE001 - one person's failed delivery must not stop the others
            logger.exception("live chat: delivery on %s failed", item.channel)
