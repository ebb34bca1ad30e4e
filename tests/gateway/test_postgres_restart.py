"""PostgreSQL restarts under a running gids: the tracker store of the core and the gids database of
the action server are on a PostgreSQL cluster of the test's own (initdb on a free port, as the
machine's user postgres), which the test stops and starts again in the middle of a conversation and
in the middle of a handover. Each restart costs at most one retried turn; the conversation goes on
where it was, and the handover is stored exactly once."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from bot import messages
from bot.db.models import Handover
from tests.conftest import (ACTION_TOKEN, CORE_BIN, CORE_TOKEN, ROOT, SVC_BIN, IN_CI, free_port, migrate_and_seed,
                            running, wait_for_port)
from tests.gateway.test_gateway import DEBT_QUESTION, rest, texts

pytestmark = pytest.mark.model


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found or shutil.which("runuser") is None or os.geteuid() != 0:
        message = f"{name} (PostgreSQL server binaries) and root to run them as postgres are needed"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found[-1]


class Cluster:
    """A PostgreSQL cluster of this test in a temporary folder, trust authentication, 127.0.0.1."""

    def __init__(self, folder) -> None:
        self.folder, self.port = folder, free_port()
        self.data = folder / "data"
        self.pg_ctl = _pg_bin("pg_ctl")
        # The user postgres must reach it: pytest's own tmp folders are private to root (0700).
        shutil.chown(folder, "postgres")
        self._as_postgres([_pg_bin("initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres",
                           "--encoding=UTF8", "--locale=C"])

    def _as_postgres(self, argv) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--"] + argv, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as_postgres([self.pg_ctl, "-D", str(self.data), "-w", "-l", str(self.folder / "pg.log"), "-o",
                           f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
        wait_for_port(self.port, 60)

    def stop(self) -> None:
        self._as_postgres([self.pg_ctl, "-D", str(self.data), "-w", "-m", "fast", "stop"])

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create(self, database: str) -> str:
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        return self.url(database)


@pytest.fixture(scope="module")
def stack(model_path, tmp_path_factory):
    import yaml

    folder = Path(tempfile.mkdtemp(prefix="gids-own-postgres-"))
    cluster = Cluster(folder)
    cluster.start()
    try:
        gids_url = cluster.create("gids")
        migrate_and_seed(gids_url)
        cluster.create("tracker")
        with ExitStack() as stack:
            actions_port = free_port()
            stack.enter_context(running([SVC_BIN / "gids", "actions", "--port", actions_port], actions_port,
                                        {"DATABASE_URL": gids_url, "GIDS_ACTION_TOKEN": ACTION_TOKEN},
                                        "test-pgrestart-actions.log"))
            (folder / "endpoints.yml").write_text(yaml.safe_dump({
                "action_endpoint": {"url": f"http://127.0.0.1:{actions_port}/webhook",
                                    "headers": {"Authorization": f"Bearer {ACTION_TOKEN}"}},
                "tracker_store": {"type": "bot.privacy.tracker_store.RedactingSQLTrackerStore",
                                  "dialect": "postgresql", "url": "127.0.0.1", "port": cluster.port,
                                  "db": "tracker", "username": "postgres"}}))
            core_port = free_port()
            stack.enter_context(running(
                [CORE_BIN / "rasa", "run", "--model", model_path, "--endpoints", folder / "endpoints.yml",
                 "--credentials", ROOT / "credentials.yml", "--interface", "127.0.0.1", "--port", core_port],
                core_port, {"GIDS_CORE_TOKEN": CORE_TOKEN, "TF_CPP_MIN_LOG_LEVEL": "3"}, "test-pgrestart-core.log",
                timeout=400))
            gateway_port = free_port()
            stack.enter_context(running(
                [SVC_BIN / "gids", "gateway", "--port", gateway_port], gateway_port,
                {"GIDS_CORE_URL": f"http://127.0.0.1:{core_port}", "GIDS_CORE_TOKEN": CORE_TOKEN,
                 "GIDS_GATEWAY_SECRET": "pg-restart-secret", "DATABASE_URL": gids_url},
                "test-pgrestart-gateway.log"))
            yield {"gateway": f"http://127.0.0.1:{gateway_port}", "cluster": cluster, "gids_url": gids_url}
    finally:
        try:
            cluster.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(folder, ignore_errors=True)


def say(stack, text_, token, *, restarted: bool):
    """One turn; right after a restart the first try may fail once (a pooled connection that the
    restart broke): then the person sends it again. Returns (answers, whether it was retried)."""
    status, _, answers = rest(stack["gateway"], text_, token)
    if status == 200:
        return answers, False
    assert restarted, (status, answers)
    assert status == 503 and texts(answers) == [messages.GIDS_DOWN]
    status, _, answers = rest(stack["gateway"], text_, token)
    assert status == 200, (status, answers)
    return answers, True


def restart(cluster: Cluster) -> None:
    cluster.stop()
    time.sleep(1)
    cluster.start()


def handovers(url: str) -> int:
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Handover.__table__)).scalar_one()
    finally:
        engine.dispose()


def test_restarts_of_postgresql_cost_at_most_one_retried_turn_and_never_a_handover(stack):
    status, headers, answers = rest(stack["gateway"], DEBT_QUESTION)
    assert status == 200 and messages.ASK_PLACE in texts(answers)
    token = headers["X-Gids-Conversation"]

    restart(stack["cluster"])  # between two turns of the conversation
    answers, _ = say(stack, "Zwolle", token, restarted=True)
    assert messages.PLACE_FOUND.format(gemeente="Zwolle", region="Zwolle") in texts(answers)

    for line in ("ja", "Sanne de Boer", "Bel me"):
        answers, _ = say(stack, line, token, restarted=False)
    assert messages.ASK_PHONE in texts(answers)
    before = handovers(stack["gids_url"])
    restart(stack["cluster"])  # right before the turn that stores the handover
    answers, _ = say(stack, "06 12345678", token, restarted=True)
    if messages.HANDOVER_DB_DOWN in texts(answers):  # the gids asks to try again: the person does
        answers, _ = say(stack, "/retry_handover", token, restarted=False)
    assert any(t and t.startswith("Gelukt!") for t in texts(answers)), texts(answers)
    assert handovers(stack["gids_url"]) == before + 1
