#!/usr/bin/env python
"""Latency of "who helps": place resolution plus service lookup (``bot.routing.route``) with a
warm place index, on SQLite and on PostgreSQL, plus the cold index load and the index's memory.

It makes its own temporary databases (migrated and seeded the way tests/routing/conftest.py
does), runs a realistic mix of what people type (gemeente names, woonplaatsen, postcodes,
typos, ambiguous names, sentences, everyday names, foreign places, rubbish) against every topic,
twice: with the in-memory services cache emptied before every call (each resolved place costs
a SQL lookup) and with the cache as the code keeps it; then drops the databases again and
writes bench/routing/REPORT.md.

    cd /work/main && .venv/bin/python bench/routing/bench.py

Options: --inputs N (default 2000; every input is asked for all 10 topics), --seed S,
--backends sqlite,postgresql, --pg-admin-url URL (default postgresql://postgres@127.0.0.1:5432/postgres),
--report PATH. Timings use time.perf_counter (wall clock) and time.process_time (this process's
CPU; the PostgreSQL server's CPU is not in it)."""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
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
from bot.routing import RESOLVED, resolve_place, route, services_for  # noqa: E402
from bot.routing.places import forget_cached_indexes, place_index  # noqa: E402
from bot.routing.seed import seed  # noqa: E402
from bot.routing.services import TOPICS, find_services  # noqa: E402

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
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
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

def time_cold_import() -> float:
    """The word list import (spaCy → thinc → TensorFlow) in a fresh interpreter."""
    code = ("import time; t = time.perf_counter(); import spacy.lang.nl.stop_words; "
            "print(time.perf_counter() - t)")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=600)
    return float(out.stdout.strip().splitlines()[-1])


def index_memory(engine) -> Dict[str, float]:
    from bot.nlp.gazetteer import dutch_words
    forget_cached_indexes()
    gc.collect()
    tracemalloc.start()
    index = place_index(engine)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sizes = {"index_mib": current / 2**20, "load_peak_mib": peak / 2**20,
             "names": len(index.names), "postcodes": len(index.postcodes),
             "gemeenten": len(index.gemeenten)}
    del index
    gc.collect()
    tracemalloc.start()
    words = dutch_words.__wrapped__()  # the word list the index consults, cached once per process
    sizes["word_list_mib"] = tracemalloc.get_traced_memory()[0] / 2**20
    sizes["word_list_words"] = len(words)
    tracemalloc.stop()
    del words
    return sizes


BLOCK = 200  # route() calls per backend before switching to the other one
MODES = {
    "miss": "services cache emptied before every call: every resolved place costs a SQL lookup",
    "steady": "services cache as the code keeps it (starts empty; one SQL lookup per topic × gemeente × audience per TTL)",
}


def services_cache_size() -> Optional[int]:
    cache = getattr(bot.routing, "_services_cache", None)
    return None if cache is None else len(cache)


def forget_services() -> None:
    getattr(bot.routing, "forget_cached_services", lambda: None)()


def prepare_backend(db: Database, pairs) -> Dict:
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
    for kind, t, topic in pairs[:300]:  # warm-up: connections, statement caches
        route(topic, t, engine=engine)
    for mode in MODES:
        result[mode] = {"wall": [], "cpu": [], "by_kind": defaultdict(list),
                        "by_outcome": defaultdict(list), "outcome": Counter(), "seconds": 0.0,
                        "hit": [], "miss": []}
    return result


def time_block(result: Dict, mode: str, block) -> None:
    engine, r = result["engine"], result[mode]
    place_index(engine)  # warm: an index past its TTL reloads here, outside the timing
    for kind, t, topic in block:
        if mode == "miss":
            forget_services()
        size = services_cache_size()
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = route(topic, t, engine=engine)
        t1 = time.perf_counter()
        c1 = time.process_time()
        r["seconds"] += t1 - t0
        r["wall"].append(t1 - t0)
        r["cpu"].append(c1 - c0)
        r["by_kind"][kind].append(t1 - t0)
        what = "resolved" if "services" in out else "ambiguous" if "ambiguous" in out else out["reason"]
        r["outcome"][what] += 1
        r["by_outcome"][what].append(t1 - t0)
        if what == "resolved" and mode == "steady" and size is not None:
            (r["miss"] if services_cache_size() != size else r["hit"]).append(t1 - t0)


def finish_backend(result: Dict, inputs: List[Tuple[str, str]]) -> None:
    engine = result.pop("engine")
    for mode in MODES:
        r = result[mode]
        r["route"] = summary(r.pop("wall"))
        r["route_cpu"] = summary(r.pop("cpu"))
        r["by_kind"] = {k: summary(v) for k, v in sorted(r["by_kind"].items())}
        r["by_outcome"] = {k: summary(v) for k, v in sorted(r["by_outcome"].items())}
        r["hit"], r["miss"] = summary(r["hit"]), summary(r["miss"])

    # The parts on their own: each input resolved once; each resolved place looked up once
    # without and once with the services cache, and the SQL lookup taken apart: getting a
    # connection vs. the query on an open session.
    res_t, svc_t, hit_t, checkout_t, query_t = [], [], [], [], []
    place_index(engine)
    for i, (kind, t) in enumerate(inputs):
        t0 = time.perf_counter()
        res = resolve_place(t, engine=engine)
        res_t.append(time.perf_counter() - t0)
        if res.status == RESOLVED:
            topic = TOPICS[i % len(TOPICS)]
            forget_services()
            t0 = time.perf_counter()
            services_for(topic, res.gemeente, engine=engine)
            svc_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            services_for(topic, res.gemeente, engine=engine)
            hit_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with Session(engine, future=True) as session:
                session.connection()
                t1 = time.perf_counter()
                find_services(session, topic, res.gemeente)
                t2 = time.perf_counter()
            checkout_t.append(t1 - t0)
            query_t.append(t2 - t1)
    result["resolve"] = summary(res_t)
    result["services"] = summary(svc_t)
    result["services_hit"] = summary(hit_t)
    result["checkout"] = summary(checkout_t)
    result["query"] = summary(query_t)
    engine.dispose()


def services_cache_memory(url: str) -> Optional[Dict[str, float]]:
    """tracemalloc of the services cache filled for every gemeente × topic (default audiences)."""
    if services_cache_size() is None:
        return None
    engine = make_engine(url)
    index = place_index(engine)
    forget_services()
    gc.collect()
    tracemalloc.start()
    for g in index.gemeenten.values():
        for topic in TOPICS:
            services_for(topic, g, engine=engine)
    gc.collect()
    current = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    entries = services_cache_size()
    forget_services()
    engine.dispose()
    return {"mib": current / 2**20, "entries": entries}


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


def write_report(path: Path, command: str, mach: Dict, load_before, load_after, cold: Dict,
                 memory: Dict, svc_memory: Optional[Dict], results: Dict, skipped: Dict,
                 n_inputs: int, mix: Counter, total_seconds: float) -> None:
    L: List[str] = []
    L.append("# Routing benchmark: place resolution + service lookup\n")
    L.append(f"Written by `bench/routing/bench.py` on {dt.datetime.now().isoformat(timespec='seconds')}. "
             f"Target (from the issue): **p95 of `route()` under {TARGET_P95_MS:g} ms** with a warm index.\n")
    L.append("## Result\n")
    L.append("`route(topic, place)` = `resolve_place` (in-memory place index, always warm here) + "
             "`services_for` (one SQL query in its own Session, cached in memory per topic × "
             "gemeente × audience for the index TTL). Two ways of running it:\n")
    for mode, what in MODES.items():
        L.append(f"- **{mode}**: {what}.")
    L.append("")
    L.append("| backend | mode | route p50 ms | route p95 ms | route p99 ms | mean ms | CPU p50 / p95 ms | p95 < 5 ms |")
    L.append("|---|---|---:|---:|---:|---:|---:|---|")
    for kind, res in results.items():
        for mode in MODES:
            s, c = res[mode]["route"], res[mode]["route_cpu"]
            ok = "yes" if s["p95"] < TARGET_P95_MS else "**no**"
            L.append(f"| {kind} | {mode} | {s['p50']:.3f} | {s['p95']:.3f} | {s['p99']:.3f} | "
                     f"{s['mean']:.3f} | {c['p50']:.3f} / {c['p95']:.3f} | {ok} |")
    for kind, why in skipped.items():
        L.append(f"| {kind} | skipped: {why} | | | | | | |")
    L.append("")
    L.append(f"{n_inputs:,} inputs × {len(TOPICS)} topics = {n_inputs * len(TOPICS):,} calls per "
             f"backend and mode, shuffled, after 300 warm-up calls; the backends take turns in "
             f"blocks of {BLOCK} calls, so both see the same load on the machine. Wall clock is "
             "`time.perf_counter`; CPU is `time.process_time` of this process (the PostgreSQL "
             "server's own CPU is not in it).\n")

    L.append("## Cold start and memory\n")
    L.append("| what | value |\n|---|---:|")
    L.append(f"| first index load in a new process (includes importing the word list) | {cold['first_load']:.2f} s |")
    L.append(f"| `import spacy.lang.nl.stop_words` alone, timed in a fresh interpreter (spaCy → thinc → TensorFlow) | {cold['import']:.2f} s |")
    for kind, r in results.items():
        rl = r["reload"]
        L.append(f"| index reload from {kind} (cache expired, imports warm), median of 5 (min–max) | "
                 f"{rl[len(rl) // 2]:.3f} s ({rl[0]:.3f}–{rl[-1]:.3f}) |")
    L.append(f"| place index memory, tracemalloc (retained after load) | {memory['index_mib']:.2f} MiB |")
    L.append(f"| peak traced memory while loading the index | {memory['load_peak_mib']:.2f} MiB |")
    L.append(f"| Dutch word list the index consults (`dutch_words()`, held once per process) | "
             f"{memory['word_list_mib']:.2f} MiB ({memory['word_list_words']:,} words) |")
    L.append(f"| index contents | {memory['names']:,} names, {memory['postcodes']:,} PC4, "
             f"{memory['gemeenten']} gemeenten |")
    if svc_memory:
        L.append(f"| services cache filled for every gemeente × topic, tracemalloc | "
                 f"{svc_memory['mib']:.2f} MiB ({svc_memory['entries']:,} entries) |")
    L.append("")

    for kind, r in results.items():
        L.append(f"## {kind}: details\n")
        L.append(f"Server: {r['server']}. Connection pool: `{r['pool']}` (`make_engine`, `pool_pre_ping=True`). "
                 f"Database built and seeded in {r['build_seconds']:.1f} s.\n")
        L.append(TABLE_HEAD)
        for mode in MODES:
            L.append(row(f"**route, {mode}** (all)", r[mode]["route"]))
            L.append(row(f"route, {mode}, CPU time of this process", r[mode]["route_cpu"]))
        if r["steady"]["miss"]["n"]:
            L.append(row("route, steady, resolved and the cache had it", r["steady"]["hit"]))
            L.append(row("route, steady, resolved and the cache did not have it", r["steady"]["miss"]))
        L.append(row("resolve_place only (each input once)", r["resolve"]))
        L.append(row("services_for, cache empty (each resolved input once)", r["services"]))
        L.append(row("… Session + connection checkout (pre-ping; SQLite: connect + PRAGMAs)", r["checkout"]))
        L.append(row("… find_services on that open session (query + ORM rows)", r["query"]))
        L.append(row("services_for, from the cache", r["services_hit"]))
        for k, s in r["miss"]["by_kind"].items():
            L.append(row(f"route, miss, input kind: {k}", s))
        for k, s in r["miss"]["by_outcome"].items():
            L.append(row(f"route, miss, outcome: {k}", s))
        L.append("")

    L.append("## Reading the figures\n")
    for kind, r in results.items():
        L.append(f"- {kind}: resolving the place costs p50 {r['resolve']['p50']:.3f} / p95 "
                 f"{r['resolve']['p95']:.3f} ms. The SQL service lookup costs p50 "
                 f"{r['services']['p50']:.3f} / p95 {r['services']['p95']:.3f} ms, of which getting a "
                 f"connection p50 {r['checkout']['p50']:.3f} ms and the query with its ORM rows p50 "
                 f"{r['query']['p50']:.3f} ms; from the cache it costs p50 {r['services_hit']['p50']:.3f} ms. "
                 f"In the steady run {r['steady']['miss']['n']:,} of "
                 f"{r['steady']['miss']['n'] + r['steady']['hit']['n']:,} resolved calls missed the cache.")
    L.append("- Places that do not resolve (ambiguous, unknown, abroad, empty) never look up "
             "services, so their route() costs about as much as resolving.")
    if "sqlite" in results and results["sqlite"]["pool"] == "NullPool":
        L.append("- SQLite: SQLAlchemy 1.4 gives a file database a `NullPool`, so every SQL "
                 "lookup opens a new sqlite3 connection and the `connect` hook runs "
                 "`PRAGMA foreign_keys=ON` and `PRAGMA journal_mode=WAL` again before the query.")
    L.append(f"- The first index load in a process pays for importing spaCy (for its stop words) "
             f"and, through thinc, TensorFlow: {cold['import']:.1f} s here. A fresh `gids route` "
             "or the first routing call of an action server waits that long; later reloads "
             "(every 5 minutes, `INDEX_TTL_SECONDS`) cost only the reload time above.")
    dockerfile = ROOT / "docker" / "actions.Dockerfile"
    if dockerfile.is_file() and "spacy" not in dockerfile.read_text(encoding="utf-8").lower():
        L.append("- `docker/actions.Dockerfile` installs no spaCy: in that image the index loads "
                 "without the word list (no import wait, but names that are also words, such as "
                 "Best, then count anywhere in a sentence). The cold-start figure is for a "
                 "process that has spaCy, like `gids route` from the project's .venv.")
    L.append(f"- Load average (1, 5, 15 min) was {load_before[0]:.2f}, {load_before[1]:.2f}, "
             f"{load_before[2]:.2f} at the start and {load_after[0]:.2f}, {load_after[1]:.2f}, "
             f"{load_after[2]:.2f} at the end, on {mach['nproc']} CPUs: with other work on the "
             "machine the wall-clock figures include waiting for a CPU; the CPU columns do not.")
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
            f"{k} {v:,}" for k, v in sorted(r["miss"]["outcome"].items())) + ".")
    L.append("")

    L.append("## Machine\n")
    L.append(f"- CPUs (`nproc`): {mach['nproc']}")
    L.append(f"- CPU model (/proc/cpuinfo): {mach['cpu']}")
    L.append(f"- Python {mach['python']} on {mach['platform']}")
    L.append(f"- SQLAlchemy {mach['sqlalchemy']}, rapidfuzz {mach['rapidfuzz']}")
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
    ap.add_argument("--report", default=str(ROOT / "bench" / "routing" / "REPORT.md"))
    args = ap.parse_args(argv)
    command = "cd /work/main && .venv/bin/python bench/routing/bench.py" + "".join(
        " " + shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))

    started = time.perf_counter()
    load_before = os.getloadavg()
    code = code_version()  # now, while the modules this process imported are what is on disk
    rng = random.Random(args.seed)
    inputs = workload(args.inputs, rng)
    mix = Counter(kind for kind, _ in inputs)

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    skipped: Dict[str, str] = {}
    if "postgresql" in backends:
        why = postgres_reachable(args.pg_admin_url)
        if why:
            skipped["postgresql"] = why
            backends.remove("postgresql")

    dbs: Dict[str, Database] = {}
    results: Dict[str, Dict] = {}
    with tempfile.TemporaryDirectory(prefix="gids-bench-") as tmp:
        try:
            for kind in backends:
                print(f"building the {kind} database …", flush=True)
                dbs[kind] = Database(kind, args.pg_admin_url, Path(tmp))

            # The very first load in this process: nothing has imported spaCy yet.
            assert "spacy" not in sys.modules, "spaCy already imported: the cold figure would be wrong"
            first = dbs[backends[0]]
            engine = make_engine(first.url)
            forget_cached_indexes()
            t = time.perf_counter()
            place_index(engine)
            cold = {"first_load": time.perf_counter() - t}
            engine.dispose()
            print(f"first index load {cold['first_load']:.2f} s; timing the import alone …", flush=True)
            cold["import"] = time_cold_import()

            engine = make_engine(first.url)
            memory = index_memory(engine)
            engine.dispose()

            pairs = [(kind, t, topic) for kind, t in inputs for topic in TOPICS]
            random.Random(args.seed + 1).shuffle(pairs)
            for kind in backends:
                results[kind] = prepare_backend(dbs[kind], pairs)
            for mode in MODES:
                forget_services()
                print(f"timing {len(pairs):,} route() calls per backend ({mode}), in blocks of "
                      f"{BLOCK} taking turns: {', '.join(backends)} …", flush=True)
                for i in range(0, len(pairs), BLOCK):
                    turn = backends if (i // BLOCK) % 2 == 0 else backends[::-1]
                    for kind in turn:
                        time_block(results[kind], mode, pairs[i:i + BLOCK])
            for kind in backends:
                finish_backend(results[kind], inputs)
                for mode in MODES:
                    s = results[kind][mode]["route"]
                    print(f"  {kind} {mode}: p50 {s['p50']:.3f} ms, p95 {s['p95']:.3f} ms, "
                          f"p99 {s['p99']:.3f} ms", flush=True)
            svc_memory = services_cache_memory(dbs[backends[0]].url)
        finally:
            forget_cached_indexes()
            for db in dbs.values():
                db.drop()

    report = Path(args.report)
    mach = machine()
    mach["code"] = code
    write_report(report, command, mach, load_before, os.getloadavg(), cold, memory, svc_memory,
                 results, skipped, len(inputs), mix, time.perf_counter() - started)
    print(f"wrote {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
