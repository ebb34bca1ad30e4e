"""Who helps: services_for / find_services / route / order_needs against the seeded routing
table, on SQLite and PostgreSQL (the ``engine`` and ``db_url`` fixtures), and the ``gids route``
command as a person would run it."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import make_engine, session_scope
from bot.db.models import Partner, PartnerFieldSource, Service
from bot.routing import RESOLVED, GemeenteRef, order_needs, resolve_place, route, services_for
from bot.routing.places import forget_cached_indexes
from bot.routing.seed import seed
from bot.routing.services import EMPLOYER_TOPICS, TOPICS, TRIAGE_ORDER, default_audiences, find_services

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "routing"
GIDS = Path(sys.executable).parent / "gids"

with open(DATA / "gemeenten.csv", newline="", encoding="utf-8") as _f:
    GEMEENTEN = list(csv.DictReader(_f))
# Each region's first gemeente in gemeenten.csv order.
FIRST_OF_REGION = {}
for _g in GEMEENTEN:
    FIRST_OF_REGION.setdefault(_g["arbeidsmarktregio_code"], _g)
SCOPE_RANK = {"gemeente": 0, "region": 1, "national": 2}  # DESIGN.md: the most specific scope wins
CONTACT_FIELDS = ("phone", "phone_hours", "website", "email", "address", "opening_hours")


def ref(engine, code: str) -> GemeenteRef:
    res = resolve_place(code, engine=engine)
    assert res.status == RESOLVED, code
    return res.gemeente


def cards_by_region(engine):
    """(region, gemeente, topic, audience-or-None, cards) for the first gemeente of every region."""
    for region, g in sorted(FIRST_OF_REGION.items()):
        gem = ref(engine, g["gemeentecode"])
        for topic in TOPICS:
            yield region, gem, topic, services_for(topic, gem, engine=engine)


def test_there_are_35_regions():
    assert len(FIRST_OF_REGION) == 35
    assert FIRST_OF_REGION["AM01"]["gemeentecode"] == "GM0014"


# ------------------------------------------------------------------------------------ coverage

def test_every_region_has_a_service_for_every_topic_and_audience(engine):
    missing = []
    for region, g in sorted(FIRST_OF_REGION.items()):
        gem = ref(engine, g["gemeentecode"])
        assert gem.region_code == region
        for topic in TOPICS:
            if not services_for(topic, gem, engine=engine):
                missing.append(f"{region} {g['gemeentenaam']} {topic} (default audiences)")
            for audience in default_audiences(topic):
                cards = services_for(topic, gem, audience=audience, engine=engine)
                if not cards:
                    missing.append(f"{region} {g['gemeentenaam']} {topic} {audience}")
                elif {c.audience for c in cards} != {audience}:
                    missing.append(f"{region} {topic} {audience}: got audiences {[c.audience for c in cards]}")
    assert not missing, "\n".join(missing)


def test_unknown_topic_is_refused(engine):
    with pytest.raises(ValueError):
        services_for("ask_for_a_pony", ref(engine, "GM0014"), engine=engine)


# ------------------------------------------------------------------------------------ ordering

def test_scope_then_priority_order_everywhere(engine):
    bad = []
    for region, gem, topic, cards in cards_by_region(engine):
        keys = [(SCOPE_RANK[c.scope], c.priority) for c in cards]
        if keys != sorted(keys):
            bad.append(f"{region} {topic}: {[(c.scope, c.priority, c.partner) for c in cards]}")
        # one scope per partner type: a regional partner replaces the national one of its type
        scopes = {}
        for c in cards:
            scopes.setdefault(c.partner_type, set()).add(c.scope)
        if any(len(s) > 1 for s in scopes.values()):
            bad.append(f"{region} {topic}: mixed scopes per partner type {scopes}")
        if len({c.partner_id for c in cards}) != len(cards):
            bad.append(f"{region} {topic}: a partner twice")
    assert not bad, "\n".join(bad[:20])


def test_a_regional_partner_replaces_the_national_one_of_its_type(engine):
    eindhoven = ref(engine, "Eindhoven")
    assert (eindhoven.code, eindhoven.region_code) == ("GM0772", "AM28")
    for topic in ("ask_retraining", "ask_apprenticeship", "ask_career_advice", "employer_training"):
        cards = services_for(topic, eindhoven, engine=engine)
        lwl = [(c.scope, c.partner) for c in cards if c.partner_type == "leerwerkloket"]
        # the national list of leerwerkloketten is replaced by the region's own (it has a website)
        assert lwl == [("region", "Leerwerkloket Zuidoost-Brabant")], topic


def test_rijnmond_partners_without_a_way_to_reach_them_are_held_back(engine):
    """Werkcentrum Rijnmond, Leerwerkloket Rijnmond and the WSP have no phone, website, e-mail or
    address in the seed: the person gets the partners they can reach, the national Leerwerkloket
    instead of the region's own."""
    rotterdam = ref(engine, "Rotterdam")
    assert (rotterdam.code, rotterdam.region_code) == ("GM0599", "AM22")

    cards = services_for("ask_retraining", rotterdam, engine=engine)
    assert [(c.scope, c.partner_type, c.partner) for c in cards] == [
        ("gemeente", "gemeente", "Gemeente Rotterdam"),
        ("national", "leerwerkloket", "Leerwerkloket"),
        ("national", "uwv", "UWV"),
        ("national", "scholing_info", "Leeroverzicht"),
    ]
    assert all(c.reachable for c in cards)

    for topic in ("ask_apprenticeship", "ask_career_advice", "employer_training"):
        cards = services_for(topic, rotterdam, engine=engine)
        lwl = [(c.scope, c.partner) for c in cards if c.partner_type == "leerwerkloket"]
        assert lwl == [("national", "Leerwerkloket")], topic

    hiring = services_for("employer_hiring", rotterdam, engine=engine)
    assert [(c.scope, c.partner_type, c.partner) for c in hiring] == [
        ("gemeente", "gemeente", "Gemeente Rotterdam"),
        ("national", "uwv", "Werkgeversservicepunt (UWV en gemeenten)"),
        ("national", "uwv", "werk.nl"),
    ]


def test_a_region_without_its_own_leerwerkloket_gets_the_national_one(engine):
    groningen = ref(engine, "GM0014")  # AM01 has a Werkcentrum (no contact details yet), no Leerwerkloket
    cards = services_for("ask_retraining", groningen, engine=engine)
    assert [(c.scope, c.partner_type, c.partner) for c in cards][:2] == [
        ("gemeente", "gemeente", "Gemeente Groningen"),
        ("national", "leerwerkloket", "Leerwerkloket"),
    ]
    assert cards[1].contact == {"website": "https://www.leerwerkloket.nl"}


def test_priority_orders_within_a_scope(engine):
    cards = services_for("ask_debt_help", ref(engine, "GM0014"), engine=engine)
    assert [(c.scope, c.priority, c.partner) for c in cards] == [
        ("gemeente", 10, "Gemeente Groningen"), ("national", 10, "Geldfit"),
        ("national", 20, "SchuldHulpMaatje"), ("national", 30, "Nibud")]


# ------------------------------------------------------------------------------ the audience

def test_employer_topics_return_only_werkgever_services(engine):
    bad = []
    for region, gem, topic, cards in cards_by_region(engine):
        audiences = {c.audience for c in cards}
        if topic in EMPLOYER_TOPICS and audiences != {"werkgever"}:
            bad.append(f"{region} {topic}: {audiences}")
        if topic not in EMPLOYER_TOPICS and "werkgever" in audiences:
            bad.append(f"{region} {topic}: an employer service for a resident")
    assert not bad, "\n".join(bad)


def test_an_explicit_audience_narrows_the_answer(engine):
    gem = ref(engine, "GM0014")
    werkende = services_for("ask_career_advice", gem, audience="werkende", engine=engine)
    werkzoekende = services_for("ask_career_advice", gem, audience="werkzoekende", engine=engine)
    assert {c.audience for c in werkende} == {"werkende"}
    assert {c.partner for c in werkende} >= {"FNV", "CNV", "De Unie"}  # vakbond: werkende only
    assert not {"FNV", "CNV", "De Unie"} & {c.partner for c in werkzoekende}


# ------------------------------------------------------------------------- contact, verified

def test_contact_details_come_only_from_the_partner_row(engine):
    with Session(engine, future=True) as session:
        partners = {p.id: p for p in session.execute(select(Partner)).scalars()}
        # a detail with a doubt (a 2018 phone number) waits for an administrator's check
        doubtful = {(f.partner_id, f.field) for f in session.execute(select(PartnerFieldSource)).scalars()
                    if f.doubt}
    bad, seen_contact = [], 0
    for region, gem, topic, cards in cards_by_region(engine):
        for c in cards:
            p = partners[c.partner_id]
            row = {f: getattr(p, f) for f in CONTACT_FIELDS if getattr(p, f)
                   and (p.id, "phone" if f == "phone_hours" else f) not in doubtful}
            if c.contact != row:
                bad.append(f"{c.partner_id}: card {c.contact} != row {row}")
            if any(not isinstance(v, str) or not v.strip() for v in c.contact.values()):
                bad.append(f"{c.partner_id}: empty contact value {c.contact}")
            if c.verified is not False:
                bad.append(f"{c.partner_id}: verified {c.verified!r} in the seed")
            if (c.partner_type, c.partner) != (p.type, p.name):
                bad.append(f"{c.partner_id}: {c.partner_type}/{c.partner} != {p.type}/{p.name}")
            seen_contact += bool(c.contact)
    assert not bad, "\n".join(bad[:20])
    assert seen_contact > 0  # the check above compared real contact details
    # the gemeente's public contact facts, without its 2018 phone number (Groningen changed since)
    gem_cards = services_for("ask_debt_help", ref(engine, "GM0014"), engine=engine)
    assert gem_cards[0].partner == "Gemeente Groningen" and gem_cards[0].contact == {
        "website": "https://gemeente.groningen.nl", "email": "info@groningen.nl",
        "address": "Postbus 20001, 9700 PB Groningen"}
    assert partners["gemeente-GM0014"].phone == "(050) 367 91 11"  # stored, not shown
    geldfit = next(c for c in gem_cards if c.partner == "Geldfit")
    assert geldfit.contact == {"phone": "0800-8115", "website": "https://www.geldfit.nl"}


def test_route_cards_say_unverified(engine):
    out = route("ask_dismissal_help", "Rotterdam", engine=engine)
    assert out["services"] and all(s["verified"] is False for s in out["services"])
    jl = next(s for s in out["services"] if s["partner"] == "Het Juridisch Loket")
    assert jl["contact"] == {"phone": "0900-8020 (€ 0,25 per minuut, max. € 12,50)",
                             "phone_hours": "elke dag 09.00-18.00",
                             "website": "https://www.juridischloket.nl"}
    assert "email" not in jl["contact"]  # none is known, so none is shown


# ------------------------------------------------------------------------ the services cache

def test_a_new_lookup_sees_the_table_after_the_caches_are_cleared(engine):
    gem = ref(engine, "GM0014")
    before = [c.partner_id for c in services_for("ask_debt_help", gem, engine=engine)]
    assert before == ["gemeente-GM0014", "geldfit", "schuldhulpmaatje", "nibud"]
    with session_scope(engine) as session:
        session.add(_partner("t-new"))
        session.flush()
        session.add(_national("t-new"))
    try:
        forget_cached_indexes()
        after = [c.partner_id for c in services_for("ask_debt_help", gem, engine=engine)]
        assert after == ["gemeente-GM0014", "t-new", "geldfit", "schuldhulpmaatje", "nibud"]
    finally:
        with session_scope(engine) as session:
            session.delete(session.get(Partner, "t-new"))  # its service goes with it (cascade)
        forget_cached_indexes()
    assert [c.partner_id for c in services_for("ask_debt_help", gem, engine=engine)] == before


def test_an_answer_cannot_change_the_next_one(engine):
    """Regression: services_for cached ServiceCard objects and route() handed out their own
    contact dicts, so a caller that changed one answer changed every later one."""
    cards = services_for("ask_debt_help", ref(engine, "GM0193"), engine=engine)
    cards[0].partner = "Iemand anders"
    cards[1].contact.clear()
    first = route("ask_debt_help", "Zwolle", engine=engine)
    assert first["services"][0]["partner"] == "Gemeente Zwolle"
    geldfit = next(s for s in first["services"] if s["partner"] == "Geldfit")
    geldfit["contact"]["phone"] = "0900-NOT-IN-THE-TABLE"
    second = route("ask_debt_help", "Zwolle", engine=engine)
    assert next(s for s in second["services"] if s["partner"] == "Geldfit")["contact"] == {
        "phone": "0800-8115", "website": "https://www.geldfit.nl"}


# --------------------------------------------------------------------------- validity period

def _partner(pid: str) -> Partner:
    return Partner(id=pid, type="schuldhulp", name=f"Testpartner {pid}", website=f"https://{pid}.example",
                   source="test", verified=False)


def _national(pid: str, valid_from=None, valid_until=None) -> Service:
    return Service(partner_id=pid, topic="ask_debt_help", scope="national", audience="werkzoekende",
                   description=f"test {pid}", priority=1, valid_from=valid_from,
                   valid_until=valid_until, source="test", verified=False)


VALIDITY_CASES = {  # partner id → (valid_from, valid_until, shown?)
    "t-expired": (None, -1, False),
    "t-future": (1, None, False),
    "t-ends-today": (None, 0, True),
    "t-starts-today": (0, None, True),
    "t-current": (-30, 30, True),
    "t-long-ago": (-400, -300, False),
}


def _add_validity_rows(session) -> None:
    today = date.today()
    for pid, (start, end) in ((k, v[:2]) for k, v in VALIDITY_CASES.items()):
        session.add(_partner(pid))
        session.flush()
        session.add(_national(pid, None if start is None else today + timedelta(days=start),
                              None if end is None else today + timedelta(days=end)))
    session.flush()


def test_validity_period_in_a_rolled_back_transaction(engine):
    """On the shared database: insert, look up in the same transaction, roll back."""
    gem = ref(engine, "GM0014")
    with Session(engine, future=True) as session:
        try:
            _add_validity_rows(session)
            shown = {c.partner_id for c in find_services(session, "ask_debt_help", gem)}
        finally:
            session.rollback()
    expected = {pid for pid, v in VALIDITY_CASES.items() if v[2]}
    assert shown & set(VALIDITY_CASES) == expected
    assert "gemeente-GM0014" in shown and "geldfit" in shown
    # nothing was left behind
    with Session(engine, future=True) as session:
        assert session.execute(select(Partner).where(Partner.id.like("t-%"))).scalars().all() == []
    assert not {c.partner_id for c in services_for("ask_debt_help", gem, engine=engine)} & set(VALIDITY_CASES)


def test_validity_period_through_services_for(empty_db_url):
    """On a copy of the seed: committed rows, looked up through the public call."""
    forget_cached_indexes()
    engine = make_engine(empty_db_url)
    try:
        with session_scope(engine) as session:
            seed(session)
            _add_validity_rows(session)
        gem = ref(engine, "GM0014")
        cards = services_for("ask_debt_help", gem, engine=engine)
        shown = {c.partner_id for c in cards}
        assert shown & set(VALIDITY_CASES) == {pid for pid, v in VALIDITY_CASES.items() if v[2]}
        # priority 1 puts the valid test partners first among the national services
        national = [c.partner_id for c in cards if c.scope == "national"]
        assert national[:3] == ["t-current", "t-ends-today", "t-starts-today"]
        # and a past "today" sees the expired one again
        with Session(engine, future=True) as session:
            past = {c.partner_id for c in find_services(session, "ask_debt_help", gem,
                                                          today=date.today() - timedelta(days=1))}
        assert "t-expired" in past and "t-future" not in past and "t-starts-today" not in past
    finally:
        engine.dispose()
        forget_cached_indexes()


# -------------------------------------------------------------------------------- route shape

def test_route_resolved_shape(engine):
    out = route("ask_debt_help", "Hoogezand", engine=engine)
    json.dumps(out)  # what the CLI prints
    assert set(out) == {"place", "topic", "services", "sector"}
    assert out["topic"] == "ask_debt_help" and out["sector"] is None  # `gids route --sector`: the sectoral route
    place = out["place"]
    assert {"input", "gemeente", "region"} <= set(place)
    assert place["input"] == "Hoogezand"
    assert {"code", "name"} <= set(place["gemeente"])
    assert place["gemeente"]["code"] == "GM1952" and place["gemeente"]["name"] == "Midden-Groningen"
    assert place["region"] == {"code": "AM01", "name": "Groningen"}
    assert place["how"] == "exact" and place["matched"] == "Hoogezand"
    assert len(out["services"]) == 4
    for s in out["services"]:
        assert {"partner_type", "partner", "service", "scope", "contact", "verified"} <= set(s)
        assert s["scope"] in SCOPE_RANK and isinstance(s["contact"], dict) and s["verified"] is False
        assert s["partner"] and s["service"]
    assert out["services"][0]["partner"] == "Gemeente Midden-Groningen"
    assert out["services"][0]["scope"] == "gemeente"


def test_route_ambiguous_shape(engine):
    out = route("ask_debt_help", "Haren", engine=engine)
    json.dumps(out)
    assert "services" not in out and "error" not in out
    assert out["ambiguous"] == [
        {"gemeente": {"code": "GM0014", "name": "Groningen", "province": "Groningen"},
         "region": {"code": "AM01", "name": "Groningen"}},
        {"gemeente": {"code": "GM0828", "name": "Oss", "province": "Noord-Brabant"},
         "region": {"code": "AM27", "name": "Noordoost-Brabant"}},
    ]


def test_route_unknown_shape(engine):
    out = route("ask_debt_help", "xyzzy", engine=engine)
    assert out["error"] == "unknown_place" and out["suggestions"] == []
    assert "services" not in out and "ambiguous" not in out
    typo = route("ask_debt_help", "nijmegem", engine=engine)
    assert typo["error"] == "unknown_place" and typo["suggestions"][0] == "Nijmegen"
    json.dumps(typo)


def test_route_gives_the_same_answer_as_its_parts(engine):
    res = resolve_place("9711 AB", engine=engine)
    out = route("ask_vacancies", "9711 AB", engine=engine)
    assert out["place"]["gemeente"]["code"] == res.gemeente.code == "GM0014"
    assert out["place"]["how"] == "postcode"
    assert [s["partner"] for s in out["services"]] == [
        c.partner for c in services_for("ask_vacancies", res.gemeente, engine=engine)]


# ------------------------------------------------------------------------------------ the CLI

def test_gids_route_command(db_url):
    """``gids route`` as a person runs it: a separate process that reads DATABASE_URL. One
    process per backend: each one loads the place index, which imports spaCy (and through
    thinc TensorFlow) for its list of Dutch words, ~15 s of CPU before the first answer."""
    proc = subprocess.run(
        [str(GIDS), "route", "--topic", "ask_debt_help", "--place", "Hoogezand", "--json"],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": db_url}, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout)
    assert found["place"]["gemeente"]["code"] == "GM1952"
    assert found["place"]["region"]["code"] == "AM01"
    assert found["topic"] == "ask_debt_help"
    assert [s["partner"] for s in found["services"]][:2] == ["Gemeente Midden-Groningen", "Geldfit"]


@pytest.mark.parametrize("place, exit_code", [("Hoogezand", 0), ("Haren", 2), ("xyzzy", 3)])
def test_gids_route_exit_codes(db_url, monkeypatch, capsys, place, exit_code):
    """The same command's exit codes, in this process (``gids`` is ``sys.exit(main())``)."""
    from bot.cli import main
    from bot.db import engine_for

    monkeypatch.setenv("DATABASE_URL", db_url)
    forget_cached_indexes()
    try:
        rc = main(["route", "--topic", "ask_debt_help", "--place", place, "--json"])
    finally:
        engine_for(db_url).dispose()
        forget_cached_indexes()
    out = json.loads(capsys.readouterr().out)
    assert rc == exit_code
    if exit_code == 0:
        assert out["place"]["gemeente"]["code"] == "GM1952" and out["place"]["region"]["code"] == "AM01"
    elif exit_code == 2:
        assert [c["gemeente"]["code"] for c in out["ambiguous"]] == ["GM0014", "GM0828"]
    else:
        assert out["error"] == "unknown_place" and out["suggestions"] == []


# -------------------------------------------------------------------------------- order_needs

def test_order_needs_puts_blocking_needs_first():
    assert order_needs(["ask_retraining", "ask_debt_help", "ask_language_help"]) == [
        "ask_debt_help", "ask_language_help", "ask_retraining"]


def test_order_needs_drops_duplicates_and_unknown_topics():
    assert order_needs(["ask_vacancies", "ask_debt_help", "ask_vacancies", "greet", "ask_for_a_pony",
                        "ask_debt_help"]) == ["ask_debt_help", "ask_vacancies"]
    assert order_needs([]) == []
    assert order_needs(["greet", "out_of_scope"]) == []
    assert order_needs(iter(["ask_benefits", "ask_dismissal_help"])) == ["ask_dismissal_help", "ask_benefits"]


def test_order_needs_knows_every_topic():
    assert sorted(TRIAGE_ORDER) == sorted(TOPICS)
    assert order_needs(reversed(TOPICS)) == TRIAGE_ORDER
    assert order_needs(TOPICS)[:2] == ["ask_debt_help", "ask_language_help"]
