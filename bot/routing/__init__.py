"""Who helps this person: place → gemeente → arbeidsmarktregio → services for a topic.

``route()`` is the one call the actions and ``gids route`` share, so both give the same answer."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Dict, List, Optional, Sequence, Union

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db import DatabaseUnavailable, database_errors, get_engine
from bot.routing import places
from bot.routing.cache import RefreshingCache
from bot.routing.reach import coverage_report
from bot.routing.places import (ABROAD, AMBIGUOUS, EMPTY, INVALID_POSTCODE, RESOLVED, UNKNOWN,
                                GemeenteRef, Resolution, place_index)
from bot.routing.sectors import NO_SECTOR, SECTOR_TOPICS, SectorIndex, SectorMatch
from bot.routing.services import (TOPICS, ServiceCard, choose, default_audiences, load_offers,
                                  order_needs)

__all__ = ["route", "resolve_place", "services_for", "order_needs", "Resolution", "GemeenteRef",
           "ServiceCard", "RESOLVED", "AMBIGUOUS", "UNKNOWN", "INVALID_POSTCODE", "ABROAD", "EMPTY",
           "DatabaseUnavailable", "coverage", "gemeente_website", "find_sector", "sector_answer",
           "sector_services", "sector_route", "SectorMatch"]


def resolve_place(text: str, engine: Optional[Engine] = None) -> Resolution:
    engine = engine or get_engine()
    with database_errors("reading the routing table"):
        return place_index(engine).resolve(text)


def resolve_gemeente_code(code: str, engine: Optional[Engine] = None) -> Resolution:
    engine = engine or get_engine()
    with database_errors("reading the routing table"):
        return place_index(engine).resolve_code(code)


_offers_store: RefreshingCache = RefreshingCache(places.INDEX_TTL_SECONDS)
_offers_cache = _offers_store.entries  # engine URL -> (loaded at, offers); read by bench/routing


def _offers(engine: Engine):
    """Every service of every topic, in memory (one query, ~3,300 rows), refreshed in the
    background after the TTL."""
    def load():
        with Session(engine, future=True) as session:
            return load_offers(session)
    with database_errors("reading the routing table"):
        return _offers_store.get(str(engine.url), load)


def services_for(topic: str, gemeente: GemeenteRef, audience: Optional[str] = None,
                 engine: Optional[Engine] = None):
    """Cached like the place index: the table changes a few times a year, people ask all day.
    An import clears both caches in its own process; other processes follow within the TTL."""
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}")
    table = _offers(engine or get_engine())
    return _copies(choose(table[topic], gemeente, default_audiences(topic, audience), date.today()))


def _copies(cards):
    # Callers may change what they get; the cached answer must stay as the table says.
    return [replace(c, contact=dict(c.contact)) for c in cards]


def gemeente_website(code: str, engine: Optional[Engine] = None) -> Optional[str]:
    """The website of this gemeente as a card would show it (None when the table has none), for
    "look on your gemeente's site" when no card for a topic gives a way to reach anyone."""
    table = _offers(engine or get_engine())
    for offers in table.values():
        for o in offers.by_gemeente.get(code, []):
            if o.partner_type == "gemeente" and o.card.contact.get("website"):
                return o.card.contact["website"]
    return None


def coverage(region: Optional[str] = None, engine: Optional[Engine] = None) -> Dict:
    """Per arbeidsmarktregio × topic: cards shown, reachable, verified and held back, the gaps
    first (bot.routing.reach; ``gids routing coverage`` prints it)."""
    def run() -> Dict:
        with Session(engine or get_engine(), future=True) as session:
            return coverage_report(session, region)
    with database_errors("reading the routing table"):
        return run()


def forget_cached_services() -> None:
    _offers_store.clear()
    _sectors_store.clear()


# --- the sectoral route (bot/routing/sectors.py) ----------------------------------------------
_sectors_store: RefreshingCache = RefreshingCache(places.INDEX_TTL_SECONDS)


def sector_index(engine: Optional[Engine] = None) -> SectorIndex:
    """The sector words and the sector funds' services, cached like the place index."""
    engine = engine or get_engine()

    def load() -> SectorIndex:
        with Session(engine, future=True) as session:
            return SectorIndex.load(session)
    with database_errors("reading the routing table"):
        return _sectors_store.get(str(engine.url), load)


def find_sector(texts: Union[str, Sequence[str]], prefer_towards: bool = False,
                engine: Optional[Engine] = None) -> Optional[SectorMatch]:
    """The sector that what the person said names ("ik ben lasser" → metaal), or None."""
    return sector_index(engine).find(texts, prefer_towards=prefer_towards)


def sector_answer(text: str, engine: Optional[Engine] = None) -> str:
    """The reply to "In welke sector werk je?" as a sector key, or sectors.UNKNOWN ("weet ik
    niet"), sectors.NOT_WORKING or sectors.OTHER (a sector without a fund in the table)."""
    return sector_index(engine).answer(text)


def sector_services(sector: Optional[str], topic: str, audience: Optional[str] = None,
                    engine: Optional[Engine] = None) -> List[ServiceCard]:
    """The sector fund cards for this sector and topic (none for a topic without a sectoral
    route, or for "weet ik niet"); then the Werkcentrum and the vakbond are the route."""
    if not sector or sector in NO_SECTOR or topic not in SECTOR_TOPICS:
        return []
    return sector_index(engine).cards(sector, topic, audience)


def sector_route(sector: str, topic: str, audience: Optional[str] = None,
                 engine: Optional[Engine] = None) -> Dict:
    """``gids route --sector``: a sector key or the words for one ("lasser") → its cards."""
    index = sector_index(engine)
    match = index.match_key(sector) or index.find(sector, answer=True)
    cards = sector_services(match.key, topic, audience, engine) if match else []
    return {"input": sector, "key": match.key if match else None, "name": match.name if match else None,
            "applies": topic in SECTOR_TOPICS, "services": [c.as_dict() for c in cards],
            # Without a fund for the sector (or its topic), the Werkcentrum and the vakbond help.
            "route": "sectorfonds" if cards else "werkcentrum_vakbond"}


def route(topic: str, place: str, audience: Optional[str] = None,
          engine: Optional[Engine] = None, sector: Optional[str] = None) -> Dict:
    """The answer as ``gids route --json`` prints it (see README, "One command"); ``sector``
    adds the sectoral route (``"sector": null`` without it)."""
    res = resolve_place(place, engine)
    if res.status == RESOLVED and res.gemeente is not None:
        cards = services_for(topic, res.gemeente, audience, engine)
        return {"place": {"input": place, **res.gemeente.as_dict(), "matched": res.matched, "how": res.how},
                "topic": topic, "services": [c.as_dict() for c in cards],
                "sector": sector_route(sector, topic, audience, engine) if sector else None}
    if res.status == AMBIGUOUS:
        return {"ambiguous": [g.as_dict() for g in res.candidates], "input": place}
    # One error for the caller to branch on; the reason says why, for a kinder answer.
    reason = {INVALID_POSTCODE: "invalid_postcode", ABROAD: "abroad", EMPTY: "empty"}.get(res.status, "unknown")
    return {"error": "unknown_place", "reason": reason, "input": place, "suggestions": res.suggestions}
