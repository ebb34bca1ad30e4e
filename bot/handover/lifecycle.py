"""What happens to a handover: it is made, claimed, given notes, forwarded and closed.

The staff console, the partner API and the actions make these changes through these functions
and no other code, so a change is the same, and leaves the same audit entry, whoever makes it.
Each works in the caller's transaction (the caller commits) and returns an ``Outcome`` with a
Dutch message for staff and a code for the API:

- ``create``: the handover with its transcript and partner notifications (``create_handover``)
  and its "create" audit entry; ``receiving_partner`` says who gets it.
- ``claim``: new → claimed. Of two people claiming at the same moment exactly one wins.
- ``close``: → closed. Notifications the partner did not get yet are cancelled by the next
  delivery round, and leasing skips them from now on (bot/handover/outbox.py).
- ``forward``: to another partner, as new again; the new partner's notifications are queued and
  those the previous partner did not get yet are cancelled, in this same transaction.
- ``add_note``: an internal note. Which notes a staff member reads is the console's rule (a
  partner reads its own organisation's and the Werkcentrum's, see bot/console/queries.py).

Who acts is an ``Actor``: a staff member (``Actor.staff``), a partner's system through the API
(``Actor.partner_system``) or the gids itself (``GIDS``)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional, Protocol, Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.db import rowcount
from bot.db.models import Handover, HandoverNote, Partner
from bot.handover import TranscriptEntry, audit, create_handover, outbox, utcnow, werkcentrum_for

MAX_NOTE_LENGTH = 4000


class StaffMember(Protocol):
    """A staff account as these functions need it: the console's ``Staff`` or a ``StaffUser`` row."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


@dataclass(frozen=True)
class Actor:
    """Who changes a handover, as its audit entries name them."""
    name: str                      # a staff member's user name, "api:<partner id>" or "gids"
    user_id: Optional[int] = None  # the staff member's account; None for a system

    @classmethod
    def staff(cls, member: StaffMember) -> Actor:
        return cls(member.username, member.id)

    @classmethod
    def partner_system(cls, partner_id: str) -> Actor:
        """A partner's own system, through the partner API."""
        return cls(f"api:{partner_id}")


GIDS = Actor("gids")


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str         # Dutch, for staff
    code: str = "ok"     # for the API: ok, already, closed, invalid


# --- create ---------------------------------------------------------------------------------

def receiving_partner(session: Session, partner_id: Optional[str],
                      region_code: Optional[str]) -> Optional[Partner]:
    """Who gets the handover: the partner ``partner_id`` (the card the person chose), else the
    Werkcentrum of the person's region (``werkcentrum_for``). None when neither exists."""
    partner = session.get(Partner, partner_id) if partner_id else None
    return partner if partner is not None else werkcentrum_for(session, region_code)


def create(session: Session, *, partner: Partner, conversation_id: str, channel: str,
           contact_name: str, contact_method: str, contact_value: str,
           transcript: Sequence[TranscriptEntry] = (), topics: Iterable[str] = (),
           service_id: Optional[int] = None, region_code: Optional[str] = None,
           gemeente_code: Optional[str] = None, audience: str = "werkzoekende", reason: str = "routing",
           summary: str = "", by: Actor = GIDS, now: Optional[datetime] = None) -> Handover:
    """A new handover for ``partner``, its notifications and its audit entry. Without the
    person's region, the handover counts for the partner's region."""
    handover = create_handover(
        session, conversation_id=conversation_id, channel=channel, partner_id=partner.id,
        contact_name=contact_name, contact_method=contact_method, contact_value=contact_value,
        transcript=transcript, topics=topics, service_id=service_id,
        region_code=region_code or partner.region_code, gemeente_code=gemeente_code, audience=audience,
        reason=reason, summary=summary, now=now)
    audit.record(session, "create", actor=by.name, user_id=by.user_id, handover=handover,
                 detail=json.dumps({"reason": reason, "channel": channel}))
    return handover


# --- claim and close ------------------------------------------------------------------------

def claim(session: Session, handover: Handover, by: Actor, *, ip: Optional[str] = None) -> Outcome:
    """new -> claimed. The UPDATE only matches a new handover, so of two people claiming at the
    same moment exactly one wins."""
    now = utcnow()
    result = session.execute(
        update(Handover).where(Handover.id == handover.id, Handover.status == "new")
        .values(status="claimed", claimed_by=by.user_id, claimed_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    session.refresh(handover)
    if rowcount(result) == 1:
        audit.record(session, "claim", actor=by.name, user_id=by.user_id, handover=handover, ip=ip)
        return Outcome(True, "Je hebt deze vraag opgepakt.")
    audit.record(session, "claim", actor=by.name, user_id=by.user_id, handover=handover, ip=ip,
                 detail=f"niet gewijzigd: status {handover.status}")
    if handover.status == "closed":
        return Outcome(False, "Deze vraag is al afgesloten.", "closed")
    if by.user_id is not None and handover.claimed_by == by.user_id:
        return Outcome(False, "Je had deze vraag al opgepakt.", "already")
    return Outcome(False, "Iemand anders heeft deze vraag al opgepakt.", "already")


def close(session: Session, handover: Handover, by: Actor, *, ip: Optional[str] = None) -> Outcome:
    """-> closed, from new or claimed. Closing a closed handover changes nothing."""
    now = utcnow()
    result = session.execute(
        update(Handover).where(Handover.id == handover.id, Handover.status != "closed")
        .values(status="closed", closed_at=now, updated_at=now)
        .execution_options(synchronize_session=False))
    session.refresh(handover)
    if rowcount(result) == 1:
        audit.record(session, "close", actor=by.name, user_id=by.user_id, handover=handover, ip=ip)
        return Outcome(True, "De vraag is afgesloten.")
    audit.record(session, "close", actor=by.name, user_id=by.user_id, handover=handover, ip=ip,
                 detail="niet gewijzigd: al afgesloten")
    return Outcome(False, "Deze vraag was al afgesloten.", "already")


# --- notes and forwarding -------------------------------------------------------------------

def add_note(session: Session, handover: Handover, text: str, by: Actor, *,
             ip: Optional[str] = None) -> Outcome:
    text = (text or "").strip()
    if not text:
        return Outcome(False, "Schrijf eerst een notitie.", "invalid")
    if len(text) > MAX_NOTE_LENGTH:
        return Outcome(False, f"Een notitie heeft hoogstens {MAX_NOTE_LENGTH} tekens. "
                              f"Deze heeft er {len(text)}.", "invalid")
    now = utcnow()
    session.add(HandoverNote(handover_id=handover.id, user_id=by.user_id, created_at=now, text=text))
    handover.updated_at = now
    # The note itself may hold personal data; the audit log only says that one was written.
    audit.record(session, "note", actor=by.name, user_id=by.user_id, handover=handover, ip=ip)
    return Outcome(True, "Je notitie is opgeslagen.")


def forward(session: Session, handover: Handover, partner_id: str, by: Actor, *, reason: str = "",
            ip: Optional[str] = None) -> Outcome:
    """Gives the handover to another partner: it starts again as new there, that partner is
    notified through the outbox and the previous partner's unsent notifications are cancelled,
    all in this same transaction. A reason is kept as a note (by ``by``)."""
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
        session.add(HandoverNote(handover_id=handover.id, user_id=by.user_id, created_at=now,
                                 text=f"Doorgestuurd naar {partner.name}: {reason}"))
    session.flush()
    audit.record(session, "forward", actor=by.name, user_id=by.user_id, handover=handover,
                 ip=ip, detail=f"van {previous} naar {partner.id}")
    outbox.enqueue(session, handover)  # also cancels what the previous partner did not get yet
    return Outcome(True, f"De vraag is doorgestuurd naar {partner.name}.")
