#!/usr/bin/env python
"""Latency of "who helps" (``bot.routing.route``) the way production runs it: the place index and
the offers table (every service with its partner) held in memory, on SQLite and on PostgreSQL;
plus what the first call after each 5-minute TTL pays (reloading the index and the offers), the
memory both take, and the cold start of a new process.

It makes its own temporary databases (migrated and seeded the way tests/routing/conftest.py
does), runs a realistic mix of what people type (gemeente names, woonplaatsen, postcodes,
typos, ambiguous names, sentences, everyday names, foreign places, rubbish) against every topic
with both caches warm, times the parts on their own (resolve_place, services_for from memory,
choose() alone, find_services on an open session, loading the offers table), then drops the
databases again and writes bench/routing/REPORT.md.

    cd /work/main && nice -n 5 .venv/bin/python bench/routing/bench.py

Options: --inputs N (default 2000; every input is asked for all 10 topics), --seed S,
--backends sqlite,postgresql, --pg-admin-url URL (default postgresql://postgres@127.0.0.1:5432/postgres),
--offers-loads N (default 20), --note TEXT (what else ran on the machine), --report PATH.
Timings use time.perf_counter (wall clock) and time.process_time (this process's CPU; the
PostgreSQL server's CPU is not in it)."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import json
import math
import os
import platform
import random
import shlex
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import sqlalchemy  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import bot.routing  # noqa: E402
from bot.db import make_engine, migrate, session_scope  # noqa: E402
from bot.routing import RESOLVED, forget_cached_services, resolve_place, route, services_for  # noqa: E402
from bot.routing import places  # noqa: E402
from bot.routing.places import forget_cached_indexes, place_index  # noqa: E402
from bot.routing.seed import seed  # noqa: E402
from bot.routing.services import TOPICS, choose, default_audiences, find_services, load_offers  # noqa: E402

DATA = ROOT / "data" / "routing"
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_P95_MS = 5.0


# ------------------------------------------------------------------------------- databases

class Database:
    def __init__(self, kind: str, pg_admin_url: str, workdir: Path):
        self.kind, self.url, self._admin, self._name = kind, "", None, None
        if kind == "sqlite":
            self.url = f"sqlite:///{workdir / 'bench.db'}"
        else:
            self._name = f"gids_bench_{uuid.uuid4().hex[:10]}"
            self._admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", future=True)
            with self._admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self._name}"'))
            self.url = pg_admin_url.rsplit("/", 1)[0] + "/" + self._name
        started = time.perf_counter()
        migrate.upgrade(self.url)
        engine = make_engine(self.url)
        with session_scope(engine) as session:
            self.counts = seed(session)
        engine.dispose()
        self.build_seconds = time.perf_counter() - started

    def server_version(self, engine) -> str:
        if self.kind == "sqlite":
            return f"SQLite {sqlite3.sqlite_version} (file on {tempfile.gettempdir()})"
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        return f"PostgreSQL {version} on {engine.url.host}:{engine.url.port or 5432}"

    def drop(self) -> None:
        if self._admin is not None:
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)'))
            self._admin.dispose()


def postgres_reachable(admin_url: str) -> Optional[str]:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            pass
        eng = create_engine(admin_url, future=True)
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        return str(exc).splitlines()[0]


# -------------------------------------------------------------------------------- workload

def _read(name: str) -> List[Dict[str, str]]:
    with open(DATA / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


LETTERS = "ABCDEFGHJKLMNPRTVWXZ"
SENTENCES = ["ik woon in {}", "Ik woon in {}.", "wij zitten in {}", "in de buurt van {}",
             "ik kom uit {}", "gemeente {}", "ons bedrijf zit in {}", "ik woon sinds kort in {}",
             "woonplaats: {}", "{} is mijn woonplaats"]
POSTCODE_SENTENCES = ["mijn postcode is {}", "postcode {}", "postcode: {}"]
AMBIGUOUS = ["Haren", "Bergen", "Hengelo", "Rijswijk", "Beek", "Laren", "Katwijk", "Hoorn",
             "Zevenhuizen", "Loo Gld", "Nes", "Alphen"]
EVERYDAY = ["Den Haag", "den haag", "Den Bosch", "'s-Gravenhage", "s-Hertogenbosch", "Mokum",
            "Scheveningen", "Nuenen", "sudwest fryslan", "Hoogezand", "Bergen NH", "Haren Groningen",
            "Hengelo Gelderland", "Amsterdam-Zuidoost", "Leidsche Rijn"]
ABROAD = ["Antwerpen", "België", "Duitsland", "Aken", "Marokko", "ik woon in Belgie", "Brussel"]
RUBBISH = ["", "   ", "xyzzy", "weet ik niet", "🙈🙈", "<script>alert(1)</script>",
           "'; DROP TABLE gemeente; --", "12", "1234 SA", "0123 AB", "1000", "asdfgh",
           "ik wil graag hulp bij mijn schulden", "x" * 10_000]
MIX = [("gemeente", 18), ("woonplaats", 20), ("postcode", 18), ("typo", 14), ("sentence", 15),
       ("ambiguous", 5), ("everyday", 4), ("abroad", 2), ("rubbish", 4)]


def typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(1, len(name) - 1)
    op = rng.choice("dtsi")
    if op == "d":
        return name[:i] + name[i + 1:]
    if op == "t":
        return name[:i] + name[i + 1] + name[i] + name[i + 2:]
    c = rng.choice("aeiourtnsl")
    return name[:i] + c + name[i + 1:] if op == "s" else name[:i] + c + name[i:]


def postcode(rng: random.Random, pc4: str) -> str:
    letters = rng.choice(LETTERS) + rng.choice(LETTERS)
    return rng.choice([pc4, f"{pc4} {letters}", f"{pc4}{letters.lower()}", f"{pc4}{letters}"])


def workload(n: int, rng: random.Random) -> List[Tuple[str, str]]:
    gemeenten = [g["gemeentenaam"] for g in _read("gemeenten.csv")]
    woonplaatsen = [w["woonplaats_basisnaam"] for w in _read("woonplaatsen.csv")]
    pc4s = sorted({p["pc4"] for p in _read("postcodes_pc4.csv")})
    long_names = [x for x in gemeenten + woonplaatsen if len(x) >= 6]
    kinds = [k for k, w in MIX for _ in range(w)]
    out = []
    for _ in range(n):
        kind = rng.choice(kinds)
        if kind == "gemeente":
            name = rng.choice(gemeenten)
            t = rng.choice([name, name, name.lower(), name.upper()])
        elif kind == "woonplaats":
            t = rng.choice(woonplaatsen)
        elif kind == "postcode":
            t = postcode(rng, rng.choice(pc4s))
        elif kind == "typo":
            t = typo(rng, rng.choice(long_names))
        elif kind == "sentence":
            if rng.random() < 0.2:
                t = rng.choice(POSTCODE_SENTENCES).format(postcode(rng, rng.choice(pc4s)))
            else:
                t = rng.choice(SENTENCES).format(rng.choice(gemeenten + woonplaatsen))
        else:
            t = rng.choice({"ambiguous": AMBIGUOUS, "everyday": EVERYDAY, "abroad": ABROAD,
                            "rubbish": RUBBISH}[kind])
        out.append((kind, t))
    return out


# ------------------------------------------------------------------------------ statistics

def pct(sorted_values: List[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    # rank ⌈p·n/100⌉ (1-based): the 95th percentile of 20 values is the 19th, not the largest
    k = max(1, min(len(sorted_values), math.ceil(p * len(sorted_values) / 100))) - 1
    return sorted_values[k]


def summary(seconds: List[float]) -> Dict[str, float]:
    v = sorted(s * 1000 for s in seconds)
    return {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95), "p99": pct(v, 99),
            "mean": sum(v) / len(v) if v else float("nan"), "max": v[-1] if v else float("nan")}


def row(label: str, s: Dict[str, float]) -> str:
    return (f"| {label} | {s['n']:,} | {s['p50']:.3f} | {s['p95']:.3f} | {s['p99']:.3f} | "
            f"{s['mean']:.3f} | {s['max']:.1f} |")


TABLE_HEAD = "| what | calls | p50 ms | p95 ms | p99 ms | mean ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|"


# ---------------------------------------------------------------------------------- timing

COLD_RUNS = 3
COLD_CODE = """
import json, sys, time
t0 = time.perf_counter()
import bot.routing
from bot.db import make_engine
t1 = time.perf_counter()
engine = make_engine(sys.argv[1])
out = bot.routing.route(sys.argv[2], sys.argv[3], engine=engine)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first_route": t2 - t1, "resolved": "services" in out,
                  "heavy": sorted(m for m in ("spacy", "thinc", "tensorflow", "rasa") if m in sys.modules)}))
"""


def time_cold_start(url: str) -> Dict:
    """What a new process pays before its first answer (a fresh `gids route`, an action server's
    first routing call): importing bot.routing, then the first route(), which loads the place
    index and the offers table. In fresh interpreters, COLD_RUNS times; also which heavy
    libraries that pulled in (none is expected: the index reads data/routing/place_words.txt
    instead of spaCy's word list)."""
    runs = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for _ in range(COLD_RUNS):
        out = subprocess.run([sys.executable, "-c", COLD_CODE, url, *FIRST_CALL], capture_output=True,
                             text=True, env=env, cwd=ROOT, timeout=600)
        if out.returncode:
            raise RuntimeError(f"cold start run failed: {out.stderr.strip().splitlines()[-1:]}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert all(r["resolved"] for r in runs), runs
    return {"import": sorted(r["import"] for r in runs), "first_route": sorted(r["first_route"] for r in runs),
            "heavy": sorted({m for r in runs for m in r["heavy"]})}


def index_memory(engine) -> Dict[str, float]:
    forget_cached_indexes()
    gc.collect()
    tracemalloc.start()
    index = place_index(engine)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sizes = {"index_mib": current / 2**20, "load_peak_mib": peak / 2**20,
             "names": len(index.names), "postcodes": len(index.postcodes),
             "gemeenten": len(index.gemeenten), "place_words": len(index.word_like)}
    del index
    gc.collect()
    return sizes


BLOCK = 200  # route() calls per backend before switching to the other one
WARMUP = 300
FIRST_CALLS = 5  # route() right after both caches expired, per backend
FIRST_CALL = ("ask_debt_help", "Zwolle")
TTL = places.INDEX_TTL_SECONDS


class FullCollections:
    """Counts the garbage collector's full (generation 2) passes and their time. One pass walks
    every tracked object of the process, so its cost grows with what the process holds; building
    the offers table allocates enough objects to trigger one now and then."""

    def __init__(self):
        self.count, self.seconds, self._started = 0, 0.0, None

    def __call__(self, phase: str, info: Dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.count += 1
            self.seconds += time.perf_counter() - self._started
            self._started = None


FULL_GC = FullCollections()


def cache_stamps(engine) -> Tuple:
    """When the place index and the offers table of this engine were loaded: a change across a
    timed call means that call paid a reload (the TTL ran out in the middle of a block)."""
    key = str(engine.url)
    return (places._cache.get(key, (None,))[0], bot.routing._offers_cache.get(key, (None,))[0])


def warm(engine):
    """Both caches loaded and younger than the TTL; returns the offers table production reads."""
    place_index(engine)
    return bot.routing._offers(engine)


def offers_rows(table) -> int:
    return sum(len(t.national) + sum(map(len, t.by_region.values())) + sum(map(len, t.by_gemeente.values()))
               for t in table.values())


def time_offers_loads(engine, n: int) -> Dict:
    """What the first services_for after the TTL pays: ``bot.routing._offers`` with an empty cache
    (Session + connection + one query + building the Offers), n times; then the same with the
    garbage collector paused, to show what its full passes add; then split into the connection
    checkout and ``load_offers`` on the open session."""
    wall, cpu, paused, checkout, query = [], [], [], [], []
    gc_before = (FULL_GC.count, FULL_GC.seconds)
    with_gc, without_gc = [], []
    for _ in range(n):
        forget_cached_services()
        collections = FULL_GC.count
        c0, t0 = time.process_time(), time.perf_counter()
        bot.routing._offers(engine)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        (with_gc if FULL_GC.count != collections else without_gc).append(wall[-1])
    full_gc = {"count": FULL_GC.count - gc_before[0], "seconds": FULL_GC.seconds - gc_before[1]}
    for _ in range(n):
        forget_cached_services()
        gc.collect()  # nothing left over for the collector (off below) to owe
        gc.disable()
        try:
            t0 = time.perf_counter()
            bot.routing._offers(engine)
            paused.append(time.perf_counter() - t0)
        finally:
            gc.enable()
    for _ in range(n):
        t0 = time.perf_counter()
        with Session(engine, future=True) as session:
            session.connection()
            t1 = time.perf_counter()
            load_offers(session)
            t2 = time.perf_counter()
        checkout.append(t1 - t0)
        query.append(t2 - t1)
    return {"wall": summary(wall), "cpu": summary(cpu), "gc_paused": summary(paused),
            "with_gc": summary(with_gc), "without_gc": summary(without_gc),
            "full_gc": full_gc, "checkout": summary(checkout), "query": summary(query)}


def offers_memory(engine) -> Dict:
    """tracemalloc of one offers table as ``_offers`` keeps it (retained and peak while loading)."""
    forget_cached_services()
    gc.collect()
    tracemalloc.start()
    table = bot.routing._offers(engine)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"mib": current / 2**20, "peak_mib": peak / 2**20, "rows": offers_rows(table),
            "topics": len(table)}


def prepare_backend(db: Database, pairs, offers_loads: int) -> Dict:
    forget_cached_indexes()
    engine = make_engine(db.url)
    result: Dict = {"engine": engine, "pool": type(engine.pool).__name__,
                    "server": db.server_version(engine), "build_seconds": db.build_seconds}
    reloads = []
    for _ in range(5):
        forget_cached_indexes()
        t = time.perf_counter()
        place_index(engine)
        reloads.append(time.perf_counter() - t)
    result["reload"] = sorted(reloads)
    place_index(engine)
    bot.routing._offers(engine)  # the first load on a new engine/connection is not a reload
    result["offers_load"] = time_offers_loads(engine, offers_loads)
    result["offers_memory"] = offers_memory(engine)
    # The unlucky call: both caches share the TTL, so they expire together and the first route()
    # after it reloads the index and the offers table before answering.
    first = []
    for _ in range(FIRST_CALLS):
        forget_cached_indexes()  # also forgets the offers
        t0 = time.perf_counter()
        out = route(*FIRST_CALL, engine=engine)
        first.append(time.perf_counter() - t0)
        assert "services" in out, out
    result["first_call"] = summary(first)
    warm(engine)
    for kind, t, topic in pairs[:WARMUP]:  # warm-up: connections, statement caches, CPU caches
        route(topic, t, engine=engine)
    result.update(wall=[], cpu=[], by_kind=defaultdict(list), by_outcome=defaultdict(list),
                  outcome=Counter(), reloaded_in_timing=0, with_full_gc=[])
    return result


def time_block(result: Dict, block) -> None:
    engine = result["engine"]
    warm(engine)  # a cache past its TTL reloads here, outside the timing
    for kind, t, topic in block:
        stamps, collections = cache_stamps(engine), FULL_GC.count
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = route(topic, t, engine=engine)
        t1 = time.perf_counter()
        c1 = time.process_time()
        if cache_stamps(engine) != stamps:
            result["reloaded_in_timing"] += 1
        if FULL_GC.count != collections:
            result["with_full_gc"].append(t1 - t0)
        result["wall"].append(t1 - t0)
        result["cpu"].append(c1 - c0)
        result["by_kind"][kind].append(t1 - t0)
        what = "resolved" if "services" in out else "ambiguous" if "ambiguous" in out else out["reason"]
        result["outcome"][what] += 1
        result["by_outcome"][what].append(t1 - t0)


def finish_backend(result: Dict, inputs: List[Tuple[str, str]]) -> None:
    """The parts of route() on their own, and find_services as the uncached reference."""
    engine = result.pop("engine")
    result["route"] = summary(result.pop("wall"))
    result["route_cpu"] = summary(result.pop("cpu"))
    result["by_kind"] = {k: summary(v) for k, v in sorted(result["by_kind"].items())}
    result["by_outcome"] = {k: summary(v) for k, v in sorted(result["by_outcome"].items())}
    result["with_full_gc"] = summary(result["with_full_gc"])

    res_t, svc_t, choose_t, checkout_t, find_t = [], [], [], [], []
    find_gc = 0  # find_services calls during which the collector made a full pass
    mismatches = 0
    today = dt.date.today()
    for i, (kind, t) in enumerate(inputs):
        warm(engine)
        t0 = time.perf_counter()
        res = resolve_place(t, engine=engine)
        res_t.append(time.perf_counter() - t0)
        if res.status != RESOLVED:
            continue
        table = warm(engine)
        for topic in TOPICS:
            audiences = default_audiences(topic)
            t0 = time.perf_counter()
            via_cache = services_for(topic, res.gemeente, engine=engine)
            svc_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            chosen = choose(table[topic], res.gemeente, audiences, today)
            choose_t.append(time.perf_counter() - t0)
            mismatches += [c.as_dict() for c in chosen] != [c.as_dict() for c in via_cache]
        topic = TOPICS[i % len(TOPICS)]
        t0 = time.perf_counter()
        with Session(engine, future=True) as session:
            session.connection()
            collections = FULL_GC.count
            t1 = time.perf_counter()
            found = find_services(session, topic, res.gemeente)
            t2 = time.perf_counter()
            find_gc += FULL_GC.count != collections
        checkout_t.append(t1 - t0)
        find_t.append(t2 - t1)
        # The uncached path must give what the cached one gives, or the comparison means nothing.
        mismatches += ([c.as_dict() for c in found]
                       != [c.as_dict() for c in services_for(topic, res.gemeente, engine=engine)])
    result["resolve"] = summary(res_t)
    result["services_for"] = summary(svc_t)
    result["choose"] = summary(choose_t)
    result["checkout"] = summary(checkout_t)
    result["find_services"] = summary(find_t)
    result["find_services_full_gc"] = find_gc
    result["mismatches"] = mismatches
    engine.dispose()


# ---------------------------------------------------------------------------------- report

def machine() -> Dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(len(os.sched_getaffinity(0)))
    import rapidfuzz
    return {"nproc": nproc, "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "sqlalchemy": sqlalchemy.__version__,
            "rapidfuzz": rapidfuzz.__version__}


def code_version() -> str:
    """Which routing code was measured: the commit, and the files that differ from it."""
    import hashlib

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=ROOT,
                                  timeout=30).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""
    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "bot/routing", "bot/db").splitlines()]
    files = ", ".join(f"`{f}` (sha256 {hashlib.sha256((ROOT / f).read_bytes()).hexdigest()[:12]})"
                      for f in changed if (ROOT / f).is_file())
    return f"git {head}" + (f"; uncommitted changes in {files}" if files else "; bot/routing as committed")


def cpu_snapshot() -> Tuple[float, List[int], os.times_result]:
    """Wall clock, the machine's CPU counters (/proc/stat) and this process's own CPU times."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, ValueError, IndexError):
        fields = []
    return time.perf_counter(), fields, os.times()


def cpu_share(a, b, nproc: int, niceness: int) -> Optional[str]:
    """Who used the CPUs between two snapshots: this bench, other processes at nice 0 (the
    PostgreSQL server is one of them), other niced processes, the kernel, idle."""
    (w0, f0, t0), (w1, f1, t1) = a, b
    if not f0 or not f1:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = ((y - x) / hz for x, y in zip(f0, f1))
    own_user = (t1.user + t1.children_user) - (t0.user + t0.children_user)
    own_sys = (t1.system + t1.children_system) - (t0.system + t0.children_system)
    # The kernel books user time of a process with nice > 0 under "nice", else under "user".
    others_nice0 = max(0.0, user - (0 if niceness > 0 else own_user))
    others_niced = max(0.0, nice - (own_user if niceness > 0 else 0))
    kernel = max(0.0, system + irq + softirq - own_sys)
    capacity = nproc * (w1 - w0)
    return (f"{capacity:,.0f} CPU-s available in {w1 - w0:,.0f} s: this bench {own_user + own_sys:,.0f}, "
            f"other processes at nice 0 (the PostgreSQL server among them) {others_nice0:,.0f}, other niced processes {others_niced:,.0f}, "
            f"kernel {kernel:,.0f}, idle {idle + iowait:,.0f}, stolen {steal:,.0f}")


def load_line(label: str, load) -> str:
    return f"{label} {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}"


def write_report(path: Path, command: str, mach: Dict, loads: Dict[str, Tuple], cold: Dict,
                 memory: Dict, results: Dict, skipped: Dict, n_inputs: int, mix: Counter,
                 total_seconds: float, note: str, shares: Dict[str, Optional[str]]) -> None:
    L: List[str] = []
    L.append("# Routing benchmark: place resolution + service lookup\n")
    L.append(f"Written by `bench/routing/bench.py` on {dt.datetime.now().isoformat(timespec='seconds')}. "
             f"Target (from the issue): **p95 of `route()` under {TARGET_P95_MS:g} ms** with warm caches.\n")
    L.append("## Result\n")
    L.append("`route(topic, place)` = `resolve_place` (the in-memory place index) + `services_for` "
             "(`choose()` in Python on the offers table: every service row with its partner, loaded "
             "by one query and kept in memory per database for `INDEX_TTL_SECONDS` = "
             f"{TTL} s). This is the production path: both caches warm, no SQL in the call.\n")
    L.append("| backend | route p50 ms | route p95 ms | route p99 ms | mean ms | CPU p50 / p95 ms | p95 < 5 ms |")
    L.append("|---|---:|---:|---:|---:|---:|---|")
    for kind, r in results.items():
        s, c = r["route"], r["route_cpu"]
        ok = "yes" if s["p95"] < TARGET_P95_MS else "**no**"
        L.append(f"| {kind} | {s['p50']:.3f} | {s['p95']:.3f} | {s['p99']:.3f} | {s['mean']:.3f} | "
                 f"{c['p50']:.3f} / {c['p95']:.3f} | {ok} |")
    for kind, why in skipped.items():
        L.append(f"| {kind} | skipped: {why} | | | | | |")
    L.append("")
    L.append(f"{n_inputs:,} inputs × {len(TOPICS)} topics = {n_inputs * len(TOPICS):,} calls per "
             f"backend, shuffled, after {WARMUP} warm-up calls; the backends take turns in blocks of "
             f"{BLOCK} calls, so both see the same load on the machine. Before each block both caches "
             "are refreshed outside the timing if their TTL ran out; timed calls that still paid a "
             "reload: " + ", ".join(f"{k} {r['reloaded_in_timing']}" for k, r in results.items())
             + "; timed calls during which the garbage collector made a full pass: "
             + ", ".join(f"{k} {r['with_full_gc']['n']}" for k, r in results.items())
             + ". Wall clock is `time.perf_counter`; CPU is `time.process_time` of this process "
             "(the PostgreSQL server's own CPU is not in it).\n")

    L.append("### The parts, and what a first call with empty caches pays\n")
    L.append("| backend | offers table load p50 / p95 ms | `choose()` p50 / p95 ms | `services_for` (memory) p50 / p95 ms "
             "| `find_services` (SQL, uncached) p50 / p95 ms | first `route()` with empty caches p50 ms | offers table memory |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for kind, r in results.items():
        o, m = r["offers_load"]["wall"], r["offers_memory"]
        L.append(f"| {kind} | {o['p50']:.1f} / {o['p95']:.1f} | {r['choose']['p50']:.3f} / {r['choose']['p95']:.3f} | "
                 f"{r['services_for']['p50']:.3f} / {r['services_for']['p95']:.3f} | "
                 f"{r['find_services']['p50']:.2f} / {r['find_services']['p95']:.2f} | "
                 f"{r['first_call']['p50']:.0f} | {m['mib']:.2f} MiB |")
    L.append("")
    n_loads = next(iter(results.values()))["offers_load"]["wall"]["n"]
    L.append("- **offers table load**: `bot.routing._offers` with its cache emptied (a Session, a "
             "connection, the one query over `service` ⋈ `partner`, building the `Offer`s), "
             f"{n_loads} times per backend, with the garbage collector on as in production. Once "
             "per TTL per process the first resolved call pays this on top of its answer.")
    L.append("- **`choose()`**: the per-call selection on that table for one topic and gemeente "
             "(default audiences), each resolved input × every topic.")
    L.append("- **`services_for` (memory)**: what `route()` calls: cache look-up + `choose()` + copying "
             "the cards so a caller cannot change the cached ones.")
    L.append("- **`find_services`**: the uncached reference on an already open session (loads that "
             "topic's offers by SQL, then `choose()`), each resolved input once; the connection "
             "checkout is not in it (see the details).")
    L.append(f"- **first `route()` with empty caches**: both caches emptied, then one resolving call "
             f"(`{FIRST_CALL[1]}`, `{FIRST_CALL[0]}`), {FIRST_CALLS} times: the place index reload "
             "plus the offers table load plus the answer. That is what the first question of a new process pays (or the first after an "
             "import in this process); after the TTL the caches reload in a background thread while "
             "the old table answers (bot/routing/cache.py), so no call waits for a reload.")
    L.append("- **memory**: tracemalloc of one offers table as `_offers` keeps it, per process and "
             "database (details below for the peak while loading).\n")

    L.append("## Cold start, reloads and memory\n")
    L.append("| what | value |\n|---|---:|")
    imp, fr = cold["import"], cold["first_route"]
    L.append(f"| `import bot.routing` in a fresh interpreter, median of {len(imp)} (min–max) | "
             f"{imp[len(imp) // 2]:.2f} s ({imp[0]:.2f}–{imp[-1]:.2f}) |")
    L.append(f"| … then its first `route()` from {cold['backend']} (index + offers table load + answer), "
             f"median of {len(fr)} (min–max) | {fr[len(fr) // 2]:.2f} s ({fr[0]:.2f}–{fr[-1]:.2f}) |")
    L.append(f"| heavy libraries those fresh processes had imported (spaCy, thinc, TensorFlow, Rasa) | "
             f"{', '.join(cold['heavy']) or 'none'} |")
    L.append(f"| first index load in this bench process (bot.routing already imported) | {cold['first_load']:.2f} s |")
    for kind, r in results.items():
        rl = r["reload"]
        L.append(f"| index reload from {kind} (cache expired, imports warm), median of 5 (min–max) | "
                 f"{rl[len(rl) // 2]:.3f} s ({rl[0]:.3f}–{rl[-1]:.3f}) |")
    for kind, r in results.items():
        o, g = r["offers_load"]["wall"], r["offers_load"]["full_gc"]
        L.append(f"| offers table load from {kind}, p50 / p95 of {o['n']} (max) | "
                 f"{o['p50']:.1f} / {o['p95']:.1f} ms ({o['max']:.1f}) |")
        L.append(f"| … full garbage collections during those {o['n']} loads | {g['count']} "
                 f"({g['seconds'] * 1000:.0f} ms in all) |")
        w, wo = r["offers_load"]["with_gc"], r["offers_load"]["without_gc"]
        if w["n"] and wo["n"]:
            L.append(f"| … loads without / with a full collection: how many, p50 | "
                     f"{wo['n']}, {wo['p50']:.1f} ms / {w['n']}, {w['p50']:.1f} ms |")
        p = r["offers_load"]["gc_paused"]
        L.append(f"| … the same loads with the garbage collector paused, p50 / p95 | "
                 f"{p['p50']:.1f} / {p['p95']:.1f} ms |")
    L.append(f"| place index memory, tracemalloc (retained after load) | {memory['index_mib']:.2f} MiB |")
    L.append(f"| peak traced memory while loading the index | {memory['load_peak_mib']:.2f} MiB |")
    L.append(f"| index contents | {memory['names']:,} names, {memory['postcodes']:,} PC4, "
             f"{memory['gemeenten']} gemeenten, {memory['place_words']} place names that are also "
             "words (data/routing/place_words.txt) |")
    L.append(f"| objects the garbage collector tracks in this process while timing route() | "
             f"{results and max(r['gc_objects'] for r in results.values()):,} |")
    for kind, r in results.items():
        m = r["offers_memory"]
        L.append(f"| offers table from {kind}, tracemalloc retained (peak while loading) | "
                 f"{m['mib']:.2f} MiB ({m['peak_mib']:.2f} MiB); {m['rows']:,} service rows, {m['topics']} topics |")
    L.append("")

    for kind, r in results.items():
        L.append(f"## {kind}: details\n")
        L.append(f"Server: {r['server']}. Connection pool: `{r['pool']}` (`make_engine`, `pool_pre_ping=True`). "
                 f"Database built and seeded in {r['build_seconds']:.1f} s.\n")
        L.append(TABLE_HEAD)
        L.append(row("**route, warm caches** (all)", r["route"]))
        L.append(row("route, CPU time of this process", r["route_cpu"]))
        if r["with_full_gc"]["n"]:
            L.append(row("route calls during which the collector made a full pass", r["with_full_gc"]))
        L.append(row("resolve_place only (each input once)", r["resolve"]))
        L.append(row("services_for from memory (each resolved input × every topic)", r["services_for"]))
        L.append(row("choose() alone (each resolved input × every topic)", r["choose"]))
        L.append(row("offers table load: `_offers` with an empty cache", r["offers_load"]["wall"]))
        L.append(row("… CPU time of this process", r["offers_load"]["cpu"]))
        L.append(row("… with the garbage collector paused (diagnostic, not production)", r["offers_load"]["gc_paused"]))
        L.append(row("… Session + connection checkout (pre-ping; SQLite: connect + PRAGMAs)", r["offers_load"]["checkout"]))
        L.append(row("… load_offers on that open session (query + ORM rows + Offers)", r["offers_load"]["query"]))
        L.append(row("first route() with empty caches (index + offers reload + answer)", r["first_call"]))
        L.append(row("Session + connection checkout before find_services", r["checkout"]))
        L.append(row(f"find_services on an open session (uncached: SQL + choose; "
                     f"{r['find_services_full_gc']:,} of these calls included a full garbage collection)",
                     r["find_services"]))
        for k, s in r["by_kind"].items():
            L.append(row(f"route, input kind: {k}", s))
        for k, s in r["by_outcome"].items():
            L.append(row(f"route, outcome: {k}", s))
        L.append("")

    L.append("## Reading the figures\n")
    for kind, r in results.items():
        L.append(f"- {kind}: resolving the place costs p50 {r['resolve']['p50']:.3f} / p95 "
                 f"{r['resolve']['p95']:.3f} ms; choosing the services from memory p50 "
                 f"{r['services_for']['p50']:.3f} / p95 {r['services_for']['p95']:.3f} ms "
                 f"(`choose()` alone p50 {r['choose']['p50']:.3f} ms). The same answer by SQL "
                 f"(`find_services`) costs p50 {r['find_services']['p50']:.2f} ms on an open session, "
                 f"plus p50 {r['checkout']['p50']:.2f} ms for the connection. Loading the whole "
                 f"table costs p50 {r['offers_load']['wall']['p50']:.1f} ms, once per {TTL} s.")
    bad = {k: r["mismatches"] for k, r in results.items() if r["mismatches"]}
    L.append("- Check: `choose()`, `services_for` and `find_services` gave the same cards for every "
             "timed case." if not bad else
             "- **Check failed**: `choose()`/`find_services` and `services_for` disagreed: "
             + ", ".join(f"{k} {v} times" for k, v in bad.items()) + ".")
    L.append("- Places that do not resolve (ambiguous, unknown, abroad, empty) never look up "
             "services, so their route() costs about as much as resolving; resolved places cost "
             "resolving plus `services_for` from memory.")
    for kind, r in results.items():
        o, p, g = r["offers_load"]["wall"], r["offers_load"]["gc_paused"], r["offers_load"]["full_gc"]
        if g["count"]:
            L.append(f"- {kind}: {g['count']} of the {o['n']} offers table loads triggered a full "
                     f"garbage collection ({g['seconds'] * 1000 / g['count']:.0f} ms each on average); "
                     f"with the collector paused a load costs p50 {p['p50']:.1f} / p95 {p['p95']:.1f} ms. "
                     "A full pass walks every object the process holds, so what it costs depends on "
                     "how many the process tracks (this bench: see the table above).")
    worst = max(r["first_call"]["p50"] for r in results.values())
    L.append("- Only the first resolved call of a process (or the first after an import in that "
             "process) pays the index and offers table load (the row \"first route() with empty "
             f"caches\": p50 {worst:.0f} ms on the slower backend here). After the TTL ({TTL} s) "
             "the caches reload in a background thread while the old table answers "
             "(bot/routing/cache.py), so quiet periods do not make a person wait.")
    if "sqlite" in results and results["sqlite"]["pool"] == "NullPool":
        L.append("- SQLite: SQLAlchemy 1.4 gives a file database a `NullPool`, so every load opens a "
                 "new sqlite3 connection and the `connect` hook runs `PRAGMA foreign_keys=ON` and "
                 "`PRAGMA journal_mode=WAL` again before the query (the checkout rows).")
    L.append(f"- A new process (a fresh `gids route`, an action server's first routing call) pays "
             f"the import of bot.routing (median {imp[len(imp) // 2]:.2f} s) and then its first "
             f"route() (median {fr[len(fr) // 2]:.2f} s: both loads); later reloads (every {TTL} s, "
             "`INDEX_TTL_SECONDS`) cost only the reload times above. The place index no longer "
             "imports spaCy: it reads data/routing/place_words.txt.")
    L.append("- Load average (1, 5, 15 min) on " + mach["nproc"] + " CPUs: "
             + "; ".join(load_line(k, v) for k, v in loads.items())
             + ". The bench alone makes about 1; above that other work shared the CPUs, and the "
             "wall-clock figures include waiting for a CPU (the CPU columns do not).")
    for label, share in shares.items():
        if share:
            L.append(f"- CPU time (/proc/stat), {label}: {share}.")
    if note:
        L.append(f"- Other work during this run, as told with `--note`: {note}")
    L.append("")

    L.append("## Input mix\n")
    L.append("| kind | inputs | example |\n|---|---:|---|")
    examples = {"gemeente": "`Súdwest-Fryslân`, `ZWOLLE`", "woonplaats": "`Hoogezand`, `Aadorp`",
                "postcode": "`9711`, `9711 AB`, `9711ab`", "typo": "`Apeldorn`, `Leewarden`",
                "sentence": "`ik woon in Zwolle`, `mijn postcode is 3011 AB`",
                "ambiguous": "`Haren`, `Bergen`", "everyday": "`Den Haag`, `Den Bosch`",
                "abroad": "`Antwerpen`, `Duitsland`", "rubbish": "`xyzzy`, `''`, 10,000 × `x`"}
    for k, _ in MIX:
        L.append(f"| {k} | {mix[k]:,} | {examples[k]} |")
    for kind, r in results.items():
        L.append(f"\nOutcomes on {kind}: " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(r["outcome"].items())) + ".")
    L.append("")

    L.append("## Machine\n")
    L.append(f"- CPUs (`nproc`): {mach['nproc']}")
    L.append(f"- CPU model (/proc/cpuinfo): {mach['cpu']}")
    L.append(f"- Python {mach['python']} on {mach['platform']}")
    L.append(f"- SQLAlchemy {mach['sqlalchemy']}, rapidfuzz {mach['rapidfuzz']}")
    L.append(f"- Niceness of the bench process: {mach['nice']}")
    L.append(f"- Code measured: {mach['code']}")
    L.append(f"- Whole run: {total_seconds:.0f} s\n")
    L.append("## Reproduce\n")
    L.append("```\n" + command + "\n```\n")
    path.write_text("\n".join(L), encoding="utf-8")


# ------------------------------------------------------------------------------------ main

def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=2000, help="inputs; each is asked for every topic")
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-admin-url", default=os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_PG_ADMIN))
    ap.add_argument("--offers-loads", type=int, default=20, help="timed offers table loads per backend")
    ap.add_argument("--note", default="", help="what else ran on the machine, for the report")
    ap.add_argument("--report", default=str(ROOT / "bench" / "routing" / "REPORT.md"))
    args = ap.parse_args(argv)
    if args.inputs < 1 or args.offers_loads < 1:
        ap.error("--inputs and --offers-loads must be at least 1")
    niceness = os.nice(0)
    command = ("cd /work/main && " + (f"nice -n {niceness} " if niceness else "")
               + ".venv/bin/python bench/routing/bench.py"
               + "".join(" " + shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])))

    gc.callbacks.append(FULL_GC)
    started = time.perf_counter()
    snaps = {"start": cpu_snapshot()}
    loads: Dict[str, Tuple] = {"start": os.getloadavg()}
    code = code_version()  # now, while the modules this process imported are what is on disk
    rng = random.Random(args.seed)
    inputs = workload(args.inputs, rng)
    mix = Counter(kind for kind, _ in inputs)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown or not backends:
        ap.error(f"--backends: sqlite and/or postgresql, not {', '.join(sorted(unknown)) or 'nothing'}")
    skipped: Dict[str, str] = {}
    if "postgresql" in backends:
        why = postgres_reachable(args.pg_admin_url)
        if why:
            skipped["postgresql"] = why
            backends.remove("postgresql")
    if not backends:
        print(f"nothing to measure: {skipped}", file=sys.stderr)
        return 2

    dbs: Dict[str, Database] = {}
    results: Dict[str, Dict] = {}
    with tempfile.TemporaryDirectory(prefix="gids-bench-") as tmp:
        try:
            for kind in backends:
                print(f"building the {kind} database …", flush=True)
                dbs[kind] = Database(kind, args.pg_admin_url, Path(tmp))

            # The very first load in this process (bot.routing is imported already).
            first = dbs[backends[0]]
            engine = make_engine(first.url)
            forget_cached_indexes()
            t = time.perf_counter()
            place_index(engine)
            cold = {"first_load": time.perf_counter() - t}
            engine.dispose()
            print(f"first index load {cold['first_load']:.2f} s; cold starts in fresh interpreters …", flush=True)
            cold.update(time_cold_start(first.url))
            cold["backend"] = first.kind

            engine = make_engine(first.url)
            memory = index_memory(engine)
            engine.dispose()

            pairs = [(kind, t, topic) for kind, t in inputs for topic in TOPICS]
            random.Random(args.seed + 1).shuffle(pairs)
            for kind in backends:
                print(f"{kind}: index reloads, {args.offers_loads} offers table loads, memory …", flush=True)
                results[kind] = prepare_backend(dbs[kind], pairs, args.offers_loads)
                o = results[kind]["offers_load"]["wall"]
                print(f"  offers table load p50 {o['p50']:.1f} ms, p95 {o['p95']:.1f} ms", flush=True)
            for kind in backends:
                results[kind]["gc_objects"] = len(gc.get_objects())
            loads["route timing start"] = os.getloadavg()
            snaps["route start"] = cpu_snapshot()
            print(f"timing {len(pairs):,} route() calls per backend with warm caches, in blocks of "
                  f"{BLOCK} taking turns: {', '.join(backends)} …", flush=True)
            for i in range(0, len(pairs), BLOCK):
                turn = backends if (i // BLOCK) % 2 == 0 else backends[::-1]
                for kind in turn:
                    time_block(results[kind], pairs[i:i + BLOCK])
            loads["route timing end"] = os.getloadavg()
            snaps["route end"] = cpu_snapshot()
            for kind in backends:
                print(f"{kind}: timing the parts …", flush=True)
                finish_backend(results[kind], inputs)
                s = results[kind]["route"]
                print(f"  {kind} route: p50 {s['p50']:.3f} ms, p95 {s['p95']:.3f} ms, "
                      f"p99 {s['p99']:.3f} ms", flush=True)
        finally:
            forget_cached_indexes()
            for db in dbs.values():
                db.drop()

    loads["end"] = os.getloadavg()
    snaps["end"] = cpu_snapshot()
    report = Path(args.report)
    mach = machine()
    mach["code"] = code
    mach["nice"] = str(niceness)
    nproc = int(mach["nproc"]) if mach["nproc"].isdigit() else os.cpu_count() or 1
    shares = {"whole run": cpu_share(snaps["start"], snaps["end"], nproc, niceness),
              "while timing route()": cpu_share(snaps["route start"], snaps["route end"], nproc, niceness)}
    write_report(report, command, mach, loads, cold, memory, results, skipped, len(inputs), mix,
                 time.perf_counter() - started, args.note, shares)
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
