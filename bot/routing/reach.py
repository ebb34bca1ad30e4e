"""How well the routing table answers, per arbeidsmarktregio × topic: what a Werkcentrum fills in.

For every gemeente of a region and every topic, the cards a person gets (the same choice as
``route()``, default audiences) are counted: how many are shown, how many give a way to reach the
partner (phone, website, e-mail or address), how many are verified, and which cards are held back
because they give no way to reach anyone. ``gids routing coverage`` prints it; a console page can
use ``coverage()`` as it is."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Dict, List, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db.models import Arbeidsmarktregio, Gemeente
from bot.routing.places import GemeenteRef
from bot.routing.services import TOPICS, TopicOffers, choose_with_held_back, default_audiences, load_offers


@dataclass
class CoverageRow:
    region_code: str
    region_name: str
    topic: str
    gemeenten: int = 0
    shown: int = 0                 # cards shown, summed over the region's gemeenten
    reachable: int = 0             # of those, cards with a phone, website, e-mail or address
    verified: int = 0              # of those, cards an administrator verified
    held_back: int = 0             # cards left out because they give no way to reach the partner
    without_reachable: int = 0     # gemeenten where no card for this topic is reachable
    held_back_partners: List[str] = field(default_factory=list)

    @property
    def reachable_per_gemeente(self) -> float:
        return self.reachable / self.gemeenten if self.gemeenten else 0.0

    @property
    def reachable_share(self) -> float:
        """Reachable cards of all the cards the table has here (shown or held back)."""
        cards = self.shown + self.held_back
        return self.reachable / cards if cards else 0.0

    def sort_key(self) -> tuple:
        # The gaps first: gemeenten left without any way to reach someone; then the fewest
        # reachable cards, as a share of the cards the table has (so what there is to fill in
        # comes before a topic that simply has few partners), then per gemeente.
        return (self.without_reachable == 0, round(self.reachable_share, 6), self.reachable_per_gemeente,
                self.region_code, self.topic)

    def as_dict(self) -> Dict:
        return {**asdict(self), "reachable_per_gemeente": round(self.reachable_per_gemeente, 2),
                "reachable_share": round(self.reachable_share, 4)}


def coverage_from(table: Dict[str, TopicOffers], gemeenten: List[GemeenteRef],
                  today: Optional[date] = None) -> List[CoverageRow]:
    """The rows for these gemeenten (all of a region, or all of them), gaps first."""
    today = today or date.today()
    rows: Dict[tuple, CoverageRow] = {}
    held: Dict[tuple, Dict[str, None]] = {}
    for g in gemeenten:
        for topic in TOPICS:
            key = (g.region_code, topic)
            row = rows.get(key)
            if row is None:
                row = rows[key] = CoverageRow(g.region_code, g.region_name, topic)
                held[key] = {}
            shown, held_back = choose_with_held_back(table[topic], g, default_audiences(topic), today)
            reachable = sum(1 for c in shown if c.reachable)
            row.gemeenten += 1
            row.shown += len(shown)
            row.reachable += reachable
            row.verified += sum(1 for c in shown if c.verified)
            row.held_back += len(held_back)
            row.without_reachable += reachable == 0
            held[key].update((c.partner, None) for c in held_back)
    for key, row in rows.items():
        row.held_back_partners = sorted(held[key])
    return sorted(rows.values(), key=CoverageRow.sort_key)


def totals(rows: List[CoverageRow]) -> Dict:
    shown = sum(r.shown for r in rows)
    reachable = sum(r.reachable for r in rows)
    return {"shown": shown, "reachable": reachable, "verified": sum(r.verified for r in rows),
            "held_back": sum(r.held_back for r in rows),
            "without_reachable": sum(r.without_reachable for r in rows),
            "reachable_share": round(reachable / shown, 4) if shown else 0.0}


def gemeente_refs(session: Session, region: Optional[str] = None) -> List[GemeenteRef]:
    query = (select(Gemeente.code, Gemeente.name, Gemeente.province, Gemeente.region_code,
                    Arbeidsmarktregio.name)
             .join(Arbeidsmarktregio, Gemeente.region_code == Arbeidsmarktregio.code)
             .order_by(Gemeente.code))
    if region:
        query = query.where(Gemeente.region_code == region)
    return [GemeenteRef(*row) for row in session.execute(query)]


def coverage_report(session: Session, region: Optional[str] = None, today: Optional[date] = None) -> Dict:
    """``{"region": code or None, "rows": [...], "totals": {...}}`` on the table as it is now
    (not the bot's cached copy: an administrator checks what an import just changed)."""
    rows = coverage_from(load_offers(session), gemeente_refs(session, region), today)
    return {"region": region, "rows": [r.as_dict() for r in rows], "totals": totals(rows)}
