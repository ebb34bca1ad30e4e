"""Partners keep their own card current (issue 14): a partner's staff propose a change to their
organisation's contact details in the console; the Werkcentrum of the partner's region, or an
administrator, approves or rejects it. Who may do what is decided here, in one place:

- propose: partner staff, for their own partner only;
- see a request: administrators all, Werkcentrum staff those of partners in their region, partner
  staff their own partner's;
- approve or reject: administrators, and Werkcentrum staff of the partner's region (a national
  partner, without a region, only administrators); never the proposer.

Approval writes the values through the routing import (bot.routing.io: the same validation and
the same upsert as ``gids routing import``), marks the partner row verified with who and when,
records in partner_field_source that each value came from the partner, and clears this process's
cached routing table once the transaction is committed. Every step is in the audit log (which
names the fields, never their values)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from sqlalchemy import delete, event, false, func, insert, select, true, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.db.models import Gemeente, Partner, PartnerChangeRequest, PartnerFieldSource, Service
from bot.handover import audit, utcnow
from bot.routing import io as rio

# What partner staff may change on their own card, in the order of the form.
FIELDS = ("phone", "phone_hours", "website", "email", "address", "opening_hours", "handover_email",
          "handover_webhook")
LABELS = {
    "phone": "Telefoonnummer", "phone_hours": "Telefonisch bereikbaar", "website": "Website",
    "email": "E-mailadres", "address": "Adres", "opening_hours": "Openingstijden",
    "handover_email": "E-mailadres voor doorverwijzingen", "handover_webhook": "Webhook voor doorverwijzingen",
}
SOURCE = "partner via console"
MAX_REASON = 1000

STATUS_NAMES = {"proposed": "Wacht op controle", "approved": "Goedgekeurd", "rejected": "Afgewezen",
                "withdrawn": "Vervangen door een nieuwer voorstel"}


class Member(Protocol):
    """A staff member as the console knows them (bot.console.auth.Staff)."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def region_code(self) -> Optional[str]: ...

    @property
    def partner_id(self) -> Optional[str]: ...


class ChangeError(ValueError):
    """A proposal or decision that cannot be made; the message says why, in B1 Dutch. ``errors``:
    per field, what is wrong with the value typed there."""

    def __init__(self, message: str, errors: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.errors = errors or {}


class NotAllowed(ChangeError):
    """This staff member may not do this."""


class NotFound(ChangeError):
    """No such request, or one this staff member may not see (answered the same way)."""


# --- who may do what ------------------------------------------------------------------------------

def _region_expr() -> ColumnElement:
    """A partner's arbeidsmarktregio in SQL: its own, or its gemeente's."""
    of_gemeente = select(Gemeente.region_code).where(Gemeente.code == Partner.gemeente_code).scalar_subquery()
    return func.coalesce(Partner.region_code, of_gemeente)


def partner_region(session: Session, partner: Partner) -> Optional[str]:
    """The partner's arbeidsmarktregio (its own, or its gemeente's); None for a national partner."""
    if partner.region_code:
        return partner.region_code
    if partner.gemeente_code:
        gemeente = session.get(Gemeente, partner.gemeente_code)
        return gemeente.region_code if gemeente is not None else None
    return None


def may_propose(member: Member, partner_id: str) -> bool:
    return member.role == "partner" and bool(member.partner_id) and member.partner_id == partner_id


def may_decide(member: Member, region: Optional[str]) -> bool:
    """Administrators always; Werkcentrum staff for partners of their own region only."""
    if member.role == "admin":
        return True
    return member.role == "werkcentrum" and bool(member.region_code) and region == member.region_code


def visible_to(member: Member) -> ColumnElement[bool]:
    """The requests this staff member may see (the query must join Partner)."""
    if member.role == "admin":
        return true()
    if member.role == "werkcentrum" and member.region_code:
        return _region_expr() == member.region_code
    if member.role == "partner" and member.partner_id:
        return PartnerChangeRequest.partner_id == member.partner_id
    return false()


# --- checking a proposal --------------------------------------------------------------------------

def _has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 or c == "\x7f" for c in text)


def _webhook_problem(url: str) -> Optional[str]:
    """The rules the worker applies when it delivers (bot.handover.notify): https only, and no
    private, loopback or other non-public address unless the host is in GIDS_WEBHOOK_ALLOW. A
    host name is looked up only at delivery (and refused there if it points inside)."""
    from bot.handover import notify

    inside = ("Dit adres wijst naar een intern of lokaal netwerk. De gids stuurt alleen naar adressen "
              "op internet. Heb je een intern adres nodig? Vraag het Werkcentrum.")
    if not rio.valid_url(url):
        return "Dit is geen webadres. Begin met https://, bijvoorbeeld https://crm.voorbeeld.nl/gids."
    try:
        host, _ = notify.check_webhook_address(url)
    except notify.TargetRefused as exc:
        if "https" in str(exc):
            return "De webhook moet een https-adres zijn, bijvoorbeeld https://crm.voorbeeld.nl/gids."
        return inside
    name = notify.normal_host(host) if host is not None else ""
    if name == "localhost" or name.endswith(".localhost"):  # always this machine (RFC 6761)
        return inside
    return None


def _problem(name: str, value: str) -> Optional[str]:
    """What is wrong with ``value`` for this field (in B1 Dutch), or None."""
    if _has_control_characters(value):
        return "Gebruik hier geen tab of enter."
    limit = getattr(Partner.__table__.c[name].type, "length", None)
    if limit and len(value) > limit:
        return f"Dit is te lang. Je mag hier {limit} tekens gebruiken."
    if name == "phone" and not rio.valid_phone(value):
        return "Dit is geen Nederlands telefoonnummer. Schrijf het bijvoorbeeld zo: 050 367 91 11."
    if name == "website" and not rio.valid_url(value):
        return "Dit is geen webadres. Begin met https://, bijvoorbeeld https://www.voorbeeld.nl."
    if name in ("email", "handover_email") and not rio.valid_email(value):
        return "Dit is geen e-mailadres. Schrijf het bijvoorbeeld zo: info@voorbeeld.nl."
    if name == "handover_webhook":
        return _webhook_problem(value)
    return None


def _clean(value: Optional[str]) -> Optional[str]:
    text = (value or "").strip()
    return text or None


def proposed_changes(partner: Partner, values: Mapping[str, str]) -> Dict[str, Optional[str]]:
    """The fields of ``values`` that differ from the partner's current card, checked: {field: new
    value, None to clear it}. Raises ChangeError with a message per field, or when nothing changes."""
    changes: Dict[str, Optional[str]] = {}
    errors: Dict[str, str] = {}
    for name in FIELDS:
        if name not in values:
            continue
        raw = values[name] if isinstance(values[name], str) else ""
        new = _clean(raw)
        if new == _clean(getattr(partner, name)):
            continue
        problem = _problem(name, new) if new is not None else None
        if problem:
            errors[name] = problem
        else:
            changes[name] = new
    if errors:
        count = "1 gegeven klopt" if len(errors) == 1 else f"{len(errors)} gegevens kloppen"
        raise ChangeError(f"{count} nog niet. Onder het vak staat wat er mis is.", errors)
    if not changes:
        raise ChangeError("Je hebt niets veranderd. Pas eerst een gegeven aan en stuur het dan.")
    return changes


# --- propose --------------------------------------------------------------------------------------

def propose(session: Session, member: Member, partner_id: str, values: Mapping[str, str], *,
            ip: Optional[str] = None, now: Optional[datetime] = None) -> PartnerChangeRequest:
    """A partner's staff member proposes new values for their organisation's card. A proposal of
    that partner still waiting is replaced (status withdrawn): the newest one is what counts."""
    if not may_propose(member, partner_id):
        raise NotAllowed("Je kunt alleen de gegevens van je eigen organisatie veranderen.")
    # Locked: two proposals of one partner at the same moment are made one after the other.
    partner = session.execute(select(Partner).where(Partner.id == partner_id).with_for_update()).scalar_one_or_none()
    if partner is None:
        raise NotFound("Deze organisatie staat niet in de gids.")
    changes = proposed_changes(partner, values)
    now = now or utcnow()
    waiting = session.execute(select(PartnerChangeRequest).where(
        PartnerChangeRequest.partner_id == partner_id, PartnerChangeRequest.status == "proposed")).scalars().all()
    for old in waiting:
        old.status, old.decided_at = "withdrawn", now
        old.decided_by, old.decided_by_user_id = member.username, member.id
    request = PartnerChangeRequest(
        partner_id=partner_id, status="proposed", new_values=json.dumps(changes, ensure_ascii=False),
        old_values=json.dumps({k: getattr(partner, k) for k in changes}, ensure_ascii=False),
        proposed_by=member.username, proposed_by_user_id=member.id, proposed_at=now)
    session.add(request)
    session.flush()
    replaced = f" replaces={','.join(str(r.id) for r in waiting)}" if waiting else ""
    audit.record(session, "partner_change_propose", actor=member.username, user=member, ip=ip,
                 detail=f"request={request.id} partner={partner_id} fields={','.join(changes)}{replaced}")
    return request


# --- decide ---------------------------------------------------------------------------------------

def find(session: Session, member: Member, request_id: int, *, lock: bool = False
         ) -> Optional[PartnerChangeRequest]:
    """The request, if this staff member may see it."""
    query = (select(PartnerChangeRequest).join(Partner, Partner.id == PartnerChangeRequest.partner_id)
             .where(PartnerChangeRequest.id == request_id, visible_to(member)))
    if lock:
        # PostgreSQL: two staff members deciding at once decide one after the other.
        query = query.with_for_update(of=PartnerChangeRequest)
    return session.execute(query).scalar_one_or_none()


def _decidable(session: Session, member: Member, request_id: int) -> Tuple[PartnerChangeRequest, Partner]:
    request = find(session, member, request_id, lock=True)
    if request is None:
        raise NotFound("Dit voorstel bestaat niet, of je mag het niet zien.")
    partner = session.get(Partner, request.partner_id)
    assert partner is not None  # the foreign key cascades: no request without its partner
    if not may_decide(member, partner_region(session, partner)):
        raise NotAllowed("Alleen het Werkcentrum van de regio of een beheerder beslist over dit voorstel.")
    if request.proposed_by_user_id is not None and request.proposed_by_user_id == member.id:
        raise NotAllowed("Over je eigen voorstel beslist iemand anders.")
    if request.status != "proposed":
        raise ChangeError(f"Over dit voorstel is al besloten: {STATUS_NAMES[request.status].lower()}.")
    return request, partner


def _forget_cache_after_commit(session: Session) -> None:
    """The next card this process shows has the new values; other processes (the action server)
    read the table again within 5 minutes, as after an import."""
    def forget(_session: Session) -> None:
        from bot.routing import forget_cached_services
        forget_cached_services()
    event.listen(session, "after_commit", forget, once=True)


def approve(session: Session, member: Member, request_id: int, *, services_checked: bool = False,
            ip: Optional[str] = None, now: Optional[datetime] = None) -> PartnerChangeRequest:
    """Writes the proposed values through the routing import and marks the partner row verified
    by this staff member now. ``services_checked``: they also checked what the partner does (its
    services); those are marked verified too, and only then does a card say "gecontroleerd op"."""
    request, partner = _decidable(session, member, request_id)
    now = (now or utcnow()).replace(microsecond=0)
    new: Dict[str, Optional[str]] = json.loads(request.new_values)
    row = rio.Row(file=f"voorstel {request.id}", line=request.id, values={
        "id": partner.id, "type": partner.type, "name": partner.name,
        **{k: v or "" for k, v in new.items()},
        "verified": "true", "verified_at": now.strftime("%Y-%m-%d %H:%M:%S"), "verified_by": member.name})
    partners, _, problems = rio.validate(session, [row], [])
    if problems:
        # The rules of the import changed since the proposal was made: nothing is written.
        raise ChangeError("Dit voorstel past niet bij de regels van de routeringstabel: "
                          + "; ".join(p.reason for p in problems))
    rio.apply_import(session, partners, [])

    # Where each value comes from now: the partner (without the seed's source or doubt).
    source = f"{SOURCE}: voorstel {request.id} van {request.proposed_by}, goedgekeurd door {member.name}"
    session.execute(delete(PartnerFieldSource).where(PartnerFieldSource.partner_id == partner.id,
                                                     PartnerFieldSource.field.in_(list(new)))
                    .execution_options(synchronize_session=False))
    sourced = [{"partner_id": partner.id, "field": k, "source": source, "checked_on": now.date(), "doubt": None}
               for k, v in new.items() if v is not None]
    if sourced:
        session.execute(insert(PartnerFieldSource.__table__), sourced)
    if services_checked:
        session.execute(update(Service).where(Service.partner_id == partner.id).values(verified=True)
                        .execution_options(synchronize_session=False))

    request.status, request.decided_at = "approved", now
    request.decided_by, request.decided_by_user_id = member.username, member.id
    audit.record(session, "partner_change_approve", actor=member.username, user=member, ip=ip,
                 detail=f"request={request.id} partner={partner.id} fields={','.join(new)} "
                        f"services_checked={'yes' if services_checked else 'no'}")
    _forget_cache_after_commit(session)
    return request


def reject(session: Session, member: Member, request_id: int, reason: str, *,
           ip: Optional[str] = None, now: Optional[datetime] = None) -> PartnerChangeRequest:
    """Rejects with a reason the partner sees; the card keeps its values."""
    reason = (reason or "").strip()
    if not reason:
        raise ChangeError("Schrijf kort waarom je dit voorstel afwijst. De partner ziet dat.")
    if len(reason) > MAX_REASON:
        raise ChangeError(f"De reden is te lang. Je mag {MAX_REASON} tekens gebruiken.")
    if any(ord(c) < 32 and c not in "\r\n\t" for c in reason):
        raise ChangeError("De reden heeft tekens die ik niet kan opslaan. Typ hem opnieuw.")
    request, partner = _decidable(session, member, request_id)
    request.status, request.decided_at = "rejected", now or utcnow()
    request.decided_by, request.decided_by_user_id = member.username, member.id
    request.reason = reason
    # The reason itself stays with the request: the audit log names what happened, not what was said.
    audit.record(session, "partner_change_reject", actor=member.username, user=member, ip=ip,
                 detail=f"request={request.id} partner={partner.id}")
    return request


# --- what the console and `gids partner changes` show ---------------------------------------------

@dataclass
class FieldChange:
    field: str
    label: str
    old: Optional[str]
    new: Optional[str]


@dataclass
class RequestView:
    id: int
    status: str
    partner_id: str
    partner_name: str
    partner_type: str
    region: Optional[str]
    proposed_by: str
    proposed_at: datetime
    decided_by: Optional[str]
    decided_at: Optional[datetime]
    reason: Optional[str]
    changes: List[FieldChange] = field(default_factory=list)
    may_decide: bool = False

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)


def describe(session: Session, member: Member, request: PartnerChangeRequest, partner: Partner) -> RequestView:
    """Old → new per field: for a waiting request the card's values now (what approving would
    change), for a decided one the values when it was proposed."""
    new = json.loads(request.new_values)
    old = json.loads(request.old_values)
    waiting = request.status == "proposed"
    region = partner_region(session, partner)
    return RequestView(
        id=request.id, status=request.status, partner_id=partner.id, partner_name=partner.name,
        partner_type=partner.type, region=region, proposed_by=request.proposed_by,
        proposed_at=request.proposed_at, decided_by=request.decided_by, decided_at=request.decided_at,
        reason=request.reason,
        changes=[FieldChange(k, LABELS.get(k, k), getattr(partner, k) if waiting else old.get(k), v)
                 for k, v in new.items()],
        may_decide=waiting and may_decide(member, region) and request.proposed_by_user_id != member.id)


def requests_for(session: Session, member: Member, *, decided_limit: int = 30,
                 partner_id: Optional[str] = None) -> Tuple[List[RequestView], List[RequestView]]:
    """(the waiting requests this staff member may see, oldest first; the latest decided ones)."""
    base = (select(PartnerChangeRequest, Partner).join(Partner, Partner.id == PartnerChangeRequest.partner_id)
            .where(visible_to(member)))
    if partner_id:
        base = base.where(PartnerChangeRequest.partner_id == partner_id)
    waiting = session.execute(base.where(PartnerChangeRequest.status == "proposed")
                              .order_by(PartnerChangeRequest.proposed_at, PartnerChangeRequest.id)).all()
    decided = session.execute(base.where(PartnerChangeRequest.status != "proposed")
                              .order_by(PartnerChangeRequest.decided_at.desc(), PartnerChangeRequest.id.desc())
                              .limit(decided_limit)).all()
    return ([describe(session, member, r, p) for r, p in waiting],
            [describe(session, member, r, p) for r, p in decided])


@dataclass(frozen=True)
class Reader:
    """Who reads every request without deciding: ``gids partner changes`` on the command line."""
    id: int = 0
    username: str = "cli"
    name: str = "cli"
    role: str = "admin"
    region_code: Optional[str] = None
    partner_id: Optional[str] = None


def waiting(session: Session, region: Optional[str] = None) -> List[RequestView]:
    """Every request waiting for a decision, oldest first; ``region``: of that region's partners."""
    reader = Reader(role="werkcentrum", region_code=region) if region else Reader()
    return requests_for(session, reader, decided_limit=0)[0]


def card_previews(session: Session, partner: Partner) -> List[Tuple[str, str]]:
    """The partner's cards as the gids shows them now, read from the table (not a cache):
    [(topic, text)], one per different text."""
    from bot.messages import partner_card
    from bot.routing.services import make_offer

    doubtful = {name for (name,) in session.execute(
        select(PartnerFieldSource.field).where(PartnerFieldSource.partner_id == partner.id,
                                               PartnerFieldSource.doubt.isnot(None), PartnerFieldSource.doubt != ""))}
    seen: Dict[str, None] = {}
    previews: List[Tuple[str, str]] = []
    services: Sequence[Service] = session.execute(
        select(Service).where(Service.partner_id == partner.id).order_by(Service.topic, Service.priority, Service.id)
    ).scalars().all()
    for s in services:
        text = partner_card(make_offer(s, partner, doubtful).card.as_dict())
        if text not in seen:
            seen[text] = None
            previews.append((s.topic, text))
    return previews
