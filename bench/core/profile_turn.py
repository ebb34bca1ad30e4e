"""Where the time of one turn goes inside the core (issue 15, part 1).

    nice .venv/bin/python bench/core/profile_turn.py [--conversations 30] [--store sqlite|postgresql]

Loads models/gids.tar.gz in this process with the redacting SQL tracker store and the real action
server (started here on a free port, its own seeded SQLite database), then runs five-turn
conversations (hoi, ik heb schulden, Zwolle, nee, doei) one turn at a time and times the parts of
every turn by wrapping Rasa's own steps: NLU (parse), the policies (predict), the custom actions
(the HTTP round trip to the action server and the action's work there), the tracker store (load
and save), the rest (Rasa's own bookkeeping, built-in actions, the lock). Also the size of the
tracker the core sends to the action server with each call. Writes bench/core/PROFILE.md and
profile.json. The first two conversations warm up and are not counted."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from bench.gateway.overhead import LINES, pct  # noqa: E402
ACTION_TOKEN = "bench-action-token"
PARTS = ("parse", "predict", "actions", "store_load", "store_save")


class Clock:
    """Time spent per part within the current turn (nested parts are not double counted:
    the action server round trip does not contain predictions)."""

    def __init__(self) -> None:
        self.turn: dict = defaultdict(float)
        self.calls: dict = defaultdict(int)
        self.payload_bytes: list = []

    def wrap_async(self, owner, name: str, part: str) -> None:
        original = getattr(owner, name)
        clock = self

        async def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                clock.turn[part] += time.perf_counter() - start
                clock.calls[part] += 1

        setattr(owner, name, timed)

    def wrap_sync(self, owner, name: str, part: str) -> None:
        original = getattr(owner, name)
        clock = self

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                clock.turn[part] += time.perf_counter() - start
                clock.calls[part] += 1

        setattr(owner, name, timed)


@contextmanager
def action_server(db_url: str):
    from tests.conftest import SVC_BIN, free_port, wait_for_port

    port = free_port()
    log = open(ROOT / "var" / "bench-profile-actions.log", "w")
    proc = subprocess.Popen([str(SVC_BIN / "gids"), "actions", "--port", str(port)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT,
                            env={**os.environ, "DATABASE_URL": db_url, "GIDS_ACTION_TOKEN": ACTION_TOKEN})
    try:
        wait_for_port(port, 120, proc)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


async def run(args, work: Path) -> dict:
    from rasa.core.actions.action import RemoteAction
    from rasa.core.agent import Agent
    from rasa.core.processor import MessageProcessor
    from rasa.utils.endpoints import EndpointConfig

    from bot.privacy.tracker_store import RedactingSQLTrackerStore
    from tests.conftest import migrate_and_seed

    db_url = f"sqlite:///{work / 'gids.db'}"
    migrate_and_seed(db_url)
    if args.store == "postgresql":
        from tests.conftest import PG_ADMIN_URL
        from sqlalchemy import create_engine, text

        name = f"gids_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        store = RedactingSQLTrackerStore(dialect="postgresql", host="127.0.0.1", port=5432, db=name,
                                         username="postgres")
    else:
        store = RedactingSQLTrackerStore(dialect="sqlite", db=str(work / "tracker.db"))

    if not args.rasa_defaults:  # what the core runs with (bot.core.channel installs the same)
        from bot.core import action_calls, nlu_thread

        nlu_thread.install()
        action_calls.install()
    clock = Clock()
    clock.wrap_async(MessageProcessor, "parse_message", "parse")
    clock.wrap_sync(MessageProcessor, "_predict_next_with_tracker", "predict")
    clock.wrap_async(RemoteAction, "run", "actions")
    clock.wrap_async(store, "retrieve", "store_load")
    clock.wrap_async(store, "save", "store_save")
    original_format = RemoteAction._action_call_format

    def measured_format(self, tracker, domain):
        body = original_format(self, tracker, domain)
        clock.payload_bytes.append(len(json.dumps(body)))
        return body

    RemoteAction._action_call_format = measured_format

    with action_server(db_url) as url:
        endpoint = EndpointConfig(url=url, headers={"Authorization": f"Bearer {ACTION_TOKEN}"})
        started = time.perf_counter()
        agent = Agent.load(str(ROOT / "models" / "gids.tar.gz"), action_endpoint=endpoint, tracker_store=store)
        load_seconds = time.perf_counter() - started
        turns = []
        for c in range(args.conversations + 2):
            sender = f"bench-{uuid.uuid4().hex[:12]}"
            for i, line in enumerate(LINES):
                clock.turn.clear()
                start = time.perf_counter()
                await agent.handle_text(line, sender_id=sender)
                total = time.perf_counter() - start
                if c >= 2:
                    turns.append({"turn": i, "total": total, **{p: clock.turn[p] for p in PARTS}})
    if args.store == "postgresql":
        store.engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return {"turns": turns, "load_seconds": load_seconds, "calls": dict(clock.calls),
            "payload_bytes": clock.payload_bytes}


def report(args, result: dict) -> str:
    turns = result["turns"]
    n = len(turns)
    rows = []
    for part in PARTS + ("other", "total"):
        values = [(t["total"] - sum(t[p] for p in PARTS)) if part == "other" else t[part] for t in turns]
        ms = [v * 1000 for v in values]
        rows.append((part, statistics.mean(ms), pct(ms, 0.5), pct(ms, 0.95)))
    total_mean = rows[-1][1]
    lines = ["# Where a turn's time goes in the core", "",
             f"`nice .venv/bin/python bench/core/profile_turn.py --conversations {args.conversations} "
             f"--store {args.store}{' --rasa-defaults' if args.rasa_defaults else ''}` on this machine ({os.cpu_count()} cores, load average "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end), {time.strftime('%Y-%m-%d')}. "
             f"{n} turns of five-turn conversations ({', '.join(LINES)}), one at a time, in process "
             "(no HTTP in front of the core); the action server is a separate process on 127.0.0.1.", "",
             "| part | mean ms | share of the turn | p50 ms | p95 ms |", "|---|---|---|---|---|"]
    names = {"parse": "NLU (parse_message)", "predict": "policies (every prediction in the turn)",
             "actions": "custom actions (HTTP round trip + the action's work)",
             "store_load": "tracker store: load", "store_save": "tracker store: save",
             "other": "the rest (Rasa's bookkeeping, built-in actions, lock)", "total": "**turn**"}
    for part, mean, p50, p95 in rows:
        lines.append(f"| {names[part]} | {mean:.1f} | {100 * mean / total_mean:.0f} % | {p50:.1f} | {p95:.1f} |")
    calls = result["calls"]
    payload = result["payload_bytes"]
    lines += ["", f"Per turn on average: {calls.get('predict', 0) / max(1, n + 10):.1f} predictions, "
              f"{calls.get('actions', 0) / max(1, n + 10):.1f} calls to the action server, "
              f"{calls.get('store_load', 0) / max(1, n + 10):.1f} tracker loads, "
              f"{calls.get('store_save', 0) / max(1, n + 10):.1f} saves (warm-up turns included in these counts).",
              f"Tracker sent to the action server: median {statistics.median(payload) / 1024:.1f} KiB, "
              f"largest {max(payload) / 1024:.1f} KiB per call." if payload else "",
              f"Model load: {result['load_seconds']:.1f} s.", "",
              "Per turn of the conversation (mean ms):", "",
              "| turn | " + " | ".join(PARTS) + " | total |", "|---|" + "---|" * (len(PARTS) + 1)]
    for i, line in enumerate(LINES):
        part_turns = [t for t in turns if t["turn"] == i]
        lines.append(f"| {line} | " + " | ".join(f"{1000 * statistics.mean(t[p] for t in part_turns):.1f}"
                                                for p in PARTS)
                     + f" | {1000 * statistics.mean(t['total'] for t in part_turns):.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", type=int, default=30)
    ap.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--rasa-defaults", action="store_true",
                    help="without the core's changes to Rasa (bot/core/nlu_thread.py, action_calls.py)")
    args = ap.parse_args()
    (ROOT / "var").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    text = report(args, result)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = ("" if args.store == "sqlite" else f"-{args.store}") + ("-rasa-defaults" if args.rasa_defaults else "")
    (args.out / f"PROFILE{suffix}.md").write_text(text, encoding="utf-8")
    (args.out / f"profile{suffix}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
