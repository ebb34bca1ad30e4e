"""Service lookup and triage: topic × gemeente × audience → who helps, in what order."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Dict, Iterable, List, Optional, Set, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Partner, PartnerFieldSource, Service
# Several needs in one conversation, in the order to take them up (debts and language first).
from bot.nlp.needs import TRIAGE_ORDER, triage_order as order_needs  # noqa: F401 (part of this module's API)
from bot.routing.places import GemeenteRef

TOPICS = ("ask_retraining", "ask_debt_help", "ask_language_help", "ask_vacancies", "ask_benefits",
          "ask_career_advice", "ask_dismissal_help", "ask_apprenticeship", "employer_hiring",
          "employer_training")
EMPLOYER_TOPICS = {"employer_hiring", "employer_training"}
RESIDENT_AUDIENCES = ("werkzoekende", "werkende")
SCOPE_RANK = {"gemeente": 0, "region": 1, "national": 2}

BLOCKING_TOPICS = {"ask_debt_help", "ask_language_help"}
# A card with none of these is not a way to reach anyone: it is shown only when nothing else is.
REACH_FIELDS = ("phone", "website", "email", "address")


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
    verified_on: Optional[date] = None  # verified cards: when an administrator checked the row

    @property
    def reachable(self) -> bool:
        """The card gives a way to reach the partner: a phone number, website, e-mail or address."""
        return any(self.contact.get(k) for k in REACH_FIELDS)

    def as_dict(self) -> Dict:
        return {"partner_type": self.partner_type, "partner": self.partner, "service": self.service,
                "conditions": self.conditions, "scope": self.scope, "audience": self.audience,
                "contact": self.contact, "verified": self.verified, "reachable": self.reachable,
                "verified_on": self.verified_on.isoformat() if self.verified_on else None}


def _contact(p: Partner, doubtful: Iterable[str] = ()) -> Dict[str, str]:
    fields = {"phone": p.phone, "phone_hours": p.phone_hours, "website": p.website, "email": p.email,
              "address": p.address, "opening_hours": p.opening_hours}
    # The gids never shows a contact detail that the table does not have, nor one with a doubt
    # (partner_field_source.doubt) before an administrator verified the row.
    hidden = set() if p.verified else set(doubtful)
    if "phone" in hidden:
        hidden.add("phone_hours")
    return {k: v for k, v in fields.items() if v and k not in hidden}


def _verified_on(p: Partner) -> Optional[date]:
    if p.verified_at is not None:
        return p.verified_at.date()
    return p.checked_on


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
    reachable: bool = False  # card.reachable, worked out once when the table is loaded

    def valid_on(self, today: date) -> bool:
        return ((self.valid_from is None or self.valid_from <= today)
                and (self.valid_until is None or self.valid_until >= today))


@dataclass
class TopicOffers:
    """All services for one topic, indexed by where they apply: a lookup reads three short lists
    instead of running a query (the table is small and changes a few times a year)."""
    national: List[Offer] = field(default_factory=list)
    # Keyed by the service's region or gemeente code; the scope_target constraint keeps it set.
    by_region: Dict[Optional[str], List[Offer]] = field(default_factory=dict)
    by_gemeente: Dict[Optional[str], List[Offer]] = field(default_factory=dict)

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


# Partners of the sectoral route: chosen by the person's sector (bot/routing/sectors.py), never
# by where they live, so they are not among the regional offers.
SECTOR_PARTNER_TYPE = "sectorfonds"


def doubtful_fields(session: Session) -> Dict[str, Set[str]]:
    """partner id -> the contact fields with a doubt (partner_field_source.doubt)."""
    doubtful: Dict[str, Set[str]] = {}
    for pid, name in session.execute(select(PartnerFieldSource.partner_id, PartnerFieldSource.field)
                                     .where(PartnerFieldSource.doubt.isnot(None), PartnerFieldSource.doubt != "")):
        doubtful.setdefault(pid, set()).add(name)
    return doubtful


def make_offer(s: Service, p: Partner, doubtful: Iterable[str] = ()) -> Offer:
    """One service row with its card, as a person would see it."""
    verified = bool(s.verified and p.verified)
    card = ServiceCard(partner_id=p.id, partner_type=p.type, partner=p.name, service=s.description,
                       conditions=s.conditions, scope=s.scope, audience=s.audience, priority=s.priority,
                       verified=verified, contact=_contact(p, doubtful), service_id=s.id,
                       verified_on=_verified_on(p) if verified else None)
    return Offer(scope=s.scope, region_code=s.region_code, gemeente_code=s.gemeente_code,
                 audience=s.audience, priority=s.priority, valid_from=s.valid_from,
                 valid_until=s.valid_until, partner_id=p.id, partner_type=p.type,
                 partner_name=p.name, card=card, reachable=card.reachable)


def load_offers(session: Session, topics: Iterable[str] = TOPICS) -> Dict[str, TopicOffers]:
    """The services of these topics in one query (and one for the contact details in doubt).
    Sector funds are left out: bot.routing.sectors offers them by sector."""
    table: Dict[str, TopicOffers] = {t: TopicOffers() for t in topics}
    doubtful = doubtful_fields(session)
    query = (select(Service, Partner).join(Partner, Service.partner_id == Partner.id)
             .where(Service.topic.in_(list(table)), Partner.type != SECTOR_PARTNER_TYPE))
    for s, p in session.execute(query).all():
        table[s.topic].add(make_offer(s, p, doubtful.get(p.id, set())))
    return table


def choose(offers: TopicOffers, gemeente: GemeenteRef, audiences: List[str], today: date) -> List[ServiceCard]:
    """The cards for this gemeente, the most specific first.

    Within one partner type only the most specific scope is kept, so a region's own
    leerwerkloket replaces the national list of leerwerkloketten. A card without a way to reach
    the partner is left out, unless no card for this topic has one."""
    rows = _applicable(offers, gemeente, audiences, today)
    return _most_specific([o for o in rows if o.reachable] or rows)


def choose_with_held_back(offers: TopicOffers, gemeente: GemeenteRef, audiences: List[str],
                          today: date) -> Tuple[List[ServiceCard], List[ServiceCard]]:
    """(the cards shown, the cards held back because they give no way to reach the partner).

    Reachability is decided before the most specific scope per partner type, so a region's own
    leerwerkloket without any contact detail does not hide the national one that has a website."""
    rows = _applicable(offers, gemeente, audiences, today)
    reachable = [o for o in rows if o.reachable]
    if not reachable:
        return _most_specific(rows), []
    return _most_specific(reachable), _most_specific([o for o in rows if not o.reachable])


def _applicable(offers: TopicOffers, gemeente: GemeenteRef, audiences: List[str], today: date) -> List[Offer]:
    rows = [o for o in offers.where(gemeente) if o.audience in audiences and o.valid_on(today)]
    rows.sort(key=lambda o: (SCOPE_RANK[o.scope], o.priority, audiences.index(o.audience), o.partner_name))
    return rows


def _most_specific(rows: List[Offer]) -> List[ServiceCard]:
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
