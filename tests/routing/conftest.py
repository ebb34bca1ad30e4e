"""Databases for the routing tests: every test that takes ``engine`` runs on SQLite and on
PostgreSQL (127.0.0.1:5432, user postgres). The seeded databases are made once per session."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from bot.db import make_engine, migrate, session_scope
from bot.routing.places import forget_cached_indexes
from bot.routing.seed import seed
from tests.conftest import migrate_and_seed, require_service

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _new_database(kind: str, tmp_path_factory) -> tuple:
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("db") / "gids.db"
        return f"sqlite:///{path}", None
    require_service("PostgreSQL", 5432)
    name = f"gids_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return f"postgresql://postgres@127.0.0.1:5432/{name}", (admin, name)


def _drop(cleanup) -> None:
    if cleanup is None:
        return
    admin, name = cleanup
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory):
    """A migrated, seeded database URL, one per backend for the whole session."""
    url, cleanup = _new_database(request.param, tmp_path_factory)
    migrate_and_seed(url)
    yield url
    _drop(cleanup)


@pytest.fixture
def engine(db_url):
    forget_cached_indexes()
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
    forget_cached_indexes()


@pytest.fixture
def empty_db_url(request, tmp_path_factory):
    """A fresh, migrated but empty database (SQLite) for tests that change data."""
    url, cleanup = _new_database("sqlite", tmp_path_factory)
    migrate.upgrade(url)
    yield url
    _drop(cleanup)
