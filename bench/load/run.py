"""A bounded load test of the whole stack on 127.0.0.1, with 1, 2, 3 ... core replicas side by side.

    nice .venv-svc/bin/python bench/load/run.py --concurrency 20 --turns 2000 --replicas 1,2,3

Starts a fresh PostgreSQL database (127.0.0.1:5432, user postgres) as gids database and tracker
store, Redis (127.0.0.1:6379) as lock store with a key prefix of its own, the action server, the
core replicas (in parallel), the gateway (REST and WhatsApp) and a Graph API test server in this
process. For each replica count it drives ``--concurrency`` conversations at once, each turn after
the previous answer, until ``--turns`` turns are sent: REST conversations about topics with places,
handovers with consent (phone and e-mail), fallbacks, and signed WhatsApp webhook deliveries whose
answers arrive at the Graph API test server. It writes bench/load/results.json and REPORT.md after
each replica count and stops everything it started (also on Ctrl-C or SIGTERM), then drops the
database. Server logs go to var/load-*.log."""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shlex
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.gateway.overhead import pct  # noqa: E402
from bot import messages  # noqa: E402
from tests.channels.conftest import (ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN,  # noqa: E402
                                     new_wa_id, reply_message, sign, text_message, webhook)
from tests.channels.graph_server import GraphTestServer  # noqa: E402
from tests.conftest import (CORE_BIN, MODEL, SVC_BIN, drop_database, free_port, migrate_and_seed,  # noqa: E402
                            new_database, running, wait_for_port)

HERE = Path(__file__).resolve().parent
CORE_TOKEN, ACTION_TOKEN, GATEWAY_SECRET = "load-core-token", "load-action-token", "load-gateway-secret"
TURN_TIMEOUT = 60.0          # seconds a person waits for an answer before it counts as a timeout
WA_QUIET = 0.5               # a WhatsApp turn's answers are complete after this long without another
REFERENCE = re.compile(r"WC-\d{4}-\d+")
AFFIRM, CONTACT_BUTTON = object(), object()   # WhatsApp button replies instead of typed text


@dataclass(frozen=True)
class Script:
    name: str
    channel: str            # rest | whatsapp
    lines: tuple
    weight: float
    handover: bool = False


# A realistic mix: most people ask about a topic and a place and decline the handover; some agree
# and leave their details; some type nonsense; a third of the conversations come over WhatsApp.
SCRIPTS = [
    Script("rest_debts", "rest", ("hoi", "ik heb schulden", "Zwolle", "nee", "doei"), 12),
    Script("rest_vacancies", "rest", ("ik zoek werk", "Amersfoort", "nee", "bedankt"), 10),
    Script("rest_language", "rest", ("ik wil beter Nederlands leren", "Enschede", "nee dank je", "doei"), 8),
    Script("rest_retraining_sector", "rest", ("ik wil me laten omscholen", "Zwolle", "in de thuiszorg", "nee"), 8),
    Script("rest_retraining_lasser", "rest", ("ik ben lasser en wil graag omscholen", "Utrecht", "nee", "bedankt"), 5),
    Script("rest_handover_phone", "rest", ("hoi", "ik heb schulden", "Zwolle", "ja", "ik heet sanne de boer",
                                           "Bel me", "06 12345678"), 6, handover=True),
    Script("rest_handover_email", "rest", ("ik wil met een medewerker praten", "ja graag", "Groningen", "Fatima",
                                           "Mail me", "fatima@example.nl"), 4, handover=True),
    Script("rest_fallback", "rest", ("asdf qwerty blub", "zxcv plof bnm", "doei"), 7),
    Script("wa_debts", "whatsapp", ("hoi", "ik heb schulden", "Zwolle", "nee"), 10),
    Script("wa_vacancies", "whatsapp", ("ik zoek werk in Utrecht", "nee", "doei"), 8),
    Script("wa_handover", "whatsapp", ("hoi", "ik heb schulden", "Hoogezand", AFFIRM, "Sanne", CONTACT_BUTTON),
           5, handover=True),
    Script("wa_fallback", "whatsapp", ("blub blub qwerty", "doei"), 4),
]


# --- the Graph API test server, with arrival times ------------------------------------------------

@dataclass
class TimedGraph(GraphTestServer):
    arrivals: Dict[str, List[tuple]] = field(default_factory=dict)   # wa_id -> [(perf_counter, body)]
    changed: Dict[str, asyncio.Event] = field(default_factory=dict)

    async def _messages(self, request):
        response = await super()._messages(request)
        if response.status == 200:
            body = await request.json()    # aiohttp keeps the body: read again
            self.arrivals.setdefault(body["to"], []).append((time.perf_counter(), body))
            self.event(body["to"]).set()
        return response

    def event(self, wa_id: str) -> asyncio.Event:
        return self.changed.setdefault(wa_id, asyncio.Event())


def wa_text(body: dict) -> str:
    if body.get("type") == "text":
        return body["text"]["body"]
    if body.get("type") == "interactive":
        return body["interactive"].get("body", {}).get("text", "")
    return ""


# --- the stack ------------------------------------------------------------------------------------

class Stack:
    """Our server processes; each can be stopped alone, all are stopped by close()."""

    def __init__(self, db_url: str, graph_url: str, redis_db: int) -> None:
        self.db_url, self.graph_url = db_url, graph_url
        self.managers: Dict[str, Any] = {}
        self.procs: Dict[str, Any] = {}
        self.cores: List[str] = []       # core URLs, in start order
        self.gateway: Optional[str] = None
        self.work = ROOT / "var" / f"load-{uuid.uuid4().hex[:8]}"
        self.work.mkdir(parents=True, exist_ok=True)
        database = db_url.rsplit("/", 1)[1]
        self.actions_port = free_port()
        (self.work / "endpoints.yml").write_text(json.dumps({
            "action_endpoint": {"url": f"http://127.0.0.1:{self.actions_port}/webhook",
                                "headers": {"Authorization": f"Bearer {ACTION_TOKEN}"}},
            "tracker_store": {"type": "bot.privacy.tracker_store.RedactingSQLTrackerStore", "dialect": "postgresql",
                              "url": "127.0.0.1", "port": 5432, "db": database, "username": "postgres"},
            "lock_store": {"type": "bot.core.lock_store.AtomicRedisLockStore", "url": "127.0.0.1", "port": 6379,
                           "db": redis_db, "key_prefix": "load" + database.replace("_", "")}}, indent=1))

    def _start(self, name: str, argv: list, port: int, env: dict, wait: bool = True):
        manager = running(argv, port, {"TF_CPP_MIN_LOG_LEVEL": "3", **env}, f"load-{name}.log",
                          timeout=400, wait=wait)
        self.procs[name] = manager.__enter__()
        self.managers[name] = manager
        return self.procs[name]

    def stop(self, name: str) -> None:
        manager = self.managers.pop(name, None)
        self.procs.pop(name, None)
        if manager is not None:
            manager.__exit__(None, None, None)

    def close(self) -> None:
        for name in reversed(list(self.managers)):
            try:
                self.stop(name)
            except Exception as exc:  # noqa: BLE001 - stop the others anyway
                print(f"stopping {name}: {exc}", file=sys.stderr)

    def start_actions(self) -> None:
        self._start("actions", [SVC_BIN / "gids", "actions", "--port", self.actions_port], self.actions_port,
                    {"DATABASE_URL": self.db_url, "GIDS_ACTION_TOKEN": ACTION_TOKEN})

    def scale_cores(self, count: int) -> List[str]:
        """Exactly ``count`` replicas: new ones start in parallel (each loads the model)."""
        while len(self.cores) > count:
            self.cores.pop()
            self.stop(f"core-{len(self.cores)}")
        new = []
        for i in range(len(self.cores), count):
            port = free_port()
            argv = [CORE_BIN / "rasa", "run", "--model", MODEL, "--endpoints", self.work / "endpoints.yml",
                    "--credentials", ROOT / "credentials.yml", "--interface", "127.0.0.1", "--port", port]
            new.append((port, self._start(f"core-{i}", argv, port, {"GIDS_CORE_TOKEN": CORE_TOKEN}, wait=False)))
            self.cores.append(f"http://127.0.0.1:{port}")
        for port, proc in new:
            wait_for_port(port, 400, proc)
        return [url for url in self.cores[-len(new):]] if new else []

    def restart_gateway(self) -> str:
        self.stop("gateway")
        port = free_port()
        self._start("gateway", [SVC_BIN / "gids", "gateway", "--port", port], port, {
            "GIDS_CORE_URL": ",".join(self.cores), "GIDS_CORE_TOKEN": CORE_TOKEN,
            "GIDS_GATEWAY_SECRET": GATEWAY_SECRET, "GIDS_REST_RATE_PER_MINUTE": "10000000",
            "DATABASE_URL": self.db_url, "WHATSAPP_ACCESS_TOKEN": ACCESS_TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID, "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_GRAPH_API_URL": self.graph_url})
        self.gateway = f"http://127.0.0.1:{port}"
        return self.gateway


def _family(pid: int) -> List[int]:
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    return pids


def rss_kb(pid: int) -> Dict[str, int]:
    """VmRSS and VmHWM of a process and its children (kB)."""
    out = {"rss": 0, "hwm": 0}
    for p in _family(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out["rss"] += int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    out["hwm"] += int(line.split()[1])
        except OSError:
            pass
    return out


def count_handovers(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url, future=True)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM handover")).scalar_one()
    finally:
        engine.dispose()


def handovers_per_conversation(db_url: str, ids: Dict[str, bool]) -> Dict[str, Any]:
    """Handover rows of each handover conversation, against whether all its turns were answered."""
    from sqlalchemy import bindparam, create_engine, text

    engine = create_engine(db_url, future=True)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT conversation_id, count(*) FROM handover WHERE conversation_id IN :ids "
                                     "GROUP BY conversation_id").bindparams(bindparam("ids", expanding=True)),
                                {"ids": list(ids) or [""]}).all()
    finally:
        engine.dispose()
    stored = dict(rows)
    return {"completed_and_stored": sum(1 for i, done in ids.items() if done and stored.get(i) == 1),
            "completed_but_missing": [i for i, done in ids.items() if done and not stored.get(i)],
            "stored_twice": [i for i in ids if stored.get(i, 0) > 1],
            "aborted_but_stored": sum(1 for i, done in ids.items() if not done and stored.get(i))}


# --- the load -------------------------------------------------------------------------------------

@dataclass
class Tally:
    turns: Dict[str, List[float]] = field(default_factory=lambda: {"rest": [], "whatsapp": []})
    first_answer: List[float] = field(default_factory=list)    # WhatsApp: delivery → first answer
    errors: Dict[str, int] = field(default_factory=dict)
    error_samples: List[str] = field(default_factory=list)
    conversations: Dict[str, int] = field(default_factory=dict)
    aborted: Dict[str, int] = field(default_factory=dict)
    handovers_expected: int = 0        # handover conversations whose every turn was answered
    handovers_confirmed: int = 0       # ... whose last answer gave a reference
    sent: int = 0
    started: float = 0.0
    off_script: List[str] = field(default_factory=list)   # handover conversations without a reference
    # conversation id (the core's sender id) of every handover conversation -> all its turns answered?
    handover_ids: Dict[str, bool] = field(default_factory=dict)

    def off(self, script: Script, said: List[str]) -> None:
        if len(self.off_script) < 10:
            self.off_script.append(f"{script.name}: last answer {said}"[:400])

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {detail}"[:300])


async def rest_conversation(http: aiohttp.ClientSession, gateway: str, script: Script, tally: Tally) -> int:
    """Sends the script's turns one after another; returns how many were sent (it stops at an error)."""
    token, answers = None, []
    for sent, line in enumerate(script.lines, 1):
        tally.sent += 1
        start = time.perf_counter()
        try:
            async with http.post(f"{gateway}/webhooks/rest/webhook",
                                 json={"message": line, **({"sender": token} if token else {})},
                                 timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT)) as resp:
                answers = await resp.json(content_type=None)
                status, token = resp.status, resp.headers.get("X-Gids-Conversation", token)
        except asyncio.TimeoutError:
            tally.error("rest_timeout", f"{script.name} {line!r}")
            return sent
        except (aiohttp.ClientError, ValueError) as exc:
            tally.error("rest_connection", f"{script.name} {line!r} {exc!r}")
            return sent
        ms = (time.perf_counter() - start) * 1000
        if script.handover and token:
            tally.handover_ids.setdefault("rest-" + token[:22], False)
        said = [a.get("text") or "" for a in answers] if isinstance(answers, list) else []
        if messages.GIDS_DOWN in said:
            tally.error("rest_gids_down", f"{script.name} {line!r} status {status}")
            return sent
        if status != 200:
            tally.error(f"rest_{status}", f"{script.name} {line!r} {str(answers)[:120]}")
            return sent
        tally.turns["rest"].append(ms)
    if script.handover:
        tally.handovers_expected += 1
        tally.handover_ids["rest-" + token[:22]] = True
        said = [a.get("text") or "" for a in answers]
        if any(REFERENCE.search(t) for t in said):
            tally.handovers_confirmed += 1
        else:
            tally.off(script, said)
    return len(script.lines)


async def wa_conversation(http: aiohttp.ClientSession, gateway: str, graph: TimedGraph, script: Script,
                          tally: Tally) -> int:
    # A valid Dutch mobile number (06-1...): new_wa_id() also makes 06-7/06-9 numbers, which are no
    # phone numbers, and then the gids rightly does not offer the WhatsApp number as contact.
    wa_id = "3161" + new_wa_id()[-7:]
    if script.handover:
        tally.handover_ids[wa_id] = False
    chosen = ""
    arrived = graph.arrivals.setdefault(wa_id, [])
    event = graph.event(wa_id)
    answers: List[dict] = []
    for sent, line in enumerate(script.lines, 1):
        if line is AFFIRM:
            message = reply_message(wa_id, "button_reply", "/affirm", "Ja, graag")
        elif line is CONTACT_BUTTON:
            buttons = [b for b in answers if b.get("type") == "interactive"
                       and b["interactive"].get("type") == "button"]
            if not buttons:
                tally.error("wa_off_script", f"{script.name}: no contact buttons in {[wa_text(a) for a in answers]}")
                return sent - 1
            first = buttons[-1]["interactive"]["action"]["buttons"][0]["reply"]
            message = reply_message(wa_id, "button_reply", first["id"], first["title"])
            chosen = f"button {first['title']!r} of {wa_text(buttons[-1])!r}; "
        else:
            message = text_message(wa_id, line)
        data = json.dumps(webhook(messages=[message])).encode()
        seen = len(arrived)
        event.clear()
        tally.sent += 1
        start = time.perf_counter()
        try:
            async with http.post(f"{gateway}/webhooks/whatsapp/webhook", data=data,
                                 headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(data)},
                                 timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT)) as resp:
                status = resp.status
                await resp.read()
        except asyncio.TimeoutError:
            tally.error("wa_webhook_timeout", script.name)
            return sent
        except aiohttp.ClientError as exc:
            tally.error("wa_connection", f"{script.name} {exc!r}")
            return sent
        if status != 200:
            tally.error(f"wa_webhook_{status}", f"{script.name} {line if isinstance(line, str) else 'button'!r}")
            return sent
        # The answers go to the Graph API after the 200: wait for the first, then for quiet.
        deadline = start + TURN_TIMEOUT
        while True:
            wait = (deadline - time.perf_counter()) if len(arrived) == seen else \
                arrived[-1][0] + WA_QUIET - time.perf_counter()
            if len(arrived) == seen and wait <= 0:
                tally.error("wa_no_answer", f"{script.name} no answer within {TURN_TIMEOUT:.0f} s")
                return sent
            if len(arrived) > seen and wait <= 0:
                break
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), max(wait, 0.01))
            except asyncio.TimeoutError:
                pass
        answers = [body for _, body in arrived[seen:]]
        if any(messages.GIDS_DOWN in wa_text(a) for a in answers):
            tally.error("wa_gids_down", script.name)
            return sent
        tally.first_answer.append((arrived[seen][0] - start) * 1000)
        tally.turns["whatsapp"].append((arrived[-1][0] - start) * 1000)
    if script.handover:
        tally.handovers_expected += 1
        tally.handover_ids[wa_id] = True
        said = [wa_text(a) for a in answers]
        if any(REFERENCE.search(t) for t in said):
            tally.handovers_confirmed += 1
        else:
            tally.off(script, [chosen] + said)
    graph.arrivals.pop(wa_id, None)   # keep memory flat over long runs
    graph.changed.pop(wa_id, None)
    return len(script.lines)


async def drive(gateway: str, graph: TimedGraph, concurrency: int, turns: int, seed: int, tally: Tally) -> float:
    rng = random.Random(seed)
    reserved = 0

    async def person(http: aiohttp.ClientSession) -> None:
        nonlocal reserved
        while reserved < turns:
            script = rng.choices(SCRIPTS, weights=[s.weight for s in SCRIPTS])[0]
            reserved += len(script.lines)
            tally.conversations[script.name] = tally.conversations.get(script.name, 0) + 1
            run = rest_conversation(http, gateway, script, tally) if script.channel == "rest" else \
                wa_conversation(http, gateway, graph, script, tally)
            sent = await run
            if sent < len(script.lines):
                tally.aborted[script.name] = tally.aborted.get(script.name, 0) + 1
                reserved -= len(script.lines) - sent   # the turns it did not send go back to the budget

    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as http:
        tally.started = time.perf_counter()
        await asyncio.gather(*(person(http) for _ in range(concurrency)))
        return time.perf_counter() - tally.started


async def warm_up(core_urls: List[str]) -> None:
    """One conversation straight to each new replica (its first turns load lazily)."""
    async with aiohttp.ClientSession() as http:
        for url in core_urls:
            for line in ("hoi", "ik heb schulden", "Zwolle", "nee"):
                async with http.post(f"{url}/webhooks/gateway/webhook", headers={"Authorization": f"Bearer {CORE_TOKEN}"},
                                     json={"sender": f"warmup-{uuid.uuid4().hex[:8]}", "message": line,
                                           "channel": "rest"}, timeout=aiohttp.ClientTimeout(total=120)) as r:
                    await r.read()


def _cpu_of(pids: Iterable[int]) -> float:
    """User + system CPU seconds of these processes (fields 14 and 15 of /proc/PID/stat)."""
    ticks = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _by_name(*names: str) -> List[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in names:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def cpu_seconds(stack: Stack) -> Dict[str, float]:
    """CPU used so far per process of the stack, the machine's PostgreSQL and Redis (all their
    processes: a backend that ends during a run takes its seconds with it) and this driver."""
    out = {name: _cpu_of(_family(proc.pid)) for name, proc in stack.procs.items()}
    out["postgresql"] = _cpu_of(_by_name("postgres"))
    out["redis"] = _cpu_of(_by_name("redis-server"))
    own = os.times()
    out["load-driver"] = own.user + own.system
    return out


async def sample_rss(stack: Stack, peaks: Dict[str, int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for name, proc in list(stack.procs.items()):
            peaks[name] = max(peaks.get(name, 0), rss_kb(proc.pid)["rss"])
        own = int(next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS")).split()[1])
        peaks["load-driver"] = max(peaks.get("load-driver", 0), own)   # without its children, the servers
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass


# --- report ---------------------------------------------------------------------------------------

def summary(values: List[float]) -> Dict[str, Any]:
    if not values:
        return {"turns": 0}
    return {"turns": len(values), "p50_ms": round(statistics.median(values), 1), "p95_ms": round(pct(values, 0.95), 1),
            "p99_ms": round(pct(values, 0.99), 1), "max_ms": round(max(values), 1)}


def training_time() -> str:
    from bot.model import training_record

    # The stamp setup.sh wrote: this runtime has no spaCy package, so it cannot hash the inputs itself.
    stamp = MODEL.with_suffix("").with_suffix(".hash")
    record = training_record(stamp.read_text().strip() if stamp.exists() else "none")
    when = datetime.fromtimestamp(MODEL.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if not record.exists():
        return (f"not known (models/gids.tar.gz, from {when}, was trained before setup.sh recorded the duration "
                f"in {record.parent})")
    facts = json.loads(record.read_text())
    return (f"{facts['seconds']:.0f} s for the current model (`gids train`, {facts['cpus']} CPUs, "
            f"{facts['trained_at']}; from {record.name}). Rasa reuses the components whose inputs did not change "
            "(.rasa/cache), so this is short after a small change; from a fresh clone `./setup.sh` trained in "
            "about 150 s on this machine")


def gateway_timeouts() -> tuple:
    import inspect

    from bot.channels.whatsapp import WhatsAppChannel
    from bot.gateway.app import GatewaySettings

    return (GatewaySettings().core_timeout,
            inspect.signature(WhatsAppChannel.__init__).parameters["answer_timeout"].default)


def write_report(results: dict) -> None:
    (HERE / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = ["# Load test: the whole stack on 127.0.0.1", "",
             "Written by `bench/load/run.py` (see its docstring for what it starts). Each section is one "
             "invocation; within one invocation the replica counts ran one after another on the same machine, "
             "the same database and the same action server, so their ratio is measured side by side.", "",
             f"Machine: {results['machine']['cores']} cores, {results['machine']['memory_gb']} GB memory, shared by "
             "everything: PostgreSQL, Redis, the action server, the gateway, the core replicas, the load driver and "
             "the Graph API test server. The load averages below say how busy it was before and after. What the "
             "figures mean for sizing: README, 'Deploying with docker-compose'.", "",
             f"Model training time: {results['training_time']}.", "",
             "Conversation mix (weights): " + ", ".join(f"{s.name} {s.weight:g} ({len(s.lines)} turns)"
                                                          for s in SCRIPTS) + ".", "",
             "A REST turn is the POST to the gateway until its answer. A WhatsApp turn is the signed webhook "
             f"delivery until the last of its answers arrived at the Graph API test server (an answer is the last "
             f"when nothing followed for {WA_QUIET} s); 'first' is until the first answer arrived. Errors: non-200 "
             f"answers, no answer within {TURN_TIMEOUT:.0f} s, and GIDS_DOWN answers; a conversation stops at its "
             "first error. Handovers: rows added to the handover table during the replica count, against the "
             "handover conversations whose every turn was answered; per conversation (where measured): "
             "completed and stored once, completed but missing (lost), stored twice, and stored although a turn of "
             "the conversation failed at the gateway (the core finished it after the gateway gave up).", "",
             f"The gateway gives up on the core after {gateway_timeouts()[0]:g} s (REST answers 503 with GIDS_DOWN) "
             f"and on a WhatsApp turn after {gateway_timeouts()[1]:g} s (503: Meta delivers again); the core still "
             "finishes a turn the gateway gave up on. 'sent/s' counts every turn sent, answered or not; 'turns/s' "
             "only the answered ones.", ""]
    for invocation in results["invocations"]:
        runs = [run for run in invocation["runs"] if run]
        lines += [f"## `{invocation['command']}`", "",
                  f"Started {invocation['started']}; load average before {invocation['load_before']}"
                  + (f", after {invocation['load_after']}" if invocation.get("load_after") else " (still running or killed)")
                  + ".", "",
                  "| replicas | turns | wall s | sent/s | turns/s | REST p50/p95/p99 ms | WhatsApp p50/p95/p99 ms | "
                  "WhatsApp first answer p50/p95 ms | errors | handovers stored / expected | load avg before → after |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for run in runs:
            r, w, f = run["rest"], run["whatsapp"], run["whatsapp_first_answer"]
            trip = (lambda s: f"{s['p50_ms']:.0f} / {s['p95_ms']:.0f} / {s['p99_ms']:.0f} ({s['turns']})"
                    if s["turns"] else "–")
            errors = sum(run["errors"].values())
            lines.append(
                f"| {run['replicas']}{'' if run.get('complete', True) else ' (incomplete)'} | {run['turns_sent']} | {run['wall_s']:.0f} | "
                f"{run['turns_sent'] / run['wall_s'] if run['wall_s'] else 0:.2f} | {run['turns_per_s']:.2f} | "
                f"{trip(r)} | {trip(w)} | "
                + (f"{f['p50_ms']:.0f} / {f['p95_ms']:.0f}" if f["turns"] else "–")
                + f" | {errors}{' ' + json.dumps(run['errors']) if errors else ''} | "
                f"{run['handovers']['stored']} / {run['handovers']['expected']} | "
                f"{run['load_before'][0]:.1f} → {run['load_after'][0]:.1f} |")
        base = next((run for run in runs if run["replicas"] == 1), None)
        if base and len(runs) > 1:
            lines += ["", "Scaling (turns/s against 1 replica; only a fair ratio when the load averages of the "
                      "replica counts are alike): " + ", ".join(
                f"{run['replicas']} replicas ×{run['turns_per_s'] / base['turns_per_s']:.2f}"
                for run in runs if run is not base) + "."]
        lines += ["", "Peak RSS per process during each replica count (MB, sampled every second):", "",
                  "| replicas | " + " | ".join(sorted({k for run in runs for k in run["peak_rss_mb"]}))
                  + " |", "|---" * (1 + len({k for run in runs for k in run["peak_rss_mb"]})) + "|"]
        names = sorted({k for run in runs for k in run["peak_rss_mb"]})
        for run in runs:
            lines.append(f"| {run['replicas']} | " + " | ".join(
                f"{run['peak_rss_mb'].get(n, 0):.0f}" if n in run["peak_rss_mb"] else "–" for n in names) + " |")
        cpu_runs = [run for run in runs if run.get("cpu_ms_per_turn")]
        if cpu_runs:
            names = sorted({k for run in cpu_runs for k in run["cpu_ms_per_turn"]})
            lines += ["", "CPU per answered turn, by process (ms; user + system, over the whole replica count; "
                      "PostgreSQL and Redis: all their processes on the machine):", "",
                      "| replicas | " + " | ".join(names) + " | all |", "|---" * (len(names) + 2) + "|"]
            for run in cpu_runs:
                cpu = run["cpu_ms_per_turn"]
                lines.append(f"| {run['replicas']} | " + " | ".join(
                    f"{cpu[n]:.1f}" if n in cpu else "–" for n in names) + f" | {sum(cpu.values()):.1f} |")
        for run in runs:
            handovers = run["handovers"]
            if run["error_samples"] or run["aborted"] or handovers["stored"] != handovers["expected"] \
                    or handovers.get("off_script"):
                lines += ["", f"{run['replicas']} replica(s): aborted conversations {run['aborted']}; handovers "
                          f"confirmed by a reference in the answer {handovers['confirmed']}"
                          + ("" if run.get("complete", True) else " (incomplete: handovers of conversations in "
                             "flight may be stored before their answer arrived)") + "; first errors:", ""]
                lines += [f"- `{e}`" for e in run["error_samples"][:10]]
                lines += [f"- off script: `{e}`" for e in handovers.get("off_script", [])[:5]]
            if handovers.get("per_conversation"):
                lines += ["", f"{run['replicas']} replica(s), handovers per conversation: "
                          + json.dumps(handovers["per_conversation"])]
        lines.append("")
    (HERE / "REPORT.md").write_text("\n".join(lines))


# --- main -----------------------------------------------------------------------------------------

async def main_async(args: argparse.Namespace, command: str) -> int:
    results = {"invocations": []}
    if (HERE / "results.json").exists() and not args.fresh:
        results = json.loads((HERE / "results.json").read_text())
    mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
    results["machine"] = {"cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1)}
    results["training_time"] = training_time()
    invocation = {"command": command, "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  "load_before": [round(x, 2) for x in os.getloadavg()], "runs": []}
    results["invocations"] = [i for i in results["invocations"] if i["command"] != command] + [invocation]

    graph = TimedGraph(PHONE_NUMBER_ID, ACCESS_TOKEN)
    await graph.start(free_port())
    db_url, cleanup = new_database("postgresql", None)
    print(f"database {db_url}", flush=True)
    stack: Optional[Stack] = None
    try:
        await asyncio.to_thread(migrate_and_seed, db_url)
        stack = Stack(db_url, graph.base_url, args.redis_db)
        await asyncio.to_thread(stack.start_actions)
        for count in args.replicas:
            t = time.time()
            new = await asyncio.to_thread(stack.scale_cores, count)
            gateway = await asyncio.to_thread(stack.restart_gateway)
            await warm_up(new)
            print(f"{count} replica(s) up in {time.time() - t:.0f} s; driving {args.turns} turns, "
                  f"{args.concurrency} at once", flush=True)
            before_handovers = await asyncio.to_thread(count_handovers, db_url)
            load_before = [round(x, 2) for x in os.getloadavg()]
            cpu_before = cpu_seconds(stack)
            peaks: Dict[str, int] = {}
            tally = Tally()

            def snapshot(wall: float, stored: int, complete: bool) -> dict:
                answered = len(tally.turns["rest"]) + len(tally.turns["whatsapp"])
                return {
                    "replicas": count, "concurrency": args.concurrency, "complete": complete,
                    "turns_sent": tally.sent, "turns_answered": answered, "wall_s": round(wall, 1),
                    "turns_per_s": round(answered / wall, 2) if wall else 0.0,
                    "rest": summary(tally.turns["rest"]), "whatsapp": summary(tally.turns["whatsapp"]),
                    "whatsapp_first_answer": summary(tally.first_answer),
                    "errors": dict(tally.errors), "error_samples": list(tally.error_samples),
                    "aborted": dict(tally.aborted), "conversations": dict(tally.conversations),
                    "handovers": {"expected": tally.handovers_expected, "confirmed": tally.handovers_confirmed,
                                  "stored": stored, "off_script": list(tally.off_script)},
                    "peak_rss_mb": {name: round(kb / 1024) for name, kb in peaks.items()},
                    "cpu_ms_per_turn": {name: round((used - cpu_before.get(name, 0.0)) * 1000 / answered, 1)
                                        for name, used in cpu_seconds(stack).items()} if answered else {},
                    "vm_hwm_mb": {name: round(rss_kb(proc.pid)["hwm"] / 1024) for name, proc in stack.procs.items()},
                    "load_before": load_before, "load_after": [round(x, 2) for x in os.getloadavg()]}

            invocation["runs"].append({})

            async def snapshots() -> None:
                # A run that is killed keeps what it measured so far ("complete": false).
                while True:
                    await asyncio.sleep(60)
                    stored = await asyncio.to_thread(count_handovers, db_url) - before_handovers
                    invocation["runs"][-1] = snapshot(time.perf_counter() - tally.started, stored, False)
                    write_report(results)

            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(stack, peaks, stop))
            writer = asyncio.create_task(snapshots())
            try:
                wall = await drive(gateway, graph, args.concurrency, args.turns, args.seed + count, tally)
            finally:
                stop.set()
                writer.cancel()
                await sampler
            await asyncio.sleep(2)   # let the action server finish writing
            stored = await asyncio.to_thread(count_handovers, db_url) - before_handovers
            run = invocation["runs"][-1] = snapshot(wall, stored, True)
            run["handovers"]["per_conversation"] = await asyncio.to_thread(
                handovers_per_conversation, db_url, tally.handover_ids)
            write_report(results)
            print(json.dumps({k: run[k] for k in ("replicas", "turns_sent", "wall_s", "turns_per_s", "rest",
                                                   "whatsapp", "errors", "handovers")}), flush=True)
    finally:
        if stack is not None:
            await asyncio.to_thread(stack.close)
        await graph.stop()
        await asyncio.to_thread(drop_database, cleanup)
        invocation["load_after"] = [round(x, 2) for x in os.getloadavg()]
        write_report(results)
        print(f"database dropped; report in {HERE / 'REPORT.md'}", flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--concurrency", type=int, default=20, help="conversations at once")
    ap.add_argument("--turns", type=int, default=2000, help="turns per replica count (whole conversations)")
    ap.add_argument("--replicas", default="1,2,3", help="replica counts to measure one after another")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--redis-db", type=int, default=5)
    ap.add_argument("--fresh", action="store_true", help="forget earlier invocations in results.json")
    args = ap.parse_args()
    args.replicas = [int(x) for x in args.replicas.split(",") if x.strip()]
    command = "nice .venv-svc/bin/python bench/load/run.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:] if a != "--fresh")

    loop = asyncio.new_event_loop()
    task = loop.create_task(main_async(args, command))
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)   # cancelling runs every finally: servers stop, database drops
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        print("interrupted: stopped everything", file=sys.stderr)
        return 130
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
