"""The audit log: every view and change of a handover, by staff, partner systems or the gids.
``detail`` must never hold personal data (it outlives the handover after a purge)."""
from __future__ import annotations

from typing import Optional, Protocol

from sqlalchemy.orm import Session

from bot.db.models import AuditLog, Handover
from bot.handover import utcnow


class Account(Protocol):
    """A staff account: a ``StaffUser`` row or the console's ``Staff`` (only its id is kept)."""

    @property
    def id(self) -> int: ...


def record(session: Session, action: str, *, actor: str, user: Optional[Account] = None,
           user_id: Optional[int] = None, handover: Optional[Handover] = None, detail: str = "",
           ip: Optional[str] = None) -> AuditLog:
    """Adds one entry to the session. ``actor`` names who acted; ``user`` (or ``user_id``) is their
    staff account, if they have one."""
    entry = AuditLog(at=utcnow(), user_id=user.id if user is not None else user_id, actor=actor,
                     action=action, handover_id=handover.id if handover is not None else None,
                     handover_reference=handover.reference if handover is not None else None,
                     detail=detail, ip=ip)
    session.add(entry)
    return entry
