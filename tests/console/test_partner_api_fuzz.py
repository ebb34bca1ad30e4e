"""The partner API fuzzed from its OpenAPI document with schemathesis.

The real console app runs on a port in a thread of its own, on a seeded database (SQLite, then
PostgreSQL) with handovers of the token's partner (new, claimed, closed) and one of another
partner. Schemathesis generates requests for every documented operation (the document's examples,
its coverage cases, then MAX_EXAMPLES generated cases, valid and invalid; derandomized, so CI is
reproducible) and checks each answer: never a 5xx, a documented status code and content type, a
body that matches the documented schema, invalid input refused, and no way in without a valid token.

Half the references are ones that exist or nearly do, so that claim, close and the transcript are
exercised too, not only 404; half the list queries carry an ISO 8601 `since`, from year 1 to 9999."""
from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import strategies as st
from schemathesis.checks import (content_type_conformance, ignored_auth, negative_data_rejection,
                                 not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)
from sqlalchemy import text, update

from bot.console import api, auth
from bot.db import make_engine, session_scope
from bot.db.models import Handover
from tests.conftest import free_port

from .conftest import SECRET, add_handover

PARTNER, OTHER_PARTNER = "uwv", "sbb"
# The fixture gives its handovers these references (create_handover draws random ones).
OWN = {"new": "WC-2026-1000000001", "claimed": "WC-2026-1000000002", "closed": "WC-2026-1000000003",
       "spare": "WC-2026-1000000004"}
FOREIGN = "WC-2026-2000000001"  # the other partner's: answered as unknown
KNOWN_REFERENCES = (*OWN.values(), FOREIGN)

# Examples per operation in the fuzzing phase (the examples and coverage phases add a few each).
MAX_EXAMPLES = 30
CONFIG = schemathesis.Config.from_dict({
    "seed": 20260505,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"stateful": {"enabled": False}},
})
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection,
          ignored_auth]

schema = schemathesis.openapi.from_path(api.OPENAPI_FILE, config=CONFIG)


# `since` is documented as text (an ISO 8601 date or date-time, in words): these are such moments,
# from year 1 to 9999, with and without a zone, the first and last moments always among them.
ZONES = st.sampled_from([None, timezone.utc, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))])
EDGES = st.builds(lambda moment, zone: moment.replace(tzinfo=zone), st.sampled_from([datetime.min, datetime.max]),
                  ZONES)
MOMENTS = st.one_of(st.dates().map(date.isoformat), st.datetimes(timezones=ZONES).map(datetime.isoformat),
                    EDGES.map(datetime.isoformat))
# References that exist (own or another partner's), and ones that nearly do: a few characters more,
# control characters among them ("...\n", "...\x00").
ODD = st.text(st.one_of(st.sampled_from("\x00\n\t %/?#é"), st.characters()), min_size=1, max_size=3)
REFERENCES = st.one_of(st.sampled_from(KNOWN_REFERENCES),
                       st.tuples(st.sampled_from(KNOWN_REFERENCES), ODD).map("".join))


@schema.hook
def before_generate_path_parameters(context, strategy):
    """Half the references are generated from the document, half from REFERENCES."""
    return st.one_of(strategy, REFERENCES.map(lambda ref: {"reference": ref}))


@schema.hook
def before_generate_query(context, strategy):
    """For the list: half the queries are generated from the document, half have a `since` from
    MOMENTS (and maybe a valid status and limit)."""
    if context.operation is None or context.operation.path != "/handovers":
        return strategy
    valid = st.fixed_dictionaries({"since": MOMENTS}, optional={
        "status": st.sampled_from(["new", "claimed", "closed", "new,claimed"]), "limit": st.integers(1, 500)})
    return st.one_of(strategy, valid)


@dataclass
class RunningApi:
    base_url: str
    headers: dict


class _ServerThread(threading.Thread):
    """The console app served by aiohttp on 127.0.0.1:port, in an event loop of its own."""

    def __init__(self, engine, port: int):
        super().__init__(name="console-under-fuzz", daemon=True)
        self.engine, self.port = engine, port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from bot.console.app import make_app

        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(make_app(self.engine, secret=SECRET, secure_cookies=False))
        try:
            self.loop.run_until_complete(runner.setup())
            self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        except BaseException as exc:  # noqa: BLE001 - reported by start_and_wait
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(runner.cleanup())
            self.loop.close()

    def start_and_wait(self) -> None:
        self.start()
        assert self.ready.wait(30), "the console did not start"
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.join(10)


def _seed_handovers(engine) -> None:
    for reference in OWN.values():
        made = add_handover(engine, partner_id=PARTNER, region_code="AM01")
        with session_scope(engine) as session:
            session.execute(update(Handover).where(Handover.reference == made).values(reference=reference))
    made = add_handover(engine, partner_id=OTHER_PARTNER, region_code="AM01")
    with session_scope(engine) as session:
        session.execute(update(Handover).where(Handover.reference == made).values(reference=FOREIGN))


def _database(request, tmp_path_factory):
    """A seeded database of this module's own: (url, cleanup)."""
    if request.param == "sqlite":
        target = tmp_path_factory.mktemp("fuzz") / "gids.db"
        with sqlite3.connect(str(request.getfixturevalue("seeded_sqlite_file"))) as src, \
                sqlite3.connect(str(target)) as dst:
            src.backup(dst)
        return f"sqlite:///{target}", None
    admin, template = request.getfixturevalue("seeded_postgres_template")
    name = f"gids_fuzz_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return f"postgresql://postgres@127.0.0.1:5432/{name}", (admin, name)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def partner_api(request, tmp_path_factory):
    url, cleanup = _database(request, tmp_path_factory)
    engine = make_engine(url)
    server = _ServerThread(engine, free_port())
    try:
        _seed_handovers(engine)
        with session_scope(engine) as session:
            _, token = auth.add_token(session, PARTNER, "fuzz")
        server.start_and_wait()
        base_url = f"http://127.0.0.1:{server.port}{api.PREFIX}"
        headers = {"Authorization": f"Bearer {token}"}
        # The claimed and closed handovers get there through the API itself.
        for ref, steps in ((OWN["claimed"], ("claim",)), (OWN["closed"], ("claim", "close"))):
            for step in steps:
                resp = requests.post(f"{base_url}/handovers/{ref}/{step}", headers=headers, timeout=10)
                assert resp.status_code == 200, resp.text
        yield RunningApi(base_url, headers)
    finally:
        if server.is_alive():
            server.stop()
        engine.dispose()
        if cleanup is not None:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@schema.parametrize()
def test_partner_api_conforms_to_its_document(case, partner_api):
    case.call_and_validate(base_url=partner_api.base_url, headers=partner_api.headers, checks=CHECKS,
                           timeout=10)


@pytest.mark.parametrize("suffix", ["%00", "%0A", "%0D", "%1F", "%7F", "%5C"])
def test_control_characters_in_a_reference_are_unknown(partner_api, suffix):
    """Schemathesis leaves percent-encoded control characters out of the paths it generates
    (strict URL decoders refuse them); aiohttp passes them on, and the audit log keeps the
    reference that was tried: PostgreSQL refuses a NUL in text."""
    for method, tail in (("GET", ""), ("POST", "/claim"), ("POST", "/close")):
        url = f"{partner_api.base_url}/handovers/{OWN['new']}{suffix}{tail}"
        resp = requests.request(method, url, headers=partner_api.headers, timeout=10)
        assert resp.status_code == 404, (method, url, resp.status_code, resp.text[:200])
        assert resp.json()["error"] == "not_found"
