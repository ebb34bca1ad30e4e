"""The audit log: every view and change of a handover, by staff, partner systems or the gids.
``detail`` must never hold personal data (it outlives the handover after a purge)."""
from __future__ import annotations

from typing import Optional

from sqlalchemy.orm import Session

from bot.db.models import AuditLog, Handover, StaffUser


def record(session: Session, action: str, *, actor: str, user: Optional[StaffUser] = None,
           handover: Optional[Handover] = None, detail: str = "", ip: Optional[str] = None) -> AuditLog:
    from bot.handover import utcnow

    entry = AuditLog(at=utcnow(), user_id=user.id if user is not None else None, actor=actor,
                     action=action, handover_id=handover.id if handover is not None else None,
                     handover_reference=handover.reference if handover is not None else None,
                     detail=detail, ip=ip)
    session.add(entry)
    return entry
