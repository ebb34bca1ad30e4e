"""The seed of the routing table, built from the public facts in data/routing/.

Regions, gemeenten, woonplaatsen, PC4 postcodes and everyday place names come from CBS/PDOK
files; partners from partners/*.csv; the gemeenten's contact facts from gemeente_contacts.csv;
which partner helps with which topic from services.yml.
Nothing in the seed is verified by a person: every row says so, with its source."""
from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, TypeVar

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot import config
from bot.db.models import (Arbeidsmarktregio, Gemeente, Partner, PartnerFieldSource, PlaceAlias,
                           Postcode, Service, Woonplaats)

SRC_GEMEENTEN = "CBS Gemeentelijke indeling 1-1-2024; arbeidsmarktregio: CBS 86247NED (2026)"
SRC_REGIONS = "CBS/PDOK arbeidsmarktregio 2025"
SRC_WOONPLAATSEN = "CBS 85877NED Woonplaatsen in Nederland 2024 (BAG)"
SRC_POSTCODES = "PDOK Locatieserver, versie 2026-10-01"
SRC_ALIASES = "data/routing/place_aliases.csv (written for the gids)"
SRC_SERVICES = "data/routing/services.yml (routing advice written for the gids)"
SRC_SECTOR_SERVICES = ("data/routing/partners/sector_funds.csv and sector_cards.yml "
                       "(routing advice written for the gids)")
# A fund that serves only employers, on a working person's card.
VIA_EMPLOYER = "Deze hulp gaat via je werkgever. Vraag je werkgever ernaar."
# Phone numbers of sector_funds.csv that its SOURCES.md doubts: stored, shown once verified.
SECTOR_PHONE_DOUBTS = {"Volandis": "Nummer van een DIA-adviseur, in 2018 genoemd door een opleider; "
                                   "niet van de eigen website van Volandis."}
NATIONAL_WERKCENTRUM = "werkcentrum"
REGIONAL_PLACEHOLDERS = ("gemeente", "werkcentrum", "wsp", "leerwerkloket")
# gemeente_contacts.csv: which source column names the source of which partner field.
CONTACT_FIELDS = (("website", "website", "source_website"), ("email", "email", "source_website"),
                  ("address", "postal_address", "source_website"), ("phone", "phone", "source_phone"))
CONTACT_LABELS = {"website": "website", "email": "e-mail", "address": "adres", "phone": "telefoon"}
PHONE_DOUBT_NOTE = ("Telefoonnummer uit een lijst van 2018; de gemeente is daarna veranderd. "
                    "De gids toont het pas als deze rij gecontroleerd is (verified).")
# Regional partner ids are made from the name. Until 2026-12-05 the names carried administrators'
# notes, and handovers, users and tokens refer to the ids made then: these keep them.
# (type, arbeidsmarktregio code, name) -> id
LEGACY_IDS = {
    ("werkcentrum", "AM01", "Werkcentrum Groningen Noord-Drenthe"):
        "werkcentrum-AM01-werkcentrum-groningen-noord-drenthe-harm",
    ("werkcentrum", "AM34", "Regionaal Werkcentrum Zuid-Holland Centraal"):
        "werkcentrum-AM34-regionaal-werkcentrum-rwc-zuid-holland-c",
    ("werkcentrum", "AM28", "Huis naar Werk"): "werkcentrum-AM28-huis-naar-werk-eindhoven-stadhuisplein-n",
    ("wsp", "AM13", "WSP Midden-Utrecht"): "wsp-AM13-wsp-midden-utrecht-tot-2021-wsp-utrecht-",
    ("wsp", "AM30", "Werkgeversdienstverlening Zuid-Limburg"): "wsp-AM30-werkgeversdienstverlening-zuid-limburg-s",
    ("wsp", "AM30", "Podium24"): "wsp-AM30-podium24-werkgeversservicepunt-maastrich",
    ("wsp", "AM09", "Werkgeversservicepunt Achterhoek"): "wsp-AM09-werkgeversservicepunt-wsp-achterhoek",
}


def read_csv(path: Path) -> List[Dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _first_url(text: Optional[str]) -> Optional[str]:
    urls = [u.strip() for u in (text or "").split("|") if u.strip()]
    return " | ".join(urls) or None


def _clean(value: Optional[str]) -> Optional[str]:
    value = (value or "").strip()
    return value or None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def regions(d: Path) -> Iterable[Arbeidsmarktregio]:
    for r in read_csv(d / "arbeidsmarktregios.csv"):
        yield Arbeidsmarktregio(code=r["arbeidsmarktregio_code"], name=r["arbeidsmarktregio_naam"],
                                source=SRC_REGIONS, verified=False)


def gemeenten(d: Path) -> Iterable[Gemeente]:
    for r in read_csv(d / "gemeenten.csv"):
        yield Gemeente(code=r["gemeentecode"], name=r["gemeentenaam"], province=r["provincienaam"],
                       region_code=r["arbeidsmarktregio_code"], source=SRC_GEMEENTEN, verified=False)


def woonplaatsen(d: Path) -> Iterable[Woonplaats]:
    for r in read_csv(d / "woonplaatsen.csv"):
        yield Woonplaats(code=r["woonplaatscode"], name=r["woonplaatsnaam"],
                         basename=r["woonplaats_basisnaam"], gemeente_code=r["gemeentecode"],
                         source=SRC_WOONPLAATSEN, verified=False)


def postcodes(d: Path) -> Iterable[Postcode]:
    for r in read_csv(d / "postcodes_pc4.csv"):
        yield Postcode(pc4=r["pc4"], gemeente_code=r["gemeentecode"], share=float(r["aandeel"]),
                       source=SRC_POSTCODES, verified=False)


def aliases(d: Path) -> Iterable[PlaceAlias]:
    for r in read_csv(d / "place_aliases.csv"):
        yield PlaceAlias(alias=r["alias"], gemeente_code=r["gemeentecode"], kind=r["kind"],
                         source=SRC_ALIASES, verified=False)


def load_services_spec(d: Path) -> dict:
    return yaml.safe_load((d / "services.yml").read_text(encoding="utf-8"))


def gemeente_partner(g: Gemeente, contact: Optional[Dict[str, str]]
                     ) -> Tuple[Partner, List[PartnerFieldSource]]:
    """The gemeente as a partner, with the contact facts of gemeente_contacts.csv and where each
    one comes from. A field with a doubt (a 2018 phone number of a gemeente that changed since)
    is stored, but a person sees it only once an administrator verified the row."""
    pid = f"gemeente-{g.code}"
    partner = Partner(id=pid, type="gemeente", name=f"Gemeente {g.name}", description="",
                      gemeente_code=g.code, region_code=g.region_code, source=SRC_GEMEENTEN,
                      verified=False)
    sources: List[PartnerFieldSource] = []
    if contact is None:
        return partner, sources
    checked = date.fromisoformat(contact["checked_on"]) if contact.get("checked_on") else None
    said = [f"naam: {SRC_GEMEENTEN}"]
    for field, column, source_column in CONTACT_FIELDS:
        value = _clean(contact.get(column))
        if value is None:
            continue
        doubt = _clean(contact.get("phone_note")) if field == "phone" else None
        setattr(partner, field, value)
        sources.append(PartnerFieldSource(partner_id=pid, field=field, source=contact[source_column],
                                          checked_on=checked, doubt=doubt))
        said.append(f"{CONTACT_LABELS[field]}: {contact[source_column]}")
    partner.source = "; ".join(said)
    partner.checked_on = checked
    if any(s.doubt for s in sources):
        partner.note = PHONE_DOUBT_NOTE
    return partner, sources


def partners_and_services(d: Path, gemeente_rows: List[Gemeente]
                          ) -> Iterable[Partner | Service | PartnerFieldSource]:
    """National partners, one partner per gemeente (with its contact facts), the regional
    Werkcentra, WSPs and leerwerkloketten, and their services as services.yml describes them."""
    spec = load_services_spec(d)
    national = {r["name"]: r for r in read_csv(d / "partners" / "national.csv")}
    regional = read_csv(d / "partners" / "regional.csv")
    contacts = {r["gemeentecode"]: r for r in read_csv(d / "gemeente_contacts.csv")}

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

    # One partner per gemeente, with the public contact facts found for it (never guessed).
    field_sources: List[PartnerFieldSource] = []
    for g in gemeente_rows:
        partner, sources = gemeente_partner(g, contacts.get(g.code))
        partners[partner.id] = partner
        field_sources += sources

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
                note=_clean(r.get("note")), verified=False)
            continue
        kind = r["type"]
        # `name` is what a person sees; `note` is for administrators only.
        pid = LEGACY_IDS.get((kind, code, r["name"])) or f"{kind}-{code}-{_slug(r['name'])}"
        partners[pid] = Partner(id=pid, type=kind, name=r["name"], website=_clean(r.get("website")),
                                phone=_clean(r.get("phone")), region_code=code, note=_clean(r.get("note")),
                                source=_first_url(r.get("source_url")) or "", verified=False)
        by_region.setdefault(code, {}).setdefault(kind, []).append(pid)

    yield from partners.values()
    yield from field_sources

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

    yield from sector_funds(d)


def sector_funds(d: Path) -> Iterable[Partner | Service | PartnerFieldSource]:
    """The sector funds and portals of partners/sector_funds.csv (the sectoral route): one partner
    of type `sectorfonds` per row, with its sector key and words, where its website and phone come
    from, and a national service for each topic of the route (bot.routing.sectors.SECTOR_TOPICS).

    The name a person sees is the fund's own short name ("OOM"); the full name, the cao and whom
    it serves go in the administrators' note. Working people get every fund of their sector; a
    fund that serves only employers says that its help goes through the employer."""
    from bot.routing.sectors import EMPLOYER_SECTOR_TOPICS, RESIDENT_SECTOR_TOPICS

    cards = {(c["sector"], c["fund"]): c["description"].strip() for c in load_sector_cards(d)}
    for r in read_csv(d / "partners" / "sector_funds.csv"):
        key, full = r["sector"].strip(), r["fund"].strip()
        name = full.split(" (")[0].strip()
        pid = f"sectorfonds-{key}-{_slug(name)}"
        for_whom = {w.strip() for w in r["for_whom"].split(";") if w.strip()}
        checked = date.fromisoformat(r["checked_on"]) if r.get("checked_on") else None
        sources = _first_url(r.get("source_url")) or ""
        yield Partner(id=pid, type="sectorfonds", name=name, description=r["what_they_help_with_nl"].strip(),
                      website=_clean(r.get("website")), phone=_clean(r.get("phone")), source=sources,
                      checked_on=checked, sector=key, sector_words=_clean(r.get("sector_words_nl")),
                      note=f"{full}. Cao of bereik: {r['cao_or_scope'].strip()}. Voor: {', '.join(sorted(for_whom))}.",
                      verified=False)
        for field in ("website", "phone"):
            if _clean(r.get(field)):
                yield PartnerFieldSource(partner_id=pid, field=field, source=sources, checked_on=checked,
                                         doubt=SECTOR_PHONE_DOUBTS.get(name) if field == "phone" else None)
        # The card's text in B1 (sector_cards.yml); the CSV's own sentence is the partner's description.
        common = dict(partner_id=pid, scope="national",
                      description=cards.get((key, name)) or r["what_they_help_with_nl"].strip(),
                      source=SRC_SECTOR_SERVICES, verified=False)
        direct = "werkenden" in for_whom
        for topic in RESIDENT_SECTOR_TOPICS:
            yield Service(topic=topic, audience="werkende", conditions="" if direct else VIA_EMPLOYER,
                          priority=10 if direct else 20, **common)
        if "werkgevers" in for_whom:
            for topic in EMPLOYER_SECTOR_TOPICS:
                yield Service(topic=topic, audience="werkgever", conditions="", priority=10, **common)


def load_sector_cards(d: Path) -> List[Dict[str, str]]:
    path = d / "sector_cards.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["cards"] if path.exists() else []


def add_sector_funds(session: Session, routing_dir: Optional[Path] = None) -> Dict[str, int]:
    """The sector funds for a routing table seeded before they existed (``gids routing seed
    --if-empty``): added only when the table has no partner of type sectorfonds yet, so an
    administrator's changes to them are never overwritten."""
    if session.execute(select(Partner.id).where(Partner.type == "sectorfonds").limit(1)).first():
        return {}
    rows = list(sector_funds(Path(routing_dir or config.ROUTING_DIR)))
    counts: Dict[str, int] = {}
    for kind, model in (("partner", Partner), ("partner_field_source", PartnerFieldSource), ("service", Service)):
        added = [r for r in rows if isinstance(r, model)]
        session.add_all(added)
        session.flush()
        counts[kind] = len(added)
    return counts


_Row = TypeVar("_Row")


def seed(session: Session, routing_dir: Optional[Path] = None) -> Dict[str, int]:
    """Replace the whole routing table with the seed, in the caller's transaction."""
    d = Path(routing_dir or config.ROUTING_DIR)
    for model in (Service, PartnerFieldSource, Partner, PlaceAlias, Postcode, Woonplaats, Gemeente,
                  Arbeidsmarktregio):
        session.execute(delete(model))
    counts: Dict[str, int] = {}

    def add_all(kind: str, rows: Iterable[_Row]) -> List[_Row]:
        added = list(rows)
        session.add_all(added)
        session.flush()
        counts[kind] = len(added)
        return added

    add_all("arbeidsmarktregio", regions(d))
    gemeente_rows = add_all("gemeente", gemeenten(d))
    add_all("woonplaats", woonplaatsen(d))
    add_all("postcode", postcodes(d))
    add_all("place_alias", aliases(d))
    rows = list(partners_and_services(d, gemeente_rows))
    add_all("partner", [r for r in rows if isinstance(r, Partner)])
    add_all("partner_field_source", [r for r in rows if isinstance(r, PartnerFieldSource)])
    add_all("service", [r for r in rows if isinstance(r, Service)])
    return counts
