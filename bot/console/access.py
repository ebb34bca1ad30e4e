"""Who may see which handover, and the changes staff and partner systems make to one.

Every read of a handover goes through ``visible_to`` (staff) or ``visible_to_partner`` (API): a
handover outside that filter is treated as not existing, so a 404 never confirms a reference."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import false, select, true, update
from sqlalchemy.orm import Session

from bot.db.models import Handover, HandoverNote, Partner
from bot.handover import audit, utcnow

from .auth import Staff  # audit.record only reads ``user.id``, which Staff has

REFERENCE_RE = re.compile(r"^WC-\d{4}-\d{6,12}$")
MAX_NOTE_LENGTH = 4000


def visible_to(staff: Staff):
    if staff.role == "admin":
        return true()
    if staff.role == "werkcentrum" and staff.region_code:
        return Handover.region_code == staff.region_code
    if staff.role == "partner" and staff.partner_id:
        return Handover.partner_id == staff.partner_id
    return false()


def visible_to_partner(partner_id: str):
    return Handover.partner_id == partner_id


def find(session: Session, reference: str, condition, *, lock: bool = False) -> Optional[Handover]:
    if not REFERENCE_RE.match(reference or ""):
        return None
    query = select(Handover).where(Handover.reference == reference, condition)
    if lock:
        query = query.with_for_update()  # PostgreSQL: two staff members act on it one after the other
    return session.execute(query).scalar_one_or_none()


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str         # Dutch, for staff
    code: str = "ok"     # for the API: ok, already, closed, claimed_by_other, invalid


def claim(session: Session, handover: Handover, *, actor: str, staff: Optional[Staff] = None,
          ip: Optional[str] = None) -> Outcome:
    """new -> claimed. The UPDATE only matches a new handover, so of two people claiming at the
    same moment exactly one wins."""
    now = utcnow()
    result = session.execute(
        update(Handover).where(Handover.id == handover.id, Handover.status == "new")
        .values(status="claimed", claimed_by=staff.id if staff else None, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    session.refresh(handover)
    if result.rowcount == 1:
        audit.record(session, "claim", actor=actor, user=staff, handover=handover, ip=ip)
        return Outcome(True, "Je hebt deze vraag opgepakt.")
    audit.record(session, "claim", actor=actor, user=staff, handover=handover, ip=ip,
                 detail=f"niet gewijzigd: status {handover.status}")
    if handover.status == "closed":
        return Outcome(False, "Deze vraag is al afgesloten.", "closed")
    if staff is not None and handover.claimed_by == staff.id:
        return Outcome(False, "Je had deze vraag al opgepakt.", "already")
    return Outcome(False, "Iemand anders heeft deze vraag al opgepakt.", "already")


def close(session: Session, handover: Handover, *, actor: str, staff: Optional[Staff] = None,
          ip: Optional[str] = None) -> Outcome:
    now = utcnow()
    result = session.execute(
        update(Handover).where(Handover.id == handover.id, Handover.status != "closed")
        .values(status="closed", closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    session.refresh(handover)
    if result.rowcount == 1:
        audit.record(session, "close", actor=actor, user=staff, handover=handover, ip=ip)
        return Outcome(True, "De vraag is afgesloten.")
    audit.record(session, "close", actor=actor, user=staff, handover=handover, ip=ip,
                 detail="niet gewijzigd: al afgesloten")
    return Outcome(False, "Deze vraag was al afgesloten.", "already")


def add_note(session: Session, handover: Handover, text: str, *, staff: Staff,
             ip: Optional[str] = None) -> Outcome:
    text = (text or "").strip()
    if not text:
        return Outcome(False, "Schrijf eerst een notitie.", "invalid")
    if len(text) > MAX_NOTE_LENGTH:
        return Outcome(False, f"Een notitie heeft hoogstens {MAX_NOTE_LENGTH} tekens. "
                              f"Deze heeft er {len(text)}.", "invalid")
    now = utcnow()
    session.add(HandoverNote(handover_id=handover.id, user_id=staff.id, created_at=now, text=text))
    handover.updated_at = now
    # The note itself may hold personal data; the audit log only says that one was written.
    audit.record(session, "note", actor=staff.username, user=staff, handover=handover, ip=ip)
    return Outcome(True, "Je notitie is opgeslagen.")


def forward(session: Session, handover: Handover, partner_id: str, *, staff: Staff,
            reason: str = "", ip: Optional[str] = None) -> Outcome:
    """Gives the handover to another partner: it starts again as new there, and that partner is
    notified through the outbox in this same transaction."""
    partner = session.get(Partner, partner_id) if partner_id else None
    if partner is None:
        return Outcome(False, "Kies een partner uit de lijst.", "invalid")
    if partner.id == handover.partner_id:
        return Outcome(False, "Deze vraag ligt al bij die partner.", "invalid")
    if handover.status == "closed":
        return Outcome(False, "Een afgesloten vraag kun je niet doorsturen.", "closed")
    reason = (reason or "").strip()
    if len(reason) > MAX_NOTE_LENGTH:
        return Outcome(False, f"De reden heeft hoogstens {MAX_NOTE_LENGTH} tekens.", "invalid")
    now = utcnow()
    previous = handover.partner_id
    handover.partner_id = partner.id
    handover.partner = partner
    handover.service_id = None  # the service belonged to the previous partner
    handover.status = "new"
    handover.claimed_by = None
    handover.claimed_at = None
    handover.updated_at = now
    if reason:
        session.add(HandoverNote(handover_id=handover.id, user_id=staff.id, created_at=now,
                                 text=f"Doorgestuurd naar {partner.name}: {reason}"))
    session.flush()
    audit.record(session, "forward", actor=staff.username, user=staff, handover=handover,
                 ip=ip, detail=f"van {previous} naar {partner.id}")
    from bot.handover import outbox  # imported here: the outbox worker pulls in mail and HTTP code
    outbox.enqueue(session, handover)
    return Outcome(True, f"De vraag is doorgestuurd naar {partner.name}.")

