"""Who helps this person: place → gemeente → arbeidsmarktregio → services for a topic.

``route()`` is the one call the actions and ``gids route`` share, so both give the same answer."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Dict, Optional

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from bot.db import DatabaseUnavailable, get_engine
from bot.routing import places
from bot.routing.cache import RefreshingCache
from bot.routing.places import (ABROAD, AMBIGUOUS, EMPTY, INVALID_POSTCODE, RESOLVED, UNKNOWN,
                                GemeenteRef, Resolution, place_index)
from bot.routing.services import (TOPICS, ServiceCard, choose, default_audiences, load_offers,
                                  order_needs)

__all__ = ["route", "resolve_place", "services_for", "order_needs", "Resolution", "GemeenteRef",
           "ServiceCard", "RESOLVED", "AMBIGUOUS", "UNKNOWN", "INVALID_POSTCODE", "ABROAD", "EMPTY",
           "DatabaseUnavailable"]


def _guard(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (OperationalError, DBAPIError) as exc:
        raise DatabaseUnavailable(str(exc).splitlines()[0]) from exc


def resolve_place(text: str, engine: Optional[Engine] = None) -> Resolution:
    engine = engine or get_engine()
    return _guard(lambda: place_index(engine).resolve(text))


def resolve_gemeente_code(code: str, engine: Optional[Engine] = None) -> Resolution:
    engine = engine or get_engine()
    return _guard(lambda: place_index(engine).resolve_code(code))


_offers_store: RefreshingCache = RefreshingCache(places.INDEX_TTL_SECONDS)
_offers_cache = _offers_store.entries  # engine URL -> (loaded at, offers); read by bench/routing


def _offers(engine: Engine):
    """Every service of every topic, in memory (one query, ~3,300 rows), refreshed in the
    background after the TTL."""
    def load():
        with Session(engine, future=True) as session:
            return load_offers(session)
    return _guard(lambda: _offers_store.get(str(engine.url), load))


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


def forget_cached_services() -> None:
    _offers_store.clear()


def route(topic: str, place: str, audience: Optional[str] = None,
          engine: Optional[Engine] = None) -> Dict:
    """The answer as ``gids route --json`` prints it (see README, "One command")."""
    res = resolve_place(place, engine)
    if res.status == RESOLVED:
        cards = services_for(topic, res.gemeente, audience, engine)
        return {"place": {"input": place, **res.gemeente.as_dict(), "matched": res.matched, "how": res.how},
                "topic": topic, "services": [c.as_dict() for c in cards]}
    if res.status == AMBIGUOUS:
        return {"ambiguous": [g.as_dict() for g in res.candidates], "input": place}
    # One error for the caller to branch on; the reason says why, for a kinder answer.
    reason = {INVALID_POSTCODE: "invalid_postcode", ABROAD: "abroad", EMPTY: "empty"}.get(res.status, "unknown")
    return {"error": "unknown_place", "reason": reason, "input": place, "suggestions": res.suggestions}
