"""Databases for the privacy tests: each test that takes ``backend`` runs on SQLite and on
PostgreSQL (127.0.0.1:5432, user postgres). A seeded gids database is made once per backend;
each test starts with its personal-data tables and the tracker database empty."""
from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import create_engine, delete, inspect, text

from bot.db import make_engine
from tests.conftest import migrate_and_seed, require_service

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

TRACKER_DOMAIN = """
version: "3.1"
intents: [greet, inform_location, inform, affirm]
slots:
  place: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  contact_name: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  contact_method: {type: text, influence_conversation: false, mappings: [{type: custom}]}
  contact_value: {type: text, influence_conversation: false, mappings: [{type: custom}]}
responses:
  utter_greet: [{text: "Hoi!"}]
"""


class PgDatabases:
    """Creates PostgreSQL databases for one test session and drops them at its end."""

    def __init__(self) -> None:
        self.admin = None
        self.names = []

    def new(self) -> str:
        require_service("PostgreSQL", 5432)
        if self.admin is None:
            self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
        name = f"gids_privacy_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.names.append(name)
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    def drop_all(self) -> None:
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for name in self.names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_databases():
    dbs = PgDatabases()
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


def new_database_url(backend: str, pg_databases: PgDatabases, tmp_path_factory, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp(name) / (name + '.db')}"
    return pg_databases.new()


@pytest.fixture(scope="session")
def seeded_url(backend, pg_databases, tmp_path_factory) -> str:
    url = new_database_url(backend, pg_databases, tmp_path_factory, "gids")
    migrate_and_seed(url)
    return url


@pytest.fixture
def engine(seeded_url):
    """The seeded gids database, with no handovers, audit entries or channel rows left by an
    earlier test (purge deletes whatever is old, so tests must not see each other's rows)."""
    from bot.db.models import (AuditLog, ChannelContact, ChannelMessageSeen, Handover, HandoverNote, LiveChat,
                               LiveMessage, OutboxMessage, QuestionSignal, TranscriptLine)

    eng = make_engine(seeded_url)
    with eng.begin() as conn:
        for model in (AuditLog, TranscriptLine, HandoverNote, OutboxMessage, LiveMessage, LiveChat, Handover,
                      ChannelMessageSeen, ChannelContact, QuestionSignal):
            conn.execute(delete(model))
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def tracker_database(backend, pg_databases, tmp_path_factory) -> str:
    return new_database_url(backend, pg_databases, tmp_path_factory, "tracker")


@pytest.fixture
def tracker_url(tracker_database) -> str:
    """The tracker database, empty (Rasa makes its ``events`` table when a store is created)."""
    engine = create_engine(tracker_database, future=True)
    try:
        with engine.begin() as conn:
            if inspect(conn).has_table("events"):
                conn.execute(text("DELETE FROM events"))
    finally:
        engine.dispose()
    return tracker_database


@pytest.fixture
def tracker_domain():
    from rasa.shared.core.domain import Domain

    return Domain.from_yaml(TRACKER_DOMAIN)


@pytest.fixture(autouse=True)
def logging_left_as_found():
    """Creating RedactingSQLTrackerStore installs the redacting log record factory for the whole
    process; other test packages must get logging back as it was."""
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)
