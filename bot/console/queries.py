"""The console's database work: what the pages (views.py) and the partner API (api.py) read and
write, each a plain function on a SQLAlchemy session that ``web.in_db`` runs in one transaction.

Every read of a handover goes through a visibility filter (access.py), and every look is written
to the audit log. Changes to a handover go through bot.handover.lifecycle, the same functions
the actions use."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Tuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.db.models import (HANDOVER_STATUSES, Arbeidsmarktregio, AuditLog, Gemeente, Handover, HandoverNote,
                           Partner, Service, StaffUser)
from bot.handover import audit, handover_dict, lifecycle, topics_of
from bot.handover.lifecycle import Actor, Outcome
from bot.routing import changes
from bot.routing.reach import coverage_report

from . import access, fmt, trends
from .auth import Staff

PAGE_SIZE = 50

# What a filter of the inbox or the trends may hold (views.py reads them from the query string).
Filters = Dict[str, Any]


class BadFilter(ValueError):
    pass


# --- login and logout -------------------------------------------------------------------------

def record_logout(session: Session, staff: Staff, sid: str, ip: Optional[str]) -> None:
    audit.record(session, "logout", actor=staff.username, user=staff, ip=ip, detail=f"sid={sid}")


# --- inbox ------------------------------------------------------------------------------------

def _start_of_today_utc() -> datetime:
    local_midnight = datetime.now(fmt.LOCAL).replace(hour=0, minute=0, second=0, microsecond=0)
    return local_midnight.astimezone(timezone.utc).replace(tzinfo=None)


def inbox(session: Session, staff: Staff, f: Filters, ip: Optional[str]) -> dict:
    if f["region"] and session.get(Arbeidsmarktregio, f["region"]) is None:
        raise BadFilter(f"Regio '{f['region']}' ken ik niet.")
    gemeenten: List[Any] = []
    if staff.role == "werkcentrum":
        gemeenten = list(session.execute(select(Gemeente.code, Gemeente.name).where(
            Gemeente.region_code == staff.region_code).order_by(Gemeente.name)).all())
        if f["gemeente"] and f["gemeente"] not in {g.code for g in gemeenten}:
            raise BadFilter(f"Gemeente '{f['gemeente']}' ligt niet in jouw regio.")

    conditions = [access.visible_to(staff)]
    if f["topic"]:
        # topics is a JSON list; the topic was checked against the known names, so LIKE is exact.
        conditions.append(Handover.topics.like(f'%"{f["topic"]}"%'))
    if f["region"]:
        conditions.append(Handover.region_code == f["region"])
    if f["gemeente"]:
        conditions.append(Handover.gemeente_code == f["gemeente"])
    week_ago = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=7)
    if f["age"] == "today":
        conditions.append(Handover.created_at >= _start_of_today_utc())
    elif f["age"] == "week":
        conditions.append(Handover.created_at >= week_ago)
    elif f["age"] == "older":
        conditions.append(Handover.created_at < week_ago)

    by_status: Dict[str, int] = {status: count for status, count in session.execute(
        select(Handover.status, func.count()).where(*conditions).group_by(Handover.status)).all()}
    counts = {s: by_status.get(s, 0) for s in HANDOVER_STATUSES}
    counts["open"] = counts["new"] + counts["claimed"]
    counts["all"] = counts["open"] + counts["closed"]

    if f["status"] == "open":
        conditions.append(Handover.status.in_(("new", "claimed")))
    elif f["status"] != "all":
        conditions.append(Handover.status == f["status"])
    rows = session.execute(select(Handover).where(*conditions)
                           .order_by(Handover.created_at.desc(), Handover.id.desc())
                           .offset((f["page"] - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).scalars().all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    names = _names(session, rows)
    items = [{"reference": h.reference, "created_at": h.created_at, "status": h.status,
              "topics": topics_of(h), "gemeente": names["gemeente"].get(h.gemeente_code, ""),
              "region": names["region"].get(h.region_code, ""),
              "partner": names["partner"].get(h.partner_id, h.partner_id),
              "claimed_by": names["staff"].get(h.claimed_by, "")} for h in rows]
    # The list shows no personal data, but who looked at which list is still worth knowing.
    audit.record(session, "inbox", actor=staff.username, user=staff, ip=ip)
    regions = session.execute(select(Arbeidsmarktregio.code, Arbeidsmarktregio.name)
                              .order_by(Arbeidsmarktregio.name)).all() if staff.role == "admin" else []
    return {"items": items, "counts": counts, "more": more, "regions": regions, "gemeenten": gemeenten}


def _names(session: Session, handovers: Iterable[Handover]) -> Dict[str, Dict[Any, str]]:
    handovers = list(handovers)

    def lookup(key: Any, col: Any, values: Iterable[Optional[str]]) -> Dict[Any, str]:
        wanted = {v for v in values if v is not None}
        if not wanted:
            return {}
        return {k: name for k, name in session.execute(select(key, col).where(key.in_(wanted))).all()}
    return {
        "gemeente": lookup(Gemeente.code, Gemeente.name, (h.gemeente_code for h in handovers)),
        "region": lookup(Arbeidsmarktregio.code, Arbeidsmarktregio.name, (h.region_code for h in handovers)),
        "partner": lookup(Partner.id, Partner.name, (h.partner_id for h in handovers)),
        "staff": {uid: (disp or user) for uid, disp, user in session.execute(
            select(StaffUser.id, StaffUser.display_name, StaffUser.username).where(
                StaffUser.id.in_({h.claimed_by for h in handovers if h.claimed_by}))).all()},
    }


# --- one handover -----------------------------------------------------------------------------

def _not_found(session: Session, reference: str, by: Actor, ip: Optional[str]) -> None:
    # Guessing references is worth spotting; the detail holds only the reference that was tried,
    # escaped: it comes from the URL, and PostgreSQL refuses text with a NUL character.
    tried = reference[:40].encode("unicode_escape").decode("ascii")
    audit.record(session, "not_found", actor=by.name, user_id=by.user_id, detail=f"reference={tried}", ip=ip)


def _details(session: Session, h: Handover, staff: Staff, *, with_audit: bool) -> Dict[str, Any]:
    names = _names(session, [h])
    service = session.get(Service, h.service_id) if h.service_id else None
    notes, note_authors = visible_notes(session, h, staff)
    partner = h.partner
    data: Dict[str, Any] = {
        "h": {"reference": h.reference, "status": h.status, "created_at": h.created_at,
              "updated_at": h.updated_at, "channel": h.channel, "reason": h.reason, "audience": h.audience,
              "summary": h.summary, "topics": topics_of(h), "contact_name": h.contact_name,
              "contact_method": h.contact_method, "contact_value": h.contact_value,
              "claimed_at": h.claimed_at, "closed_at": h.closed_at,
              "claimed_by": names["staff"].get(h.claimed_by, "") if h.claimed_by else "",
              "claimed_by_me": h.claimed_by == staff.id},
        "partner": {"id": partner.id, "name": partner.name, "type": partner.type, "phone": partner.phone,
                    "email": partner.email, "website": partner.website},
        "service": service.description if service is not None else "",
        "gemeente": names["gemeente"].get(h.gemeente_code, ""),
        "region": names["region"].get(h.region_code, ""),
        "transcript": [{"speaker": t.speaker, "text": t.text, "sent_at": t.sent_at} for t in h.transcript],
        "notes": [{"text": n.text, "created_at": n.created_at, "author": note_authors.get(n.user_id, "onbekend")}
                  for n in notes],
        "trail": [],
    }
    if with_audit:
        data["trail"] = [{"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail, "ip": a.ip}
                         for a in session.execute(select(AuditLog).where(AuditLog.handover_id == h.id)
                                                  .order_by(AuditLog.at.desc(), AuditLog.id.desc())
                                                  .limit(200)).scalars()]
    return data


def visible_notes(session: Session, h: Handover, staff: Staff) -> Tuple[List[HandoverNote], Dict[Any, str]]:
    """The notes this staff member may read, and their authors' names.

    Notes are internal to the organisation that wrote them. A note has no owner column, so its
    organisation is its author's: partner staff see the notes written by their own partner's
    staff and by Werkcentrum staff and administrators (who hand the case over), not those of a
    partner that had the handover before it was forwarded, nor notes whose author was removed.
    Werkcentrum staff and administrators see every note, as before. (A note written by someone
    who later moved to another partner counts for the new one: a ``handover_note.partner_id``
    filled in when the note is written would fix that; it needs a migration.)"""
    authors = {row.id: row for row in session.execute(
        select(StaffUser.id, StaffUser.display_name, StaffUser.username, StaffUser.role, StaffUser.partner_id)
        .where(StaffUser.id.in_({n.user_id for n in h.notes if n.user_id}))).all()}

    def readable(note: HandoverNote) -> bool:
        if staff.role != "partner":
            return True
        author = authors.get(note.user_id)
        if author is None:
            return False
        return author.role in ("werkcentrum", "admin") or (
            author.role == "partner" and author.partner_id == staff.partner_id)

    return ([n for n in h.notes if readable(n)],
            {uid: a.display_name or a.username for uid, a in authors.items()})


def _forward_options(session: Session, h: Handover) -> List[Tuple[str, List[Dict[str, str]]]]:
    """Partners grouped so the likely ones come first: this gemeente and region, then national."""
    near: List[Dict[str, str]] = []
    national: List[Dict[str, str]] = []
    other: List[Dict[str, str]] = []
    for p in session.execute(select(Partner.id, Partner.name, Partner.type, Partner.region_code,
                                    Partner.gemeente_code).order_by(Partner.name)).all():
        if p.id == h.partner_id:
            continue
        item = {"id": p.id, "label": f"{p.name} ({fmt.PARTNER_TYPES.get(p.type, p.type)})"}
        if (p.gemeente_code and p.gemeente_code == h.gemeente_code) or (p.region_code and p.region_code == h.region_code):
            near.append(item)
        elif p.gemeente_code is None and p.region_code is None:
            national.append(item)
        else:
            other.append(item)
    return [(label, items) for label, items in (("In deze gemeente en regio", near), ("Landelijk", national),
                                                ("Andere gemeenten en regio's", other)) if items]


def handover_page(session: Session, staff: Staff, reference: str, action: str,
                  ip: Optional[str]) -> Optional[Dict[str, Any]]:
    """What the handover page (``action`` "view") or its print page ("print") shows; None when
    this staff member cannot see a handover with this reference."""
    h = access.find(session, reference, access.visible_to(staff))
    if h is None:
        _not_found(session, reference, Actor.staff(staff), ip)
        return None
    audit.record(session, action, actor=staff.username, user=staff, handover=h, ip=ip)
    data = _details(session, h, staff, with_audit=staff.is_admin and action == "view")
    if action == "view" and h.status != "closed":
        data["forward_options"] = _forward_options(session, h)
    return data


def export(session: Session, staff: Staff, reference: str, ip: Optional[str]) -> Optional[Dict[str, Any]]:
    h = access.find(session, reference, access.visible_to(staff))
    if h is None:
        _not_found(session, reference, Actor.staff(staff), ip)
        return None
    audit.record(session, "export", actor=staff.username, user=staff, handover=h, ip=ip)
    return handover_dict(h)


def change(session: Session, staff: Staff, reference: str, action: str, form: Dict[str, str],
           ip: Optional[str]) -> Optional[Tuple[Outcome, bool]]:
    """A staff member claims, closes, notes or forwards a handover (``action``); returns the
    outcome and whether they can still see the handover (a forward may take it out of sight)."""
    # Locked: a note and a forward at the same moment must not interleave.
    h = access.find(session, reference, access.visible_to(staff), lock=True)
    by = Actor.staff(staff)
    if h is None:
        _not_found(session, reference, by, ip)
        return None
    if action == "claim":
        outcome = lifecycle.claim(session, h, by, ip=ip)
    elif action == "close":
        outcome = lifecycle.close(session, h, by, ip=ip)
    elif action == "note":
        outcome = lifecycle.add_note(session, h, form.get("text", ""), by, ip=ip)
    else:
        outcome = lifecycle.forward(session, h, form.get("partner_id", ""), by, reason=form.get("reason", ""),
                                    ip=ip)
    session.flush()
    still_visible = access.find(session, reference, access.visible_to(staff)) is not None
    return outcome, still_visible


# --- trends -----------------------------------------------------------------------------------

def trends_page(session: Session, staff: Staff, region: str, weeks: int, ip: Optional[str]) -> Dict[str, Any]:
    regions = session.execute(select(Arbeidsmarktregio.code, Arbeidsmarktregio.name)
                              .order_by(Arbeidsmarktregio.name)).all()
    if region and region not in {r.code for r in regions}:
        raise BadFilter(f"Regio '{region}' ken ik niet.")
    today = datetime.now(fmt.LOCAL).date()
    t = trends.weekly_counts(session, weeks=weeks, region_code=region or None, today=today)
    audit.record(session, "trends", actor=staff.username, user=staff, ip=ip,
                 detail=f"region={region or 'alle'} weeks={weeks}")
    return {"t": t, "chart": trends.line_chart(t), "regions": regions,
            "region_name": {r.code: r.name for r in regions}.get(region, "")}


# --- a partner's own card: "Onze gegevens" ----------------------------------------------------

def partner_page(session: Session, staff: Staff, typed: Optional[Dict[str, str]] = None,
                 errors: Optional[Dict[str, str]] = None) -> Optional[Dict[str, Any]]:
    """What partner staff see of their organisation's card; None when they have no partner.
    ``typed``: the values of a form that could not be sent, shown again with ``errors``."""
    partner = session.get(Partner, staff.partner_id) if staff.role == "partner" and staff.partner_id else None
    if partner is None:
        return None
    waiting, decided = changes.requests_for(session, staff, decided_limit=10, partner_id=partner.id)
    values = {k: getattr(partner, k) or "" for k in changes.FIELDS}
    if waiting:  # the form starts from what is waiting, so a new proposal (which replaces it) keeps it
        values.update({c.field: c.new or "" for c in waiting[-1].changes})
    values.update(typed or {})
    return {"partner": {"id": partner.id, "name": partner.name, "type": partner.type,
                        "verified": partner.verified, "verified_at": partner.verified_at,
                        "verified_by": partner.verified_by},
            "fields": [(k, changes.LABELS[k]) for k in changes.FIELDS], "values": values,
            "errors": errors or {}, "problem": None, "waiting": waiting, "decided": decided,
            "previews": changes.card_previews(session, partner)}


def propose_change(session: Session, staff: Staff, form: Dict[str, str],
                   ip: Optional[str]) -> Tuple[Optional[str], Optional[Dict[str, Any]]]:
    """(None, None) when the proposal was made; otherwise (why not, the page to show again)."""
    try:
        changes.propose(session, staff, staff.partner_id or "", form, ip=ip)
    except changes.ChangeError as exc:
        return str(exc), partner_page(session, staff, typed=form, errors=exc.errors)
    return None, None


# --- change requests: "Wijzigingen" -----------------------------------------------------------

def changes_page(session: Session, staff: Staff) -> Dict[str, Any]:
    """The requests a Werkcentrum member or administrator may see, the waiting ones first, with
    what they need to judge them: the partner's note, its services and doubts about its details."""
    waiting, decided = changes.requests_for(session, staff)
    about: Dict[str, Dict[str, Any]] = {}
    for r in waiting:
        if r.partner_id in about:
            continue
        partner = session.get(Partner, r.partner_id)
        if partner is None:
            continue
        # One line per topic and text (a service is often there for job seekers and workers alike).
        services = list({(s.topic, s.description): s for s in session.execute(
            select(Service.topic, Service.description, Service.verified)
            .where(Service.partner_id == partner.id).order_by(Service.topic, Service.id)).all()}.values())
        doubts = {changes.LABELS.get(f.field, f.field): f.doubt for f in partner.field_sources if f.doubt}
        about[r.partner_id] = {"note": partner.note, "services": services, "doubts": doubts,
                               "verified": partner.verified, "verified_at": partner.verified_at,
                               "verified_by": partner.verified_by}
    return {"waiting": waiting, "decided": decided, "about": about}


def decide_change(session: Session, staff: Staff, request_id: int, action: str, form: Dict[str, str],
                  ip: Optional[str]) -> Optional[Tuple[bool, str]]:
    """Approves or rejects (``action``); (done, what to tell the staff member), or None when they
    cannot see this request."""
    try:
        if action == "approve":
            request = changes.approve(session, staff, request_id, services_checked=form.get("services_checked") == "ja",
                                      ip=ip)
            what = "goedgekeurd. De gids toont de nieuwe gegevens"
        else:
            request = changes.reject(session, staff, request_id, form.get("reason", ""), ip=ip)
            what = "afgewezen. De partner ziet je reden"
    except changes.NotFound:
        return None
    except changes.ChangeError as exc:
        return False, str(exc)
    partner = session.get(Partner, request.partner_id)
    return True, f"Het voorstel van {partner.name if partner else request.partner_id} is {what}."


# --- coverage: "Dekking" ------------------------------------------------------------------------

def coverage_page(session: Session, staff: Staff, region: str, ip: Optional[str]) -> Dict[str, Any]:
    """Per region × topic: cards shown, reachable, verified; the gaps first. Werkcentrum staff see
    their own region (whatever they ask for), administrators any region or all of them."""
    regions = session.execute(select(Arbeidsmarktregio.code, Arbeidsmarktregio.name)
                              .order_by(Arbeidsmarktregio.name)).all()
    if staff.role != "admin":
        region = staff.region_code or ""
    elif region and region not in {r.code for r in regions}:
        raise BadFilter(f"Regio '{region}' ken ik niet.")
    report = coverage_report(session, region or None)
    audit.record(session, "coverage", actor=staff.username, user=staff, ip=ip, detail=f"region={region or 'alle'}")
    return {"report": report, "regions": regions if staff.role == "admin" else [], "region": region,
            "region_name": {r.code: r.name for r in regions}.get(region, "")}


# --- the partner API --------------------------------------------------------------------------

def partner_list(session: Session, partner_id: str, f: Filters, ip: Optional[str]) -> Dict[str, Any]:
    conditions = [access.visible_to_partner(partner_id)]
    if f["statuses"]:
        conditions.append(Handover.status.in_(f["statuses"]))
    if f["since"] is not None:
        conditions.append(Handover.updated_at >= f["since"])
    # Oldest change first: a client that asks again with since = the last updated_at misses nothing.
    rows = session.execute(select(Handover).where(*conditions).order_by(Handover.updated_at, Handover.id)
                           .limit(f["limit"] + 1)).scalars().all()
    more = len(rows) > f["limit"]
    rows = rows[:f["limit"]]
    actor = Actor.partner_system(partner_id).name
    for h in rows:  # the list carries contact details, so each handover's trail shows it was fetched
        audit.record(session, "list", actor=actor, handover=h, ip=ip)
    return {"handovers": [handover_dict(h, include_transcript=False) for h in rows],
            "count": len(rows), "more": more}


def partner_view(session: Session, partner_id: str, reference: str, ip: Optional[str]) -> Optional[Dict[str, Any]]:
    h = access.find(session, reference, access.visible_to_partner(partner_id))
    by = Actor.partner_system(partner_id)
    if h is None:
        _not_found(session, reference, by, ip)
        return None
    audit.record(session, "view", actor=by.name, handover=h, ip=ip)
    return handover_dict(h)


def partner_change(session: Session, partner_id: str, reference: str, action: str,
                   ip: Optional[str]) -> Optional[Tuple[Dict[str, Any], Outcome]]:
    """A partner's system claims or closes (``action``) one of its handovers."""
    h = access.find(session, reference, access.visible_to_partner(partner_id), lock=True)
    by = Actor.partner_system(partner_id)
    if h is None:
        _not_found(session, reference, by, ip)
        return None
    outcome = (lifecycle.claim if action == "claim" else lifecycle.close)(session, h, by, ip=ip)
    return {"changed": outcome.changed, "handover": handover_dict(h, include_transcript=False)}, outcome
