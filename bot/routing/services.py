"""Service lookup and triage: topic × gemeente × audience → who helps, in what order."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Dict, Iterable, List, Optional

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from bot.db.models import Partner, Service
from bot.routing.places import GemeenteRef

TOPICS = ("ask_retraining", "ask_debt_help", "ask_language_help", "ask_vacancies", "ask_benefits",
          "ask_career_advice", "ask_dismissal_help", "ask_apprenticeship", "employer_hiring",
          "employer_training")
EMPLOYER_TOPICS = {"employer_hiring", "employer_training"}
RESIDENT_AUDIENCES = ("werkzoekende", "werkende")
SCOPE_RANK = {"gemeente": 0, "region": 1, "national": 2}

# The Werkcentra's advice: debts and language first, because they block every next step; then
# what has a deadline (a dismissal, an uitkering); then work and learning.
TRIAGE_ORDER = ["ask_debt_help", "ask_language_help", "ask_dismissal_help", "ask_benefits",
                "ask_vacancies", "ask_apprenticeship", "ask_retraining", "ask_career_advice",
                "employer_hiring", "employer_training"]
BLOCKING_TOPICS = {"ask_debt_help", "ask_language_help"}


def order_needs(topics: Iterable[str]) -> List[str]:
    """Several needs in one conversation, in the order to take them up (duplicates dropped)."""
    unique = list(dict.fromkeys(t for t in topics if t in TRIAGE_ORDER))
    return sorted(unique, key=TRIAGE_ORDER.index)


def default_audiences(topic: str, audience: Optional[str] = None) -> List[str]:
    if audience:
        return [audience]
    return ["werkgever"] if topic in EMPLOYER_TOPICS else list(RESIDENT_AUDIENCES)


@dataclass
class ServiceCard:
    partner_id: str
    partner_type: str
    partner: str
    service: str
    conditions: str
    scope: str
    audience: str
    priority: int
    verified: bool
    contact: Dict[str, str] = field(default_factory=dict)
    service_id: Optional[int] = None  # the handover records which service the person was sent to

    def as_dict(self) -> Dict:
        return {"partner_type": self.partner_type, "partner": self.partner, "service": self.service,
                "conditions": self.conditions, "scope": self.scope, "audience": self.audience,
                "contact": self.contact, "verified": self.verified}


def _contact(p: Partner) -> Dict[str, str]:
    fields = {"phone": p.phone, "phone_hours": p.phone_hours, "website": p.website, "email": p.email,
              "address": p.address, "opening_hours": p.opening_hours}
    # The gids never shows a contact detail that the table does not have.
    return {k: v for k, v in fields.items() if v}


def find_services(session: Session, topic: str, gemeente: GemeenteRef,
                  audience: Optional[str] = None, today: Optional[date] = None) -> List[ServiceCard]:
    """Services for this topic where the person lives, the most specific first.

    Within one partner type only the most specific scope is kept, so a region's own
    leerwerkloket replaces the national list of leerwerkloketten."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    today = today or date.today()
    audiences = default_audiences(topic, audience)
    query = (
        select(Service, Partner).join(Partner, Service.partner_id == Partner.id)
        .where(Service.topic == topic, Service.audience.in_(audiences),
               or_(Service.valid_from.is_(None), Service.valid_from <= today),
               or_(Service.valid_until.is_(None), Service.valid_until >= today),
               or_(Service.scope == "national",
                   and_(Service.scope == "region", Service.region_code == gemeente.region_code),
                   and_(Service.scope == "gemeente", Service.gemeente_code == gemeente.code)))
    )
    rows = session.execute(query).all()
    rows.sort(key=lambda r: (SCOPE_RANK[r.Service.scope], r.Service.priority,
                             audiences.index(r.Service.audience), r.Partner.name))
    best_scope: Dict[str, int] = {}
    for r in rows:
        best_scope.setdefault(r.Partner.type, SCOPE_RANK[r.Service.scope])
    cards: List[ServiceCard] = []
    seen = set()
    for r in rows:
        s, p = r.Service, r.Partner
        if SCOPE_RANK[s.scope] != best_scope[p.type] or p.id in seen:
            continue  # a more specific partner of this type, or this partner for another audience
        seen.add(p.id)
        cards.append(ServiceCard(partner_id=p.id, partner_type=p.type, partner=p.name,
                                 service=s.description, conditions=s.conditions, scope=s.scope,
                                 audience=s.audience, priority=s.priority,
                                 verified=bool(s.verified and p.verified), contact=_contact(p),
                                 service_id=s.id))
    return cards
