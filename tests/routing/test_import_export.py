"""The administrator's import and export of the routing table (bot/routing/io.py, gids routing
import/export). Tests that change data work on their own copy of a seeded database, on SQLite and
on PostgreSQL; tests that only read (or must leave the database unchanged) use ``db_url``."""
from __future__ import annotations

import difflib
import sqlite3
import uuid
from datetime import date
from pathlib import Path

import pytest
import yaml
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bot import cli
from bot.db import engine_for, make_engine, session_scope
from bot.db.models import PARTNER_TYPES, Partner, PartnerFieldSource, Service
from bot.routing import io as rio
from bot.routing.services import TOPICS
from tests.conftest import migrate_and_seed
from tests.routing.conftest import _drop, _new_database

# 30 sector funds (partners/sector_funds.csv) with 119 services are among them.
SEED_PARTNERS, SEED_SERVICES = 416, 3406
# werkcentrum.nl is a partner without services of its own (the national handover target)
SEED_PARTNERS_WITH_SERVICES = SEED_PARTNERS - 1


# ------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def template(request, tmp_path_factory):
    """A migrated, seeded database per backend that tests copy instead of seeding again."""
    url, cleanup = _new_database(request.param, tmp_path_factory)
    migrate_and_seed(url)
    yield request.param, url, cleanup
    _drop(cleanup)


@pytest.fixture
def clone(template, tmp_path):
    """``clone()`` → (url, engine) of a fresh copy of the seeded template."""
    kind, url, cleanup = template
    made = []

    def make():
        if kind == "sqlite":
            path = tmp_path / f"clone{len(made)}.db"
            src, dst = sqlite3.connect(url.split("///", 1)[1]), sqlite3.connect(path)
            src.backup(dst)  # the backup API also copies what is still in the WAL
            src.close(), dst.close()
            new_url, name = f"sqlite:///{path}", None
        else:
            admin, template_name = cleanup
            name = f"gids_test_{uuid.uuid4().hex[:10]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
            new_url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        eng = make_engine(new_url)
        made.append((eng, name))
        return new_url, eng

    yield make
    for eng, name in made:
        eng.dispose()
        if name:
            with cleanup[0].connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def cli_db(monkeypatch):
    """Point the CLI at a database: ``cli_db(url)``."""
    def use(url: str) -> None:
        monkeypatch.setenv("DATABASE_URL", url)
        engine_for.cache_clear()
    yield use
    engine_for.cache_clear()


# ------------------------------------------------------------------------------------- helpers

def export_yaml(engine) -> str:
    with session_scope(engine) as session:
        return rio.yaml_text(*rio.export_rows(session))


def counts(engine) -> tuple:
    with session_scope(engine) as session:
        return tuple(session.execute(select(func.count()).select_from(m)).scalar() for m in (Partner, Service))


def get_partner(engine, pid: str) -> Partner:
    with session_scope(engine) as session:
        return session.get(Partner, pid)


def services_of(engine, pid: str) -> list:
    with session_scope(engine) as session:
        return session.execute(select(Service).where(Service.partner_id == pid)
                               .order_by(Service.topic, Service.audience)).scalars().all()


def load_yaml(text_: str):
    # libyaml: the pure-Python loader needs ~10 s for a full export.
    return yaml.load(text_, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def write(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8")
    return path


def enrich(engine) -> None:
    """Data the seed does not have: every field filled, odd characters, a new partner."""
    with session_scope(engine) as session:
        p = session.get(Partner, "gemeente-GM0014")
        p.phone, p.email, p.verified = "14 050", "info@groningen.nl", True
        p.address, p.checked_on = "Kreupelstraat 1, 9712 HW Groningen", date(2026, 11, 1)
        p.handover_webhook, p.handover_email = "https://example.org/hook?x=1&y=2", "overdracht@groningen.nl"
        session.add(Partner(id="werkcentrum-AM01-test", type="werkcentrum",
                            name='Werkcentrum "Test", Groningen', region_code="AM01",
                            description="Eerste regel, met komma;\nTweede regel: € 0,25 — ü",
                            phone="0900-8020 (€ 0,25 per minuut)", source="test", verified=False))
        session.flush()
        session.add_all([
            Service(partner_id="werkcentrum-AM01-test", topic="ask_retraining", scope="gemeente",
                    region_code="AM01", gemeente_code="GM0014", audience="werkende",
                    description="Omscholing\nin Groningen", conditions="", priority=0,
                    valid_from=date(2026, 1, 1), valid_until=date(2026, 12, 31), source="", verified=True),
            Service(partner_id="werkcentrum-AM01-test", topic="employer_hiring", scope="region",
                    region_code="AM01", audience="werkgever", description="Personeel vinden",
                    conditions="Alleen 'mkb'", priority=1000, source="test", verified=False),
        ])


# -------------------------------------------------------------------------------------- export

def test_export_is_deterministic_and_complete(db_url, tmp_path):
    engine = make_engine(db_url)
    try:
        first, second = export_yaml(engine), export_yaml(engine)
        rio.export_to("csv", tmp_path / "a", engine)
        rio.export_to("csv", tmp_path / "b", engine)
    finally:
        engine.dispose()
    assert first == second
    for name in ("partners.csv", "services.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

    doc = load_yaml(first)
    assert list(doc) == ["version", "partners", "services"] and doc["version"] == 1
    assert (len(doc["partners"]), len(doc["services"])) == (SEED_PARTNERS, SEED_SERVICES)
    ids = [p["id"] for p in doc["partners"]]
    assert ids == sorted(ids)
    assert list(doc["partners"][0]) == list(rio.PARTNER_FIELDS)
    assert list(doc["services"][0]) == list(rio.SERVICE_FIELDS)
    unie = next(p for p in doc["partners"] if p["id"] == "de_unie")
    assert (unie["phone"], unie["checked_on"], unie["verified"], unie["email"]) == \
        ("0345 851 851", date(2026, 11, 22), False, None)

    partners_csv = (tmp_path / "a" / "partners.csv").read_text(encoding="utf-8").splitlines()
    assert partners_csv[0] == ",".join(rio.PARTNER_FIELDS)
    assert len(partners_csv) == SEED_PARTNERS + 1
    assert any(line.startswith("de_unie,vakbond,De Unie,") and ",0345 851 851," in line
               and line.endswith(",false") for line in partners_csv)
    services_csv = (tmp_path / "a" / "services.csv").read_text(encoding="utf-8").splitlines()
    assert services_csv[0] == ",".join(rio.SERVICE_FIELDS) and len(services_csv) == SEED_SERVICES + 1


# ---------------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_round_trip_is_exact(clone, tmp_path, fmt):
    _, source = clone()
    enrich(source)
    first = tmp_path / ("first.yml" if fmt == "yaml" else "first")
    rio.export_to(fmt, first, source)
    files = [first] if fmt == "yaml" else [first / "partners.csv", first / "services.csv"]

    # Into a freshly seeded database: the new partner is added, the enriched one updated.
    _, target = clone()
    result = rio.import_files([first], target)
    assert result.problems == []
    assert str(result.summary) == (f"1 partners added, 1 updated, {SEED_PARTNERS - 1} unchanged; "
                                   f"{SEED_SERVICES + 2} services replaced for {SEED_PARTNERS_WITH_SERVICES + 1} "
                                   f"partners ({SEED_SERVICES} removed)")
    again = tmp_path / ("again.yml" if fmt == "yaml" else "again")
    rio.export_to(fmt, again, target)
    for f in files:
        assert (again / f.name if fmt == "csv" else again).read_bytes() == f.read_bytes()

    # Into a database without any partner or service: everything comes from the file alone.
    _, empty = clone()
    with session_scope(empty) as session:
        session.execute(delete(Service))
        session.execute(delete(Partner))
    assert rio.import_files(files, empty).summary.partners_added == SEED_PARTNERS + 1
    assert export_yaml(empty) == export_yaml(source)
    card = get_partner(empty, "werkcentrum-AM01-test")
    assert card.description == "Eerste regel, met komma;\nTweede regel: € 0,25 — ü"
    assert [(s.topic, s.priority, s.valid_until, s.conditions) for s in services_of(empty, card.id)] == [
        ("ask_retraining", 0, date(2026, 12, 31), ""), ("employer_hiring", 1000, None, "Alleen 'mkb'")]


# ---------------------------------------------------------------------------------------- edits

def test_edited_yaml_updates_exactly_what_changed(clone, tmp_path, monkeypatch):
    _, engine = clone()
    before = export_yaml(engine)
    doc = load_yaml(before)
    partner = next(p for p in doc["partners"] if p["id"] == "gemeente-GM0014")
    partner["phone"], partner["verified"] = "14 050", True
    service = next(s for s in doc["services"]
                   if s["partner_id"] == "geldfit" and s["audience"] == "werkende")
    old_description = service["description"]
    service["description"] = "Geldfit helpt je gratis, ook als je werkt."
    edited = write(tmp_path / "edited.yml", rio.yaml_text(doc["partners"], doc["services"]))
    forgotten = []
    monkeypatch.setattr(rio, "forget_cached_indexes", lambda: forgotten.append(True))

    result = rio.import_files([edited], engine)

    assert result.problems == [] and forgotten == [True]
    s = result.summary
    assert (s.partners_added, s.partners_updated, s.partners_unchanged) == (0, 1, SEED_PARTNERS - 1)
    assert (s.services_added, s.services_removed) == (SEED_SERVICES, SEED_SERVICES)
    after = export_yaml(engine)
    assert after == edited.read_text(encoding="utf-8")
    changed = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm="")
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed == ["-  phone: (050) 367 91 11", "+  phone: 14 050", "-  verified: false", "+  verified: true",
                       f"-  description: {old_description}",
                       "+  description: Geldfit helpt je gratis, ook als je werkt."]
    p = get_partner(engine, "gemeente-GM0014")
    assert (p.phone, p.verified, p.name, p.website) == ("14 050", True, "Gemeente Groningen",
                                                         "https://gemeente.groningen.nl")
    # The administrator's phone number no longer comes from the 2018 list (nor has its doubt);
    # the other details keep their source.
    with session_scope(engine) as session:
        sources = {f.field: f.doubt for f in session.execute(
            select(PartnerFieldSource).where(PartnerFieldSource.partner_id == "gemeente-GM0014")).scalars()}
    assert sources == {"website": None, "email": None, "address": None}
    assert counts(engine) == (SEED_PARTNERS, SEED_SERVICES)


def test_partial_csv_changes_only_its_columns_and_trims(clone, tmp_path):
    _, engine = clone()
    cnv_services = [(s.topic, s.audience, s.description) for s in services_of(engine, "cnv")]
    # Only some columns: the others (description, source, checked_on …) stay as they are;
    # an empty cell clears its field; values are trimmed.
    csv_file = write(tmp_path / "partners.csv",
                     "id,type,name,phone,email,website,verified\n"
                     "cnv,vakbond,CNV ,  030 751 1000 , info@cnv.nl ,,Ja\n")
    result = rio.import_files([csv_file], engine)
    assert result.problems == []
    assert str(result.summary) == ("0 partners added, 1 updated, 0 unchanged; "
                                   "0 services replaced for 0 partners (0 removed)")
    p = get_partner(engine, "cnv")
    assert (p.name, p.phone, p.email, p.website, p.verified) == \
        ("CNV", "030 751 1000", "info@cnv.nl", None, True)
    assert p.description.startswith("CNV is een vakbond") and p.checked_on == date(2026, 11, 22)
    assert [(s.topic, s.audience, s.description) for s in services_of(engine, "cnv")] == cnv_services
    assert counts(engine) == (SEED_PARTNERS, SEED_SERVICES)


def test_services_replaced_only_for_partners_in_the_file(clone, tmp_path):
    _, engine = clone()
    uwv_before = len(services_of(engine, "uwv"))
    csv_file = write(tmp_path / "services.csv",
                     "partner_id,topic,scope,audience,description,priority,verified\n"
                     "geldfit,ask_debt_help,national,werkzoekende,Gratis hulp bij geldzorgen.,,\n")
    result = rio.import_files([csv_file], engine)
    assert result.problems == []
    assert result.summary.service_partners == 1 and result.summary.services_added == 1
    rows = services_of(engine, "geldfit")
    assert [(s.topic, s.audience, s.description, s.priority, s.conditions, s.verified, s.source)
            for s in rows] == [("ask_debt_help", "werkzoekende", "Gratis hulp bij geldzorgen.", 50, "",
                                False, "")]
    assert len(services_of(engine, "uwv")) == uwv_before
    assert counts(engine) == (SEED_PARTNERS, SEED_SERVICES - result.summary.services_removed + 1)


def test_yaml_values_are_taken_as_written(clone, tmp_path):
    _, engine = clone()
    # Unquoted, YAML 1.1 would read 0345123456 as an octal number and 2026-11-01 as a date.
    f = write(tmp_path / "p.yaml", "partners:\n- id: de_unie\n  type: vakbond\n  name: De Unie\n"
                                   "  phone: 0345123456\n  checked_on: 2026-11-01\n  verified: nee\n")
    assert rio.import_files([f], engine).problems == []
    p = get_partner(engine, "de_unie")
    assert (p.phone, p.checked_on, p.verified) == ("0345123456", date(2026, 11, 1), False)


# ----------------------------------------------------------------------------------- validation

BAD_PARTNERS = (
    "id,type,name,website,phone,email,verified,region_code,gemeente_code\n"   # 1
    "test-ok,werkcentrum,Werkcentrum Test,https://test.nl,14 050,info@test.nl,ja,AM01,\n"  # 2
    "test-type,bakkerij,Bakker,,,,,,\n"                                         # 3
    "test-contact,werkcentrum,Contact,ftp://test.nl,12345,geen-mail,misschien,,\n"  # 4
    'test-multi,werkcentrum,"Naam over\n'                                       # 5
    'twee regels",,,,,AM99,\n'                                                  # 6
    "test-ok,werkcentrum,Nog een keer,,,,,,\n"                                  # 7
    f"test-long,werkcentrum,{'x' * 201},,,,,,\n"                                # 8
    ",werkcentrum,Zonder id,,,,,,\n"                                            # 9
    "test-gm,gemeente,Gemeente,,,,,AM02,GM0014\n"                               # 10
)
BAD_SERVICES = (
    "partner_id,topic,scope,region_code,gemeente_code,audience,description,priority,valid_from,valid_until\n"
    "bestaat-niet,ask_debt_help,national,,,werkzoekende,Hulp,,,\n"            # 2
    "test-ok,employer_hiring,national,,,werkzoekende,Hulp,,,\n"                # 3
    "test-ok,ask_debt_help,region,,,werkende,Hulp,,,\n"                        # 4
    "test-ok,ask_debt_help,gemeente,AM02,GM0014,werkende,Hulp,,,\n"            # 5
    "test-ok,ask_vacancies,national,,,werkgever,Hulp,5000,2027-01-01,2026-01-01\n"  # 6
    "test-ok,ask_pizza,national,,,werkende,,10,22-11-2026,\n"                  # 7
    "test-ok,ask_benefits,national,,,werkende,Goed,10,2026-01-01,2026-12-31\n"  # 8
    "uwv,ask_benefits,national,,,werkende,Goed,10,,\n"                         # 9
    "test-ok,ask_benefits,national,,,werkende,Dubbel,20,2026-01-01,2026-12-31\n"  # 10
    "test-ok,ask_benefits,national\n"                                          # 11
)
BAD_YAML = """\
version: 1
partners:
- id: yaml-ok
  type: werkcentrum
  name: YAML goed
- id: yaml-bad
  type: werkcentrum
  phone: "0900"
  checked_on: 2026-13-01
- id: yaml-ok
  type: wsp
  name: Dubbel
- id: yaml-typo
  type: wsp
  name: Typefout
  phnoe: 050 123 4567
services:
- partner_id: yaml-ok
  topic: ask_debt_help
  scope: national
  audience: werkzoekende
  description: Goed
- partner_id: yaml-ok
  topic: ask_debt_help
  scope: national
  audience: werkzoekende
  description: Nog eens
  verified: misschien
- [niet, goed]
"""


def test_bad_rows_are_all_reported_with_file_and_line(db_url, tmp_path):
    partners = write(tmp_path / "partners.csv", BAD_PARTNERS)
    services = write(tmp_path / "services.csv", BAD_SERVICES)
    bad_yaml = write(tmp_path / "bad.yml", BAD_YAML)
    engine = make_engine(db_url)
    try:
        before, before_counts = export_yaml(engine), counts(engine)
        result = rio.import_files([tmp_path, bad_yaml], engine)  # a directory and a file
        after, after_counts = export_yaml(engine), counts(engine)
    finally:
        engine.dispose()
    types, topics = ", ".join(PARTNER_TYPES), ", ".join(TOPICS)
    y, p, s = bad_yaml, partners, services
    assert [str(x) for x in result.problems] == [
        f"{y}:6: name: required",
        f"{y}:6: phone: '0900' is not a Dutch phone number",
        f"{y}:6: checked_on: '2026-13-01' is not a date as YYYY-MM-DD",
        f"{y}:10: duplicate partner id 'yaml-ok' (first at {y}:3)",
        f"{y}:13: unknown field 'phnoe'",
        f"{y}:23: verified: 'misschien' is not true/false (ja/nee, 1/0)",
        f"{y}:29: each of services must be a mapping of fields",
        f"{p}:3: type: 'bakkerij' is not one of {types}",
        f"{p}:4: website: 'ftp://test.nl' is not an http(s) web address",
        f"{p}:4: phone: '12345' is not a Dutch phone number",
        f"{p}:4: email: 'geen-mail' is not a valid e-mail address",
        f"{p}:4: verified: 'misschien' is not true/false (ja/nee, 1/0)",
        f"{p}:5: region_code: 'AM99' is not a known arbeidsmarktregio code",
        f"{p}:7: duplicate partner id 'test-ok' (first at {p}:2)",
        f"{p}:8: name: 201 characters, at most 200 allowed",
        f"{p}:9: id: required",
        f"{p}:10: gemeente_code 'GM0014' lies in region AM01, not AM02",
        f"{s}:2: partner_id: 'bestaat-niet' is not in this import nor in the database",
        f"{s}:3: topic employer_hiring is for employers: audience must be werkgever",
        f"{s}:4: scope region: give region_code and leave gemeente_code empty",
        f"{s}:5: gemeente_code 'GM0014' lies in region AM01, not AM02",
        f"{s}:6: priority: '5000' is not a whole number from 0 to 1000",
        f"{s}:6: topic ask_vacancies is for residents: audience cannot be werkgever",
        f"{s}:6: valid_from 2027-01-01 is after valid_until 2026-01-01",
        f"{s}:7: topic: 'ask_pizza' is not one of {topics}",
        f"{s}:7: description: required",
        f"{s}:7: valid_from: '22-11-2026' is not a date as YYYY-MM-DD",
        f"{s}:10: the same service as {s}:8 (same partner_id, topic, audience, scope, region_code, "
        "gemeente_code, valid_from, valid_until)",
        f"{s}:11: 3 values, but the header has 10 columns",
    ]
    assert result.summary is None
    assert after_counts == before_counts == (SEED_PARTNERS, SEED_SERVICES)
    assert after == before


def test_unknown_partner_id_is_refused_but_a_database_partner_is_known(db_url, tmp_path):
    f = write(tmp_path / "services.csv",
              "partner_id,topic,scope,audience,description\n"
              "uwv,ask_benefits,national,werkzoekende,Uitkering aanvragen\n"
              "uvw,ask_benefits,national,werkzoekende,Uitkering aanvragen\n")
    engine = make_engine(db_url)
    try:
        result = rio.import_files([f], engine, dry_run=True)
    finally:
        engine.dispose()
    assert [str(x) for x in result.problems] == [
        f"{f}:3: partner_id: 'uvw' is not in this import nor in the database"]


def test_duplicate_partner_id(db_url, tmp_path):
    f = write(tmp_path / "dup.yaml", "partners:\n"
                                     "- {id: nieuw, type: wsp, name: Een}\n"
                                     "- {id: ander, type: wsp, name: Twee}\n"
                                     "- {id: nieuw, type: wsp, name: Drie}\n")
    engine = make_engine(db_url)
    try:
        result = rio.import_files([f], engine)
        assert get_partner(engine, "nieuw") is None
    finally:
        engine.dispose()
    assert [str(x) for x in result.problems] == [f"{f}:4: duplicate partner id 'nieuw' (first at {f}:2)"]


def test_unreadable_files_are_reported(tmp_path):
    broken = write(tmp_path / "broken.yml", "partners:\n- id: a\n  name: [unclosed\n")
    other = write(tmp_path / "notes.txt", "hallo")
    partners, services, problems = rio.read_import([broken, other, tmp_path / "missing.csv"])
    assert (partners, services) == ([], [])
    # The wording of the YAML error differs between libyaml and the pure-Python parser.
    assert str(problems[0]).startswith(f"{broken}:4: not valid YAML: ") and "']'" in str(problems[0])
    assert [str(p) for p in problems[1:]] == [
        f"{tmp_path / 'missing.csv'}: file not found",
        f"{other}: unknown file: expected a .yml/.yaml file, partners.csv or services.csv",
    ]


@pytest.mark.parametrize("number,ok", [
    ("14 050", True), ("14050", True), ("14 0591", True), ("0800-8115", True), ("0900-8020", True),
    ("0900-8020 (€ 0,25 per minuut, max. € 12,50)", True), ("088-368 03 68", True),
    ("+31 20 123 4567", True), ("06-12345678", True),
    ("12345", False), ("112", False), ("0900", False), ("+32 2 123 45 67", False), ("bel ons", False),
    ("030 751 1000 (of mail)", True), ("(030) 751 1000", True), ("030 751 1000 (a) (b)", False),
    ("tel. 030 751 1000", False), ("030 751 1000 bel ons", False), ("030 751 1000 of 06 12345678", False),
])
def test_phone_numbers(number, ok):
    assert rio.valid_phone(number) is ok


@pytest.mark.parametrize("address,ok", [
    ("info@gemeente.nl", True), ("a.b+c@werk-centrum.example.org", True),
    ("geen-mail", False), ("Jan <jan@x.nl>", False), ("jan@x", False), ("jan..piet@x.nl", False),
    ("jan@x.nl, piet@x.nl", False), ("jan @x.nl", False),
])
def test_email_addresses(address, ok):
    assert rio.valid_email(address) is ok


@pytest.mark.parametrize("url,ok", [
    ("https://www.uwv.nl", True), ("http://localhost:8080/hook", True),
    ("www.uwv.nl", False), ("ftp://x.nl", False), ("https://", False), ("https://a b.nl", False),
])
def test_urls(url, ok):
    assert rio.valid_url(url) is ok


# ------------------------------------------------------------------------------ safety of apply

def test_database_error_inside_the_transaction_changes_nothing(clone, tmp_path, monkeypatch):
    _, engine = clone()
    doc = load_yaml(export_yaml(engine))
    doc["partners"][0]["phone"] = "14 050"
    doc["partners"].append({"id": "nieuw", "type": "wsp", "name": "Nieuw WSP"})
    f = write(tmp_path / "edit.yml", rio.yaml_text(doc["partners"], doc["services"]))
    before = export_yaml(engine)

    # The second flush comes after partners were written and services deleted.
    real_flush, calls = Session.flush, []

    def failing_flush(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("INSERT INTO service", {}, Exception("disk full"))
        return real_flush(self, *args, **kwargs)

    monkeypatch.setattr(Session, "flush", failing_flush)
    with pytest.raises(OperationalError):
        rio.import_files([f], engine)
    monkeypatch.setattr(Session, "flush", real_flush)
    assert len(calls) == 2
    assert export_yaml(engine) == before
    assert counts(engine) == (SEED_PARTNERS, SEED_SERVICES) and get_partner(engine, "nieuw") is None


def test_dry_run_changes_nothing(clone, tmp_path):
    _, engine = clone()
    doc = load_yaml(export_yaml(engine))
    doc["partners"][0]["verified"] = True
    doc["services"] = [s for s in doc["services"] if s["partner_id"] == "uwv"][:1]
    f = write(tmp_path / "edit.yml", rio.yaml_text(doc["partners"], doc["services"]))
    before = export_yaml(engine)
    result = rio.import_files([f], engine, dry_run=True)
    assert result.problems == [] and result.dry_run
    removed = len(services_of(engine, "uwv"))
    assert str(result.summary) == (f"0 partners added, 1 updated, {SEED_PARTNERS - 1} unchanged; "
                                   f"1 services replaced for 1 partners ({removed} removed)")
    assert export_yaml(engine) == before


# ------------------------------------------------------------------------------------------ CLI

def test_cli_exit_codes(clone, cli_db, tmp_path, capsys):
    url, engine = clone()
    cli_db(url)
    out = tmp_path / "routing.yml"
    assert cli.main(["routing", "export", "--out", str(out)]) == 0
    assert cli.main(["routing", "export"]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")  # stdout: the YAML alone
    assert cli.main(["routing", "export", "--format", "csv"]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert cli.main(["routing", "export", "--format", "csv", "--out", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "services.csv").is_file()

    assert cli.main(["routing", "import", str(tmp_path / "csv"), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("dry run, nothing changed: 0 partners added, 0 updated")
    assert cli.main(["routing", "import", str(out)]) == 0
    assert capsys.readouterr().out == (
        f"imported: 0 partners added, 0 updated, {SEED_PARTNERS} unchanged; {SEED_SERVICES} services "
        f"replaced for {SEED_PARTNERS_WITH_SERVICES} partners ({SEED_SERVICES} removed)\n")

    (tmp_path / "bad").mkdir()
    bad = write(tmp_path / "bad" / "services.csv",
                "partner_id,topic,scope,audience,description\n"
                "uwv,ask_benefits,region,werkzoekende,Hulp\n"
                "nobody,ask_benefits,national,werkzoekende,Hulp\n")
    before = export_yaml(engine)
    assert cli.main(["routing", "import", str(bad)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"{bad}:2: scope region: give region_code and leave gemeente_code empty",
        f"{bad}:3: partner_id: 'nobody' is not in this import nor in the database",
        "2 problems; nothing was imported"]
    assert cli.main(["routing", "import", str(tmp_path / "missing.yml")]) == 1
    assert export_yaml(engine) == before


def test_cli_reports_database_errors(cli_db, tmp_path, capsys):
    cli_db(f"sqlite:///{tmp_path / 'not-migrated.db'}")  # no tables: every query fails
    f = write(tmp_path / "services.csv", "partner_id,topic,scope,audience,description\n")
    assert cli.main(["routing", "import", str(f)]) == 4
    assert "import failed in the database, nothing changed" in capsys.readouterr().err
    assert cli.main(["routing", "export"]) == 4
