"""The functional administrator's import and export of the routing table (partners and services).

Export: YAML (one document ``{version: 1, partners: [...], services: [...]}``) or a directory with
partners.csv and services.csv. Rows are sorted in Python, not by the database, so SQLite and
PostgreSQL (whose collations differ) give byte-identical files for the same data.

Import: everything is read and validated first and every problem is reported as ``FILE:LINE:
reason``; only a file without problems is applied, in one transaction:
- partners are upserted by id; a field that is absent from the file (no CSV column, no YAML key)
  is left as it is, a field that is present but empty is cleared;
- for every partner that has services in the file, all its services are replaced by the file's,
  so export → edit → import is exact. Partners and services not in the file are left alone.

Values are handled as text on both paths: YAML scalars are taken as written (from
``yaml.compose``), so ``phone: 0345851851`` is not read as an octal number and YAML and CSV
share one validation."""
from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence, TextIO, Tuple, Union, cast
from urllib.parse import urlsplit

import phonenumbers
import yaml
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.db import session_scope
from bot.db.models import (AUDIENCES, PARTNER_TYPES, SCOPES, Arbeidsmarktregio, Gemeente, Partner,
                           PartnerFieldSource,
                           Service)
from bot.routing.places import forget_cached_indexes
from bot.routing.services import EMPLOYER_TOPICS, TOPICS

if TYPE_CHECKING:
    from sqlalchemy.engine import CursorResult

FORMAT_VERSION = 1
# `note` is for administrators only (never on a card); verified_at/verified_by say who confirmed the row.
# `sector` and `sector_words` (";"-separated) are the sectoral route of a sectorfonds (bot/routing/sectors.py).
PARTNER_FIELDS = ("id", "type", "name", "note", "description", "website", "phone", "phone_hours", "email",
                  "address", "opening_hours", "handover_email", "handover_webhook", "region_code",
                  "gemeente_code", "sector", "sector_words", "checked_on", "source", "verified_at",
                  "verified_by", "verified")
# A changed value no longer comes from the source recorded for it in partner_field_source.
SOURCED_FIELDS = ("website", "email", "address", "phone")
SERVICE_FIELDS = ("partner_id", "topic", "scope", "region_code", "gemeente_code", "audience",
                  "description", "conditions", "priority", "valid_from", "valid_until", "source",
                  "verified")
PARTNER_REQUIRED = ("id", "type", "name")
SERVICE_REQUIRED = ("partner_id", "topic", "scope", "audience", "description")
# Two services with all of these equal would be shown twice to the same person.
SERVICE_IDENTITY = ("partner_id", "topic", "audience", "scope", "region_code", "gemeente_code",
                    "valid_from", "valid_until")
DATE_FIELDS = ("checked_on", "valid_from", "valid_until")
DATETIME_FIELDS = ("verified_at",)
URL_FIELDS = ("website", "handover_webhook")
EMAIL_FIELDS = ("email", "handover_email")
TRUE, FALSE = {"true", "ja", "1", "yes", "waar"}, {"false", "nee", "0", "no", "onwaar"}

_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@"
                    r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECTOR_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Gemeenten are called on 14 + netnummer ("14 050"); allowed explicitly in case a phonenumbers
# release stops listing these short numbers as valid.
_GEMEENTE_14 = re.compile(r"^14[ -]?0\d{2,3}$")
# A note after the number, such as the cost 0900 numbers are given with: "0900-8020 (€ 0,25 per minuut)".
# The seed has one (Het Juridisch Loket), so without this its own export could not be re-imported.
_PHONE_NOTE = re.compile(r"^(?P<number>[^()]+?)\s*\((?P<note>[^()]*)\)$")
_PHONE_CHARS = re.compile(r"^[+\d\s()./-]+$")
# libyaml when present: the pure-Python parser takes ~20 s for a full export of the table.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Problem:
    file: str
    line: Optional[int]
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}" if self.line else f"{self.file}: {self.reason}"


@dataclass
class Row:
    """One partner or service as read: raw text per field (None = empty/null); fields absent
    from the file are absent from ``values``."""
    file: str
    line: int
    values: Dict[str, Optional[str]]

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Summary:
    partners_added: int = 0
    partners_updated: int = 0
    partners_unchanged: int = 0
    services_removed: int = 0
    services_added: int = 0
    service_partners: int = 0

    def __str__(self) -> str:
        return (f"{self.partners_added} partners added, {self.partners_updated} updated, "
                f"{self.partners_unchanged} unchanged; {self.services_added} services replaced for "
                f"{self.service_partners} partners ({self.services_removed} removed)")


@dataclass
class ImportResult:
    problems: List[Problem] = field(default_factory=list)
    summary: Optional[Summary] = None
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------------------------------- export

def _row_dict(obj, fields: Sequence[str]) -> Dict:
    return {f: getattr(obj, f) for f in fields}


def _sort_key(row: Dict, fields: Sequence[str]) -> Tuple:
    # None sorts before any value; every value compared as text so mixed types never meet.
    return tuple((row[f] is not None, str(row[f]) if row[f] is not None else "") for f in fields)


def export_rows(session: Session) -> Tuple[List[Dict], List[Dict]]:
    """All partners and services as dicts of typed values (str, int, bool, date, None)."""
    partners = [_row_dict(p, PARTNER_FIELDS) for p in session.execute(select(Partner)).scalars()]
    services = [_row_dict(s, SERVICE_FIELDS) for s in session.execute(select(Service)).scalars()]
    partners.sort(key=lambda r: r["id"])
    # Services have no natural key (several may differ only in their validity period): sort on
    # every field, so the order does not depend on the database's ids.
    services.sort(key=lambda r: _sort_key(r, SERVICE_FIELDS))
    return partners, services


def yaml_text(partners: List[Dict], services: List[Dict]) -> str:
    doc = {"version": FORMAT_VERSION, "partners": partners, "services": services}
    # width: no folded lines, so a changed word is a one-line diff for the administrator.
    return yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     default_flow_style=False, width=100_000)


def write_yaml(partners: List[Dict], services: List[Dict],
               out: Union[str, Path, TextIO, None] = None) -> None:
    text = yaml_text(partners, services)
    if out is None or out == "-":
        sys.stdout.write(text)
    elif hasattr(out, "write"):
        out.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8")


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(partners: List[Dict], services: List[Dict], directory: Union[str, Path]) -> List[Path]:
    """partners.csv and services.csv in ``directory`` (made if needed); UTF-8, header row."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fields, rows in (("partners.csv", PARTNER_FIELDS, partners),
                               ("services.csv", SERVICE_FIELDS, services)):
        with open(d / name, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(fields)
            w.writerows([_csv_cell(r[k]) for k in fields] for r in rows)
        written.append(d / name)
    return written


# ------------------------------------------------------------------------------------------ read

def _kind_of(path: Path) -> Optional[str]:
    name = path.name.lower()
    if name.endswith((".yml", ".yaml")):
        return "yaml"
    if name.endswith(".csv") and name.startswith(("partners", "services")):
        return name[:8]  # "partners" or "services"
    return None


def _expand(paths: Iterable[Union[str, Path]], problems: List[Problem]) -> List[Path]:
    files: List[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = [p / n for n in ("partners.csv", "services.csv") if (p / n).is_file()]
            if not found:
                problems.append(Problem(str(p), None, "directory has no partners.csv or services.csv"))
            files.extend(found)
        elif not p.is_file():
            problems.append(Problem(str(p), None, "file not found"))
        elif _kind_of(p) is None:
            problems.append(Problem(str(p), None, "unknown file: expected a .yml/.yaml file, "
                                                   "partners.csv or services.csv"))
        else:
            files.append(p)
    return files


def _read_csv(path: Path, fields: Sequence[str], required: Sequence[str],
              problems: List[Problem]) -> List[Row]:
    name = str(path)
    # utf-8-sig: Excel writes a byte order mark; Excel with Dutch settings also uses ";".
    text = path.read_text(encoding="utf-8-sig")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        problems.append(Problem(name, 1, "empty file: a header row is needed"))
        return []
    bad = [h for h in header if h not in fields]
    missing = [h for h in required if h not in header]
    dupes = sorted({h for h in header if header.count(h) > 1})
    if bad or missing or dupes:
        for h in bad:
            problems.append(Problem(name, 1, f"unknown column {h!r}"))
        for h in missing:
            problems.append(Problem(name, 1, f"column {h!r} is missing"))
        for h in dupes:
            problems.append(Problem(name, 1, f"column {h!r} appears twice"))
        return []
    rows: List[Row] = []
    end = reader.line_num
    try:
        for cells in reader:
            # A quoted cell may span lines: the row starts on the line after the previous row ended.
            start, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problems.append(Problem(name, start, f"{len(cells)} values, but the header has "
                                                     f"{len(header)} columns"))
                continue
            rows.append(Row(name, start, dict(zip(header, cells))))
    except csv.Error as exc:
        problems.append(Problem(name, reader.line_num, f"unreadable CSV: {exc}"))
    return rows


def _scalar(node: yaml.Node) -> Optional[str]:
    # The text as written; a plain empty/null/~ is null.
    if node.tag == "tag:yaml.org,2002:null":
        return None
    return node.value


def _read_yaml(path: Path, problems: List[Problem]) -> Tuple[List[Row], List[Row]]:
    name = str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problems.append(Problem(name, mark.line + 1 if mark else None,
                                f"not valid YAML: {getattr(exc, 'problem', None) or exc}"))
        return [], []
    if root is None:
        problems.append(Problem(name, None, "empty file"))
        return [], []
    if not isinstance(root, yaml.MappingNode):
        problems.append(Problem(name, root.start_mark.line + 1,
                                "expected a mapping with version, partners and services"))
        return [], []
    out: Dict[str, List[Row]] = {"partners": [], "services": []}
    for key_node, value_node in root.value:
        key = key_node.value
        line = key_node.start_mark.line + 1
        if key == "version":
            if _scalar(value_node) != str(FORMAT_VERSION):
                problems.append(Problem(name, line, f"version must be {FORMAT_VERSION}"))
        elif key in out:
            fields = PARTNER_FIELDS if key == "partners" else SERVICE_FIELDS
            out[key].extend(_yaml_items(name, key, value_node, fields, problems))
        else:
            problems.append(Problem(name, line, f"unknown key {key!r}: expected version, partners, services"))
    return out["partners"], out["services"]


def _yaml_items(name: str, key: str, seq: yaml.Node, fields: Sequence[str],
                problems: List[Problem]) -> List[Row]:
    if isinstance(seq, yaml.ScalarNode) and _scalar(seq) is None:
        return []  # "services:" with nothing under it
    if not isinstance(seq, yaml.SequenceNode):
        problems.append(Problem(name, seq.start_mark.line + 1, f"{key} must be a list"))
        return []
    rows = []
    for item in seq.value:
        line = item.start_mark.line + 1  # the line of the "- " list item
        if not isinstance(item, yaml.MappingNode):
            problems.append(Problem(name, line, f"each of {key} must be a mapping of fields"))
            continue
        values: Dict[str, Optional[str]] = {}
        ok = True
        for k, v in item.value:
            fname = str(k.value).strip().lower()
            if fname not in fields:
                problems.append(Problem(name, line, f"unknown field {fname!r}"))
                ok = False
            elif fname in values:
                problems.append(Problem(name, line, f"field {fname!r} appears twice"))
                ok = False
            elif not isinstance(v, yaml.ScalarNode):
                problems.append(Problem(name, line, f"{fname}: must be a single value, not a list or mapping"))
                ok = False
            else:
                values[fname] = _scalar(v)
        if ok:
            rows.append(Row(name, line, values))
    return rows


def read_import(paths: Iterable[Union[str, Path]]) -> Tuple[List[Row], List[Row], List[Problem]]:
    """Read YAML files, partners.csv/services.csv or directories holding them. Nothing is
    checked against the rules yet (see ``validate``); problems are those of reading."""
    problems: List[Problem] = []
    partners: List[Row] = []
    services: List[Row] = []
    for path in _expand(paths, problems):
        try:
            kind = _kind_of(path)
            if kind == "yaml":
                p, s = _read_yaml(path, problems)
                partners += p
                services += s
            elif kind == "partners":
                partners += _read_csv(path, PARTNER_FIELDS, PARTNER_REQUIRED, problems)
            else:
                services += _read_csv(path, SERVICE_FIELDS, SERVICE_REQUIRED, problems)
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(path), None, f"not UTF-8 text ({exc.reason} at byte {exc.start})"))
        except OSError as exc:
            problems.append(Problem(str(path), None, f"cannot read: {exc.strerror or exc}"))
    return partners, services, sorted(problems, key=_problem_order)


# -------------------------------------------------------------------------------------- validate

def _problem_order(p: Problem) -> Tuple:
    return p.file, p.line or 0  # stable: a row's problems keep the order they were found in


def valid_phone(text: str) -> bool:
    """A Dutch phone number as phonenumbers understands it (0800/0900 and 14 + netnummer
    included), optionally followed by a note in brackets such as the cost per minute."""
    m = _PHONE_NOTE.match(text)
    number = m.group("number") if m else text
    # phonenumbers itself is lenient: it skips leading text ("tel.") and reads letters as digits.
    if not _PHONE_CHARS.match(number):
        return False
    if _GEMEENTE_14.match(number):
        return True
    try:
        parsed = phonenumbers.parse(number, "NL")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number_for_region(parsed, "NL")


def valid_email(text: str) -> bool:
    # parseaddr rejects display names and stray brackets the regex might let through.
    return bool(_EMAIL.match(text)) and parseaddr(text) == ("", text) and len(text) <= 254


def valid_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and not any(c.isspace() for c in text))


def _parse_date(text: str) -> Optional[date]:
    if not _ISO_DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


class _Checker:
    """Turns the raw text of one row into column values, field by field in the export's field
    order (so a row's problems come in a fixed order), collecting problems."""

    def __init__(self, model, row: Row, problems: List[Problem]):
        self.columns = model.__table__.c
        self.row = row
        self.problems = problems
        self.values: Dict[str, object] = {}
        self.failed = False

    def fail(self, reason: str) -> None:
        self.failed = True
        self.problems.append(Problem(self.row.file, self.row.line, reason))

    def get(self, name: str):
        return self.values.get(name)

    def field(self, name: str, required: bool, check=None) -> None:
        """Read one field; ``check(value) -> reason or None`` for a non-empty value."""
        if name not in self.row.values:
            if required:
                self.fail(f"{name}: required")
            return
        value = (self.row.values[name] or "").strip()
        column = self.columns[name]
        if not value:
            if required:
                self.fail(f"{name}: required")
            else:
                # Empty: NULL where the column allows it, else its default ("", 50, not verified).
                self.values[name] = _column_default(column)
            return
        limit = getattr(column.type, "length", None)
        if limit and len(value) > limit:
            self.fail(f"{name}: {len(value)} characters, at most {limit} allowed")
            return
        converted, reason = _convert(name, value)
        if reason is None and check is not None:
            reason = check(converted)
        if reason:
            self.fail(f"{name}: {reason}")
        else:
            self.values[name] = converted


def _column_default(column):
    return column.default.arg if column.default is not None else (None if column.nullable else "")


def _parse_datetime(text: str) -> Optional[datetime]:
    """ "2026-12-05", "2026-12-05 14:30:00" (YAML) or "2026-12-05T14:30:00" (CSV), UTC."""
    if not _ISO_DATE.match(text[:10]) or (len(text) > 10 and text[10] not in " T"):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _convert(name: str, value: str) -> Tuple[object, Optional[str]]:
    """Text → the column's type; returns (value, reason it is not valid)."""
    if name in DATETIME_FIELDS:
        moment = _parse_datetime(value)
        if moment is not None and moment.tzinfo is not None:
            moment = None  # stored as UTC without a time zone, like every other time here
        return moment, None if moment else f"{value!r} is not a date as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
    if name in DATE_FIELDS:
        parsed = _parse_date(value)
        return parsed, None if parsed else f"{value!r} is not a date as YYYY-MM-DD"
    if name == "verified":
        low = value.lower()
        if low in TRUE or low in FALSE:
            return low in TRUE, None
        return None, f"{value!r} is not true/false (ja/nee, 1/0)"
    if name == "priority":
        if re.fullmatch(r"[+-]?\d+", value) and 0 <= int(value) <= 1000:
            return int(value), None
        return None, f"{value!r} is not a whole number from 0 to 1000"
    if name in URL_FIELDS and not valid_url(value):
        return None, f"{value!r} is not an http(s) web address"
    if name in EMAIL_FIELDS and not valid_email(value):
        return None, f"{value!r} is not a valid e-mail address"
    if name == "phone" and not valid_phone(value):
        return None, f"{value!r} is not a Dutch phone number"
    return value, None


def _one_of(allowed: Sequence[str]):
    return lambda v: None if v in allowed else f"{v!r} is not one of {', '.join(allowed)}"


def validate(session: Session, partner_rows: List[Row], service_rows: List[Row]
             ) -> Tuple[List[Dict], List[Dict], List[Problem]]:
    """Check every row against the rules and the database; returns the column values of the
    valid partners and services (only the fields present in the file) and every problem."""
    problems: List[Problem] = []
    regions = set(session.execute(select(Arbeidsmarktregio.code)).scalars())
    gemeente_region: Dict[str, str] = {
        code: region for code, region in session.execute(select(Gemeente.code, Gemeente.region_code))}
    codes = {
        "region_code": lambda v: None if v in regions else f"{v!r} is not a known arbeidsmarktregio code",
        "gemeente_code": lambda v: None if v in gemeente_region else f"{v!r} is not a known gemeente code",
    }

    def codes_agree(c: _Checker) -> None:
        g, r = c.get("gemeente_code"), c.get("region_code")
        if g and r and gemeente_region[g] != r:
            c.fail(f"gemeente_code {g!r} lies in region {gemeente_region[g]}, not {r}")

    partners: List[Dict] = []
    first_seen: Dict[str, Row] = {}
    partner_checks = {"type": _one_of(PARTNER_TYPES), **codes,
                      "sector": lambda v: None if _SECTOR_KEY.match(v) else
                      f"{v!r} is not a sector key (lower-case letters, digits and _, such as zorg_vvt)"}
    for row in partner_rows:
        c = _Checker(Partner, row, problems)
        for name in PARTNER_FIELDS:
            c.field(name, name in PARTNER_REQUIRED, partner_checks.get(name))
        codes_agree(c)
        pid = c.get("id")
        if pid is not None:
            if pid in first_seen:
                c.fail(f"duplicate partner id {pid!r} (first at {first_seen[pid].where()})")
            else:
                first_seen[pid] = row
        if not c.failed:
            partners.append(c.values)

    # A partner row with problems still counts as "in the import", so its services are not
    # also reported as having an unknown partner.
    known = set(session.execute(select(Partner.id)).scalars()) | set(first_seen)
    service_checks = {
        "partner_id": lambda v: None if v in known else f"{v!r} is not in this import nor in the database",
        "topic": _one_of(TOPICS), "scope": _one_of(SCOPES), "audience": _one_of(AUDIENCES), **codes}
    services: List[Dict] = []
    seen: Dict[Tuple, Row] = {}
    for row in service_rows:
        c = _Checker(Service, row, problems)
        for name in SERVICE_FIELDS:
            c.field(name, name in SERVICE_REQUIRED, service_checks.get(name))
        # Services are replaced whole, so an absent field means the column's default.
        for name in SERVICE_FIELDS:
            if name not in row.values:
                c.values[name] = _column_default(c.columns[name])
        scope, region, gemeente = c.get("scope"), c.get("region_code"), c.get("gemeente_code")
        if scope == "national" and (region or gemeente):
            c.fail("scope national: leave region_code and gemeente_code empty")
        elif scope == "region" and (not region or gemeente):
            c.fail("scope region: give region_code and leave gemeente_code empty")
        elif scope == "gemeente" and not gemeente:
            c.fail("scope gemeente: give gemeente_code")
        codes_agree(c)
        topic, audience = c.get("topic"), c.get("audience")
        if topic in EMPLOYER_TOPICS and audience and audience != "werkgever":
            c.fail(f"topic {topic} is for employers: audience must be werkgever")
        elif topic and topic not in EMPLOYER_TOPICS and audience == "werkgever":
            c.fail(f"topic {topic} is for residents: audience cannot be werkgever")
        start, end = c.get("valid_from"), c.get("valid_until")
        if start and end and start > end:
            c.fail(f"valid_from {start} is after valid_until {end}")
        if c.failed:
            continue
        key = tuple(c.values.get(k) for k in SERVICE_IDENTITY)
        if key in seen:
            c.fail(f"the same service as {seen[key].where()} "
                   f"(same {', '.join(SERVICE_IDENTITY)})")
            continue
        seen[key] = row
        services.append(c.values)
    return partners, services, sorted(problems, key=_problem_order)


# ----------------------------------------------------------------------------------------- apply

def apply_import(session: Session, partners: List[Dict], services: List[Dict]) -> Summary:
    """Write validated rows in the caller's transaction: upsert partners by id, then replace the
    services of every partner that has services in the import."""
    summary = Summary()
    # The whole partner table is small (hundreds of rows); one query, no IN-list limits.
    current = {p.id: p for p in session.execute(select(Partner)).scalars()}
    for values in partners:
        partner = current.get(values["id"])
        if partner is None:
            session.add(Partner(**values))  # absent fields get the columns' defaults
            summary.partners_added += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(partner, k) != v}
        for k, v in changed.items():
            setattr(partner, k, v)
        resourced = [k for k in SOURCED_FIELDS if k in changed]
        if resourced:  # the administrator's value: its old source (and any doubt) no longer applies
            session.execute(delete(PartnerFieldSource).where(PartnerFieldSource.partner_id == partner.id,
                                                             PartnerFieldSource.field.in_(resourced)))
        if changed:
            summary.partners_updated += 1
        else:
            summary.partners_unchanged += 1
    session.flush()  # new partners exist before their services refer to them

    replaced = sorted({s["partner_id"] for s in services})
    if replaced:
        # A DELETE gives a CursorResult (with rowcount); Session.execute is typed as returning Result.
        result = cast("CursorResult[Any]", session.execute(
            delete(Service).where(Service.partner_id.in_(replaced)).execution_options(synchronize_session=False)))
        summary.services_removed = result.rowcount
        session.add_all(Service(**values) for values in services)
        session.flush()
    summary.services_added = len(services)
    summary.service_partners = len(replaced)
    return summary


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def import_files(paths: Iterable[Union[str, Path]], engine: Optional[Engine] = None,
                 dry_run: bool = False) -> ImportResult:
    """Read, validate and (unless there are problems or it is a dry run) apply, in one
    transaction. A dry run really writes and then rolls back, so its summary is exact and it
    also meets the database's own constraints. Database errors propagate after the rollback."""
    partner_rows, service_rows, problems = read_import(paths)
    result = ImportResult(problems=problems, dry_run=dry_run)
    try:
        with session_scope(engine) as session:
            partners, services, more = validate(session, partner_rows, service_rows)
            result.problems = sorted(problems + more, key=_problem_order)
            if result.problems:
                return result  # nothing was written; the empty transaction is committed
            result.summary = apply_import(session, partners, services)
            if dry_run:
                raise _DryRun
    except _DryRun:
        return result
    forget_cached_indexes()  # the bot's cached place index must see the new table
    return result


def export_to(fmt: str, out: Union[str, Path, None],
              engine: Optional[Engine] = None) -> Optional[List[Path]]:
    """Export in one read transaction; CSV returns the files written."""
    with session_scope(engine) as session:
        partners, services = export_rows(session)
    if fmt == "csv":
        if not out or out == "-":
            raise ValueError("CSV export needs --out DIRECTORY")
        return write_csv(partners, services, out)
    write_yaml(partners, services, out)
    return None
