"""Service lookup and triage: topic × gemeente × audience → who helps, in what order."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Dict, Iterable, List, Optional

from sqlalchemy import select
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


@dataclass(frozen=True)
class Offer:
    """One service row with what choosing among them needs, and its card ready to hand out."""
    scope: str
    region_code: Optional[str]
    gemeente_code: Optional[str]
    audience: str
    priority: int
    valid_from: Optional[date]
    valid_until: Optional[date]
    partner_id: str
    partner_type: str
    partner_name: str
    card: ServiceCard

    def valid_on(self, today: date) -> bool:
        return ((self.valid_from is None or self.valid_from <= today)
                and (self.valid_until is None or self.valid_until >= today))


@dataclass
class TopicOffers:
    """All services for one topic, indexed by where they apply: a lookup reads three short lists
    instead of running a query (the table is small and changes a few times a year)."""
    national: List[Offer] = field(default_factory=list)
    by_region: Dict[str, List[Offer]] = field(default_factory=dict)
    by_gemeente: Dict[str, List[Offer]] = field(default_factory=dict)

    def add(self, offer: Offer) -> None:
        if offer.scope == "national":
            self.national.append(offer)
        elif offer.scope == "region":
            self.by_region.setdefault(offer.region_code, []).append(offer)
        else:
            self.by_gemeente.setdefault(offer.gemeente_code, []).append(offer)

    def where(self, gemeente: GemeenteRef) -> List[Offer]:
        return (self.by_gemeente.get(gemeente.code, []) + self.by_region.get(gemeente.region_code, [])
                + self.national)


def load_offers(session: Session, topics: Iterable[str] = TOPICS) -> Dict[str, TopicOffers]:
    """The services of these topics in one query."""
    table: Dict[str, TopicOffers] = {t: TopicOffers() for t in topics}
    query = (select(Service, Partner).join(Partner, Service.partner_id == Partner.id)
             .where(Service.topic.in_(list(table))))
    for s, p in session.execute(query).all():
        card = ServiceCard(partner_id=p.id, partner_type=p.type, partner=p.name, service=s.description,
                           conditions=s.conditions, scope=s.scope, audience=s.audience, priority=s.priority,
                           verified=bool(s.verified and p.verified), contact=_contact(p), service_id=s.id)
        table[s.topic].add(Offer(scope=s.scope, region_code=s.region_code, gemeente_code=s.gemeente_code,
                                 audience=s.audience, priority=s.priority, valid_from=s.valid_from,
                                 valid_until=s.valid_until, partner_id=p.id, partner_type=p.type,
                                 partner_name=p.name, card=card))
    return table


def choose(offers: TopicOffers, gemeente: GemeenteRef, audiences: List[str], today: date) -> List[ServiceCard]:
    """The cards for this gemeente, the most specific first.

    Within one partner type only the most specific scope is kept, so a region's own
    leerwerkloket replaces the national list of leerwerkloketten."""
    rows = [o for o in offers.where(gemeente) if o.audience in audiences and o.valid_on(today)]
    rows.sort(key=lambda o: (SCOPE_RANK[o.scope], o.priority, audiences.index(o.audience), o.partner_name))
    best_scope: Dict[str, int] = {}
    for o in rows:
        best_scope.setdefault(o.partner_type, SCOPE_RANK[o.scope])
    cards: List[ServiceCard] = []
    seen = set()
    for o in rows:
        if SCOPE_RANK[o.scope] != best_scope[o.partner_type] or o.partner_id in seen:
            continue  # a more specific partner of this type, or this partner for another audience
        seen.add(o.partner_id)
        cards.append(o.card)
    return cards


def find_services(session: Session, topic: str, gemeente: GemeenteRef,
                  audience: Optional[str] = None, today: Optional[date] = None) -> List[ServiceCard]:
    """Services for this topic where the person lives, the most specific first (uncached; the
    bot uses bot.routing.services_for, which keeps the offers in memory)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    offers = load_offers(session, [topic])[topic]
    return choose(offers, gemeente, default_audiences(topic, audience), today or date.today())
