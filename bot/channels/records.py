"""What a messaging channel remembers in the gids database: which message ids it already handled
(ChannelMessageSeen) and when a person last wrote (ChannelContact, for WhatsApp's 24-hour window).

Plain, synchronous SQLAlchemy; the channel runs these in a worker thread. A failing database
becomes ``DatabaseUnavailable`` (bot.db.database_errors); a unique-key clash stays IntegrityError."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator, Optional

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import database_errors, rowcount, session_scope
from bot.db.models import ChannelContact, ChannelMessageSeen


@contextmanager
def _database(engine: Engine) -> Iterator[Session]:
    with database_errors("the gids database"), session_scope(engine) as session:
        yield session


def is_handled(engine: Engine, channel: str, message_id: str) -> bool:
    with _database(engine) as session:
        return session.get(ChannelMessageSeen, (channel, message_id)) is not None


def claim_message(engine: Engine, channel: str, message_id: str, now: datetime) -> bool:
    """Record a message id as handled; True when it was new (False: another replica handled the
    same delivery at the same moment). Called after the core answered, never before, so a crash in
    between means a redelivery is handled rather than skipped."""
    try:
        with _database(engine) as session:
            session.add(ChannelMessageSeen(channel=channel, message_id=message_id, received_at=now))
        return True
    except IntegrityError:
        return False


def touch_contact(engine: Engine, channel: str, user_id: str, at: datetime) -> None:
    """Remember that the person wrote at ``at``; an older (late, out-of-order) time never wins."""
    for _ in range(2):  # a second round only when another replica inserted the row meanwhile
        try:
            with _database(engine) as session:
                moved = rowcount(session.execute(
                    update(ChannelContact)
                    .where(ChannelContact.channel == channel, ChannelContact.user_id == user_id,
                           ChannelContact.last_inbound_at < at)
                    .values(last_inbound_at=at)
                    .execution_options(synchronize_session=False)))
                if not moved and session.get(ChannelContact, (channel, user_id)) is None:
                    session.add(ChannelContact(channel=channel, user_id=user_id, last_inbound_at=at))
            return
        except IntegrityError:
            continue


def last_inbound(engine: Engine, channel: str, user_id: str) -> Optional[datetime]:
    with _database(engine) as session:
        return session.execute(
            select(ChannelContact.last_inbound_at)
            .where(ChannelContact.channel == channel, ChannelContact.user_id == user_id)
        ).scalar_one_or_none()


def purge_seen(engine: Engine, before: datetime) -> int:
    """Forget handled message ids older than ``before`` (Meta stops retrying long before)."""
    with _database(engine) as session:
        return rowcount(session.execute(
            delete(ChannelMessageSeen).where(ChannelMessageSeen.received_at < before)
            .execution_options(synchronize_session=False)))
