"""Shared fixtures. Services (PostgreSQL, Redis, the action server, the core) are used for real.

Two runtimes run the tests (test.sh runs both): the core's (.venv, Python 3.10, Rasa 3.6) runs the
files in CORE_TESTS, the maintained one (.venv-svc, Python 3.12+) runs all others. Each runtime
starts the other's servers as processes when a test needs them."""
from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
CORE_BIN = ROOT / ".venv" / "bin"        # Rasa 3.6, Python 3.10
SVC_BIN = ROOT / ".venv-svc" / "bin"     # gateway, action server, console, worker
TESTS = Path(__file__).resolve().parent
# Test files that need Rasa itself (the NLU pipeline, the trained model in process, Rasa's tracker
# store classes). Everything else runs on the maintained runtime.
CORE_TESTS = {
    "test_assistant.py", "test_b1.py", "test_classifier.py", "test_embeddings.py", "test_rasa_cli.py",
    "test_safety.py", "test_spacy_pipeline.py", "test_training_data.py", "test_handover_e2e.py",
    "test_e2e_handover_to_console.py", "privacy/test_logging.py", "privacy/test_retention.py",
    "privacy/test_tracker_store.py", "privacy/test_contact_prompt_leak.py", "test_lock_store.py",
    "test_nlu_thread.py", "test_action_calls.py",
}
try:
    import rasa  # noqa: F401
    RUNTIME = "core"
except ImportError:
    RUNTIME = "svc"


def pytest_ignore_collect(collection_path, config):
    path = Path(collection_path)
    try:
        name = path.resolve().relative_to(TESTS).as_posix()
    except ValueError:
        return None
    if path.is_dir():
        # The core runtime skips whole folders without core tests (their conftest may need the
        # maintained runtime's libraries).
        return RUNTIME == "core" and not any(t.startswith(name + "/") for t in CORE_TESTS) or None
    if path.suffix != ".py" or not path.name.startswith("test_"):
        return None
    return (name in CORE_TESTS) != (RUNTIME == "core")
# GIDS_TEST_MODEL: run the tests against another trained model (an experiment), not models/.
MODEL = Path(os.environ.get("GIDS_TEST_MODEL") or ROOT / "models" / "gids.tar.gz")
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


ACTION_TOKEN = "test-action-token"


@contextmanager
def running(argv, port: int, env: dict, log_name: str, timeout: float = 120, wait: bool = True):
    """A server process of ours on 127.0.0.1:``port``, stopped afterwards; its log in var/.
    ``wait=False`` returns at once (start several, then wait_for_port on each)."""
    (ROOT / "var").mkdir(exist_ok=True)
    with open(ROOT / "var" / log_name, "w") as log:
        proc = subprocess.Popen([str(a) for a in argv], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **env})
        try:
            if wait:
                wait_for_port(port, timeout, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def action_server(actions_db_url):
    """A real action server (rasa-sdk 3.21 on the maintained runtime, ``gids actions``) on a free
    port with its own seeded SQLite database; it needs ACTION_TOKEN."""
    port = free_port()
    with running([SVC_BIN / "gids", "actions", "--port", port], port,
                 {"DATABASE_URL": actions_db_url, "GIDS_ACTION_TOKEN": ACTION_TOKEN}, "test-actions.log"):
        yield f"http://127.0.0.1:{port}/webhook"


def action_endpoint(url: str):
    from rasa.utils.endpoints import EndpointConfig

    return EndpointConfig(url=url, headers={"Authorization": f"Bearer {ACTION_TOKEN}"})


@pytest.fixture(scope="session")
def agent(model_path, action_server):
    from rasa.core.agent import Agent

    return Agent.load(str(model_path), action_endpoint=action_endpoint(action_server))


CORE_TOKEN = "test-core-token"


@pytest.fixture(scope="session")
def core(model_path, action_server, tmp_path_factory):
    """The core as start.sh runs it: ``rasa run`` on 127.0.0.1 with the gateway channel only, the
    redacting SQLite tracker store, the real action server. Yields (url, tracker database path)."""
    import yaml

    work = tmp_path_factory.mktemp("core")
    tracker_db = work / "tracker.db"
    (work / "endpoints.yml").write_text(yaml.safe_dump({
        "action_endpoint": {"url": action_server, "headers": {"Authorization": f"Bearer {ACTION_TOKEN}"}},
        "tracker_store": {"type": "bot.privacy.tracker_store.RedactingSQLTrackerStore", "dialect": "sqlite",
                          "db": str(tracker_db)}}))
    port = free_port()
    argv = [CORE_BIN / "rasa", "run", "--model", model_path, "--endpoints", work / "endpoints.yml",
            "--credentials", ROOT / "credentials.yml", "--interface", "127.0.0.1", "--port", port]
    with running(argv, port, {"GIDS_CORE_TOKEN": CORE_TOKEN, "TF_CPP_MIN_LOG_LEVEL": "3"}, "test-core.log",
                 timeout=300):
        yield f"http://127.0.0.1:{port}", tracker_db


GATEWAY_SECRET = "test-gateway-secret"


@pytest.fixture(scope="session")
def gateway(core, actions_db_url):
    """``gids gateway`` in front of the ``core`` fixture, as start.sh runs it, on the action
    server's database (the live chat's messages are there). Yields its URL."""
    core_url, _ = core
    port = free_port()
    env = {"GIDS_CORE_URL": core_url, "GIDS_CORE_TOKEN": CORE_TOKEN, "GIDS_GATEWAY_SECRET": GATEWAY_SECRET,
           "DATABASE_URL": actions_db_url}
    with running([SVC_BIN / "gids", "gateway", "--port", port], port, env, "test-gateway.log"):
        yield f"http://127.0.0.1:{port}"


def tracker_events(tracker_db: Path, sender_id: str) -> list:
    """The events the core stored for one conversation, as dicts (Rasa's SQL tracker store)."""
    import json
    import sqlite3

    with sqlite3.connect(str(tracker_db)) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,)).fetchall()
    return [json.loads(data) for (data,) in rows]
