"""Shared fixtures. Services (PostgreSQL, Redis, the action server) are used for real."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MODEL = ROOT / "models" / "gids.tar.gz"
IN_CI = os.environ.get("CI", "").lower() == "true"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def require_service(name: str, port: int) -> None:
    """A test that needs a local service says so when it is missing; in CI that is a failure."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return
    except OSError as exc:
        message = f"{name} is not reachable on 127.0.0.1:{port} ({exc})"
        if IN_CI:
            pytest.fail(message + " — CI needs it")
        pytest.skip(message)


def require_tool(name: str) -> str:
    import shutil

    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (.ci/run installs it)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def training_texts() -> set:
    """Every NLU training example, lower-cased: tests of unseen messages check against it."""
    from rasa.shared.nlu.training_data.loading import load_data

    return {m.get("text").lower() for m in load_data(str(ROOT / "data" / "nlu")).intent_examples}


def migrate_and_seed(url: str) -> None:
    """A database at the current schema with the routing seed, as setup.sh makes it."""
    from bot.db import make_engine, migrate, session_scope
    from bot.routing.seed import seed

    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        seed(session)
    engine.dispose()  # PostgreSQL copies a template database only while nobody is connected


# --- databases: SQLite and PostgreSQL ---------------------------------------------------------
@contextmanager
def gids_database(url: str, monkeypatch):
    """Points bot.db's default engine (DATABASE_URL, as the action server reads it) at ``url``,
    with the engine and routing caches empty before and after."""
    from bot.db import engine_for
    from bot.routing.places import forget_cached_indexes

    monkeypatch.setenv("DATABASE_URL", url)
    engine_for.cache_clear()
    forget_cached_indexes()
    try:
        yield url
    finally:
        engine_for.cache_clear()
        forget_cached_indexes()


PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def new_database(kind: str, tmp_path_factory) -> tuple:
    if kind == "sqlite":
        path = tmp_path_factory.mktemp("db") / "gids.db"
        return f"sqlite:///{path}", None
    require_service("PostgreSQL", 5432)
    name = f"gids_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return f"postgresql://postgres@127.0.0.1:5432/{name}", (admin, name)


def drop_database(cleanup) -> None:
    if cleanup is None:
        return
    admin, name = cleanup
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory):
    """A migrated, seeded database URL, one per backend for the whole session."""
    url, cleanup = new_database(request.param, tmp_path_factory)
    migrate_and_seed(url)
    yield url
    drop_database(cleanup)


@pytest.fixture(scope="session")
def seeded_sqlite_file(tmp_path_factory) -> Path:
    """One migrated, seeded SQLite file per session; tests that change data work on copies."""
    path = tmp_path_factory.mktemp("seed") / "seed.db"
    migrate_and_seed(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def seeded_postgres_template():
    """A migrated, seeded PostgreSQL database that per-test databases are copied from."""
    require_service("PostgreSQL", 5432)
    name = f"gids_tmpl_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    migrate_and_seed(f"postgresql://postgres@127.0.0.1:5432/{name}")
    yield admin, name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def fresh_seeded_db(request, tmp_path):
    """fresh_seeded_db("sqlite" | "postgresql") -> the URL of a seeded database of this test's own,
    dropped afterwards. Copying is much faster than migrating and seeding again."""
    import sqlite3

    made = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            target = tmp_path / f"gids-{len(made)}.db"
            # The backup API copies a consistent database, whatever state its WAL file is in.
            with sqlite3.connect(str(request.getfixturevalue("seeded_sqlite_file"))) as src, \
                    sqlite3.connect(str(target)) as dst:
                src.backup(dst)
            made.append(None)
            return f"sqlite:///{target}"
        admin, template = request.getfixturevalue("seeded_postgres_template")
        name = f"gids_test_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        made.append((admin, name))
        return f"postgresql://postgres@127.0.0.1:5432/{name}"

    yield make
    for cleanup in made:
        if cleanup is not None:
            admin, name = cleanup
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(db_url):
    from bot.db import make_engine
    from bot.routing.places import forget_cached_indexes

    forget_cached_indexes()
    eng = make_engine(db_url)
    yield eng
    eng.dispose()
    forget_cached_indexes()


@pytest.fixture
def empty_db_url(request, tmp_path_factory):
    """A fresh, migrated but empty database (SQLite) for tests that change data."""
    from bot.db import migrate

    url, cleanup = new_database("sqlite", tmp_path_factory)
    migrate.upgrade(url)
    yield url
    drop_database(cleanup)


@pytest.fixture(scope="session")
def nlp():
    import spacy

    try:
        return spacy.load("nl_gids")
    except OSError:
        pytest.fail("the nl_gids spaCy package is not installed: run ./setup.sh")


@pytest.fixture(scope="session")
def model_path() -> Path:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run ./setup.sh (it trains the model)")
    return MODEL


@pytest.fixture(scope="session")
def actions_db_url(tmp_path_factory) -> str:
    """The action server's own seeded SQLite database (tests read the handovers it writes)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('actions-db') / 'gids.db'}"
    migrate_and_seed(url)
    return url


@pytest.fixture(scope="session")
def action_server(actions_db_url):
    """A real action server (rasa_sdk) on a free port with its own seeded SQLite database."""
    db_url = actions_db_url
    port = free_port()
    log = open(ROOT / "var" / "test-actions.log", "w") if (ROOT / "var").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen([str(VENV_BIN / "rasa"), "run", "actions", "--port", str(port),
                             "--actions", "actions"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "DATABASE_URL": db_url})
    try:
        wait_for_port(port, 120, proc)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def agent(model_path, action_server):
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    return Agent.load(str(model_path), action_endpoint=EndpointConfig(url=action_server))
