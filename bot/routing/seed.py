"""The seed of the routing table, built from the public facts in data/routing/.

Regions, gemeenten, woonplaatsen, PC4 postcodes and everyday place names come from CBS/PDOK
files; partners from partners/*.csv; which partner helps with which topic from services.yml.
Nothing in the seed is verified by a person: every row says so, with its source."""
from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import yaml
from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot import config
from bot.db.models import (Arbeidsmarktregio, Gemeente, Partner, PlaceAlias, Postcode, Service,
                           Woonplaats)

SRC_GEMEENTEN = "CBS Gemeentelijke indeling 1-1-2024; arbeidsmarktregio: CBS 86247NED (2026)"
SRC_REGIONS = "CBS/PDOK arbeidsmarktregio 2025"
SRC_WOONPLAATSEN = "CBS 85877NED Woonplaatsen in Nederland 2024 (BAG)"
SRC_POSTCODES = "PDOK Locatieserver, versie 2026-10-01"
SRC_ALIASES = "data/routing/place_aliases.csv (written for the gids)"
SRC_SERVICES = "data/routing/services.yml (routing advice written for the gids)"
NATIONAL_WERKCENTRUM = "werkcentrum"
REGIONAL_PLACEHOLDERS = ("gemeente", "werkcentrum", "wsp", "leerwerkloket")


def read_csv(path: Path) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _first_url(text: str) -> Optional[str]:
    urls = [u.strip() for u in (text or "").split("|") if u.strip()]
    return " | ".join(urls) or None


def _clean(value: Optional[str]) -> Optional[str]:
    value = (value or "").strip()
    return value or None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def regions(d: Path) -> Iterable[object]:
    for r in read_csv(d / "arbeidsmarktregios.csv"):
        yield Arbeidsmarktregio(code=r["arbeidsmarktregio_code"], name=r["arbeidsmarktregio_naam"],
                                source=SRC_REGIONS, verified=False)


def gemeenten(d: Path) -> Iterable[object]:
    for r in read_csv(d / "gemeenten.csv"):
        yield Gemeente(code=r["gemeentecode"], name=r["gemeentenaam"], province=r["provincienaam"],
                       region_code=r["arbeidsmarktregio_code"], source=SRC_GEMEENTEN, verified=False)


def woonplaatsen(d: Path) -> Iterable[object]:
    for r in read_csv(d / "woonplaatsen.csv"):
        yield Woonplaats(code=r["woonplaatscode"], name=r["woonplaatsnaam"],
                         basename=r["woonplaats_basisnaam"], gemeente_code=r["gemeentecode"],
                         source=SRC_WOONPLAATSEN, verified=False)


def postcodes(d: Path) -> Iterable[object]:
    for r in read_csv(d / "postcodes_pc4.csv"):
        yield Postcode(pc4=r["pc4"], gemeente_code=r["gemeentecode"], share=float(r["aandeel"]),
                       source=SRC_POSTCODES, verified=False)


def aliases(d: Path) -> Iterable[object]:
    for r in read_csv(d / "place_aliases.csv"):
        yield PlaceAlias(alias=r["alias"], gemeente_code=r["gemeentecode"], kind=r["kind"],
                         source=SRC_ALIASES, verified=False)


def load_services_spec(d: Path) -> dict:
    return yaml.safe_load((d / "services.yml").read_text(encoding="utf-8"))


def partners_and_services(d: Path, gemeente_rows: List[Gemeente]) -> Iterable[object]:
    """National partners, one partner per gemeente, the regional Werkcentra, WSPs and
    leerwerkloketten, and their services as services.yml describes them."""
    spec = load_services_spec(d)
    national = {r["name"]: r for r in read_csv(d / "partners" / "national.csv")}
    regional = read_csv(d / "partners" / "regional.csv")

    partners: Dict[str, Partner] = {}
    for key, p in spec["partners"].items():
        row = national[p["national_csv_name"]]
        partners[key] = Partner(
            id=key, type=row["type"], name=p.get("display_name") or row["name"],
            description=row.get("what_they_help_with_nl") or "", website=_clean(row.get("website")),
            phone=_clean(row.get("phone")), phone_hours=_clean(row.get("phone_hours")),
            email=_clean(row.get("email")), source=_first_url(row.get("source_url")) or "",
            checked_on=date.fromisoformat(row["checked_on"]) if row.get("checked_on") else None,
            verified=False)

    # One partner per gemeente: only its name is known for sure; contact details wait for the
    # administrator's import rather than being guessed.
    for g in gemeente_rows:
        partners[f"gemeente-{g.code}"] = Partner(
            id=f"gemeente-{g.code}", type="gemeente", name=f"Gemeente {g.name}",
            description="", gemeente_code=g.code, region_code=g.region_code,
            source=SRC_GEMEENTEN, verified=False)

    by_region: Dict[str, Dict[str, List[str]]] = {}
    for i, r in enumerate(regional, 2):
        code = r["arbeidsmarktregio_code"].strip()
        if not code:
            # werkcentrum.nl: no services of its own, but the handover target when a person asks
            # for a person and their region has no Werkcentrum in the table yet.
            partners[NATIONAL_WERKCENTRUM] = Partner(
                id=NATIONAL_WERKCENTRUM, type="werkcentrum", name="Werkcentrum.nl",
                description="Verwijst je door naar het Werkcentrum in je regio.",
                website=_clean(r.get("website")), source=_first_url(r.get("source_url")) or "",
                verified=False)
            continue
        kind = r["type"]
        pid = f"{kind}-{code}-{_slug(r['name'])}"
        partners[pid] = Partner(id=pid, type=kind, name=r["name"], website=_clean(r.get("website")),
                                phone=_clean(r.get("phone")), region_code=code,
                                source=_first_url(r.get("source_url")) or "", verified=False)
        by_region.setdefault(code, {}).setdefault(kind, []).append(pid)

    yield from partners.values()

    for s in spec["services"]:
        common = dict(topic=s["topic"], description=s["description"].strip(),
                      conditions=(s.get("conditions") or "").strip(), priority=int(s.get("priority", 50)),
                      source=SRC_SERVICES, verified=False)
        for audience in s["audience"]:
            target = s["partner"]
            if target == "gemeente":
                for g in gemeente_rows:
                    yield Service(partner_id=f"gemeente-{g.code}", scope="gemeente",
                                  gemeente_code=g.code, audience=audience, **common)
            elif target in REGIONAL_PLACEHOLDERS:
                for code, kinds in by_region.items():
                    for pid in kinds.get(target, []):
                        yield Service(partner_id=pid, scope="region", region_code=code,
                                      audience=audience, **common)
            else:
                yield Service(partner_id=target, scope="national", audience=audience, **common)


def seed(session: Session, routing_dir: Optional[Path] = None) -> Dict[str, int]:
    """Replace the whole routing table with the seed, in the caller's transaction."""
    d = Path(routing_dir or config.ROUTING_DIR)
    for model in (Service, Partner, PlaceAlias, Postcode, Woonplaats, Gemeente, Arbeidsmarktregio):
        session.execute(delete(model))
    counts: Dict[str, int] = {}

    def add_all(kind: str, rows: Iterable[object]) -> List[object]:
        rows = list(rows)
        session.add_all(rows)
        session.flush()
        counts[kind] = len(rows)
        return rows

    add_all("arbeidsmarktregio", regions(d))
    gemeente_rows = add_all("gemeente", gemeenten(d))
    add_all("woonplaats", woonplaatsen(d))
    add_all("postcode", postcodes(d))
    add_all("place_alias", aliases(d))
    rows = list(partners_and_services(d, gemeente_rows))
    add_all("partner", [r for r in rows if isinstance(r, Partner)])
    add_all("service", [r for r in rows if isinstance(r, Service)])
    return counts
