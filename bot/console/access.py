"""Who may see which handover. (The changes staff and partner systems make to one are in
bot.handover.lifecycle.)

Every read of a handover goes through ``visible_to`` (staff) or ``visible_to_partner`` (API): a
handover outside that filter is treated as not existing, so a 404 never confirms a reference."""
from __future__ import annotations

import re
from typing import Optional

from sqlalchemy import false, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.db.models import Handover

from .auth import Staff

REFERENCE_RE = re.compile(r"^WC-\d{4}-\d{6,12}$")


def visible_to(staff: Staff) -> ColumnElement[bool]:
    if staff.role == "admin":
        return true()
    if staff.role == "werkcentrum" and staff.region_code:
        return Handover.region_code == staff.region_code
    if staff.role == "partner" and staff.partner_id:
        return Handover.partner_id == staff.partner_id
    return false()


def visible_to_partner(partner_id: str) -> ColumnElement[bool]:
    return Handover.partner_id == partner_id


def find(session: Session, reference: str, condition: ColumnElement[bool], *,
         lock: bool = False) -> Optional[Handover]:
    if not REFERENCE_RE.match(reference or ""):
        return None
    query = select(Handover).where(Handover.reference == reference, condition)
    if lock:
        query = query.with_for_update()  # PostgreSQL: two staff members act on it one after the other
    return session.execute(query).scalar_one_or_none()
