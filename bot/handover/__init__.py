"""Handovers: a person's consented request to be contacted by a partner, with a redacted transcript.

``create_handover`` writes the handover, its transcript and its partner notifications (outbox) in
one transaction: either all of it is stored or nothing is. Plain Python, no Rasa."""
from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Handover, TranscriptLine

REFERENCE_PREFIX = "WC"
REFERENCE_DIGITS = 10


def utcnow() -> datetime:
    """UTC without tzinfo: how every time is stored (SQLite and PostgreSQL compare them alike)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def make_reference(created_at: datetime) -> str:
    """A new reference: WC-<year>-<10 random digits>, for example WC-2026-4829173650.

    Random, not a counter: someone who knows their own reference cannot work out another's (an
    erasure request names a reference). Digits only, the first never 0: easy to read out, and the
    shape the console, the API and `gids forget` already accept (older rows keep WC-2026-000123).
    9 billion numbers a year. 10 digits and no leading 0, so the redaction in bot.privacy never
    takes a reference in a transcript for a BSN (9 digits) or a Dutch phone number (0…)."""
    low = 10 ** (REFERENCE_DIGITS - 1)
    return f"{REFERENCE_PREFIX}-{created_at.year}-{low + secrets.randbelow(9 * low)}"


def _free_reference(session: Session, created_at: datetime) -> str:
    """A reference no handover has yet. The unique constraint on handover.reference is the final
    check: a duplicate (one in billions, and only at the same moment) fails the transaction."""
    for _ in range(20):
        reference = make_reference(created_at)
        if session.execute(select(Handover.id).where(Handover.reference == reference)).first() is None:
            return reference
    raise RuntimeError("no free handover reference found")


@dataclass(frozen=True)
class TranscriptEntry:
    speaker: str          # "persoon" or "gids"
    text: str             # already redacted
    sent_at: Optional[datetime] = None


def create_handover(session: Session, *, conversation_id: str, channel: str, partner_id: str,
                    contact_name: str, contact_method: str, contact_value: str,
                    transcript: Sequence[TranscriptEntry] = (), topics: Iterable[str] = (),
                    service_id: Optional[int] = None, region_code: Optional[str] = None,
                    gemeente_code: Optional[str] = None, audience: str = "werkzoekende",
                    reason: str = "routing", summary: str = "",
                    now: Optional[datetime] = None, notify: bool = True) -> Handover:
    """Adds the handover with its transcript (and, with ``notify``, its outbox messages) to the
    session. The caller's transaction commits it; nothing is written on any error."""
    now = now or utcnow()
    handover = Handover(
        created_at=now, updated_at=now, status="new", conversation_id=conversation_id,
        channel=channel or "rest", partner_id=partner_id, service_id=service_id,
        region_code=region_code, gemeente_code=gemeente_code, topics=json.dumps(list(topics)),
        audience=audience, reason=reason, contact_name=contact_name,
        contact_method=contact_method, contact_value=contact_value, summary=summary,
        reference=_free_reference(session, now))
    handover.transcript = [TranscriptLine(position=i, speaker=e.speaker, text=e.text, sent_at=e.sent_at)
                           for i, e in enumerate(transcript)]
    session.add(handover)
    session.flush()  # the id, for the outbox
    if notify:
        from bot.handover.outbox import enqueue
        enqueue(session, handover)
    session.flush()
    return handover


def topics_of(handover: Handover) -> List[str]:
    try:
        return list(json.loads(handover.topics or "[]"))
    except ValueError:
        return []


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.replace(tzinfo=timezone.utc).isoformat() if value else None


def handover_dict(handover: Handover, include_transcript: bool = True) -> dict:
    """The one JSON shape of a handover: console export, partner API and webhook all use it."""
    data: Dict[str, Any] = {
        "reference": handover.reference,
        "status": handover.status,
        "created_at": _iso(handover.created_at),
        "updated_at": _iso(handover.updated_at),
        "channel": handover.channel,
        "reason": handover.reason,
        "partner_id": handover.partner_id,
        "partner_name": handover.partner.name if handover.partner is not None else None,
        "service_id": handover.service_id,
        "region_code": handover.region_code,
        "gemeente_code": handover.gemeente_code,
        "topics": topics_of(handover),
        "audience": handover.audience,
        "contact": {"name": handover.contact_name, "method": handover.contact_method,
                    "value": handover.contact_value},
        "summary": handover.summary,
        "claimed_at": _iso(handover.claimed_at),
        "closed_at": _iso(handover.closed_at),
    }
    if include_transcript:
        data["transcript"] = [{"speaker": line.speaker, "text": line.text, "sent_at": _iso(line.sent_at)}
                              for line in handover.transcript]
    return data


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def werkcentrum_for(session: Session, region_code: Optional[str]):
    """Who receives a handover when a person asks for a person: their region's Werkcentrum, or
    werkcentrum.nl when the table has none for the region yet (the region's staff still see it)."""
    from sqlalchemy import select

    from bot.db.models import Partner
    from bot.routing.seed import NATIONAL_WERKCENTRUM

    if region_code:
        regional = session.scalars(select(Partner).where(Partner.type == "werkcentrum",
                                                         Partner.region_code == region_code)
                                   .order_by(Partner.id)).first()
        if regional is not None:
            return regional
    return session.get(Partner, NATIONAL_WERKCENTRUM)
