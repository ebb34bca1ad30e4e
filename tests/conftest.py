"""Shared fixtures. Services (PostgreSQL, Redis, the action server) are used for real."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def migrate_and_seed(url: str) -> None:
    """A database at the current schema with the routing seed, as setup.sh makes it."""
    from bot.db import make_engine, migrate, session_scope
    from bot.routing.seed import seed

    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        seed(session)
    engine.dispose()  # PostgreSQL copies a template database only while nobody is connected


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
def action_server(tmp_path_factory):
    """A real action server (rasa_sdk) on a free port with its own seeded SQLite database."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('actions-db') / 'gids.db'}"
    migrate_and_seed(db_url)
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
