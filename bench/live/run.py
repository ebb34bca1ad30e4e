"""Load on the live chat: many people waiting, a few staff members chatting, nothing lost or doubled.

    nice .venv-svc/bin/python bench/live/run.py --people 50 --staff 5 --exchanges 6

Starts a fresh PostgreSQL database (127.0.0.1:5432, user postgres; or --sqlite), the gateway
(``gids gateway``) and the console (``gids console``) as processes, and a core stand-in in this
process (the live chat touches the core only when a chat ends; bench/load measures the core). Then
``--people`` web chat widgets (socket.io) connect and each gets a waiting chat at once (as after
"Ja, nu chatten"); ``--staff`` Werkcentrum staff log in to the console, follow its event stream and
take people from the queue one after the other: for each chat, ``--exchanges`` times the staff
member writes and the person answers after reading it, then the staff member ends the chat. A
fifth of the people drop their connection in the middle and come back, asking for what they missed.

Checked at the end, from what every side saw and what the database holds: each message stored
once (also when sent twice with the same reference), each staff message shown to its person once
(widgets drop a repeat by id; raw repeats are counted too), each person's message seen once in the
staff member's event stream, each chat ended and resumed. Reported: latency from a POST of a staff
message to the person's screen and from a person's message to the staff member's event stream
(p50/p95/p99), pick-up waits, messages per second, RSS of the gateway and the console. Writes
bench/live/results.json and REPORT.md; server logs in var/live-*.log."""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import socketio  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from bench.gateway.overhead import pct  # noqa: E402
from bench.load.run import rss_kb  # noqa: E402
from tests.gateway.standin import StandIn  # noqa: E402
from tests.conftest import SVC_BIN, drop_database, free_port, migrate_and_seed, new_database, running  # noqa: E402

HERE = Path(__file__).resolve().parent
SECRET, CORE_TOKEN = "live-bench-secret", "live-bench-core"
REGION = "AM36"
PASSWORD = "Bench-wachtwoord-123"


class Person:
    """One widget: connects, keeps what it was shown by id, answers each staff message."""

    def __init__(self, gateway: str, index: int, reconnects: bool) -> None:
        self.gateway, self.index, self.reconnects = gateway, index, reconnects
        self.token = ""
        self.shown: Dict[int, dict] = {}      # what the widget shows: one per id
        self.raw = Counter()                  # every delivery, repeats included
        self.sent: List[str] = []             # references of the messages this person sent
        self.said_at: Dict[str, float] = {}   # a message's first words → when it was first sent
        self.staff_seen_at: Dict[int, float] = {}
        self.answer_queue: asyncio.Queue = asyncio.Queue()
        self.ended = asyncio.Event()
        self.sio: Optional[socketio.AsyncClient] = None

    async def connect(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
        self.sio.on("session_confirm", lambda token: confirmed.done() or confirmed.set_result(token))
        self.sio.on("live_message", self.on_live)
        await self.sio.connect(self.gateway, socketio_path="socket.io", transports=["websocket"])
        await self.sio.emit("session_request", {"session_id": self.token or None})
        self.token = await asyncio.wait_for(confirmed, 30)
        await self.sio.emit("live_sync", {"after": max(self.shown, default=0)})

    async def on_live(self, message: dict) -> None:
        self.raw[message["id"]] += 1
        if message["id"] in self.shown:
            return
        self.shown[message["id"]] = message
        self.staff_seen_at[message["id"]] = time.monotonic()
        if message["author"] == "staff":
            self.answer_queue.put_nowait(message)
        if message["status"] not in ("waiting", "active"):
            self.ended.set()

    async def say(self, text: str) -> None:
        ref = uuid.uuid4().hex[:16]
        self.sent.append(ref)
        self.said_at.setdefault(text.split(".")[0], time.monotonic())
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.token, "client_ref": ref})
        if random.random() < 0.1:  # the widget sends the same message again after a hiccup
            await self.sio.emit("user_uttered", {"message": text, "session_id": self.token, "client_ref": ref})

    async def live(self, exchanges: int) -> None:
        for i in range(exchanges):
            await asyncio.wait_for(self.answer_queue.get(), 300)
            if self.reconnects and i == exchanges // 2:
                await self.sio.disconnect()
                await asyncio.sleep(0.5)
                await self.connect()
            await self.say(f"Antwoord {i + 1} van persoon {self.index}. Mijn nummer is 06 12345678.")
        await asyncio.wait_for(self.ended.wait(), 300)


class StaffMember:
    def __init__(self, console: str, username: str) -> None:
        self.console, self.username = console, username
        self.session: Optional[aiohttp.ClientSession] = None
        self.csrf = ""
        self.seen: Counter = Counter()             # person messages in the event stream, by id (raw)
        self.person_seen_by_words: Dict[str, float] = {}  # first words (before the redacted number)
        self.inbox: Dict[int, asyncio.Queue] = {}  # chat id → person messages
        self.queue: List[dict] = []
        self.queue_changed = asyncio.Event()
        self.post_times: Dict[int, float] = {}
        self.chats = 0

    async def log_in(self) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        self.session = aiohttp.ClientSession(cookie_jar=jar)
        page = await (await self.session.get(f"{self.console}/login")).text()
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        resp = await self.session.post(f"{self.console}/login", data={"username": self.username, "password": PASSWORD,
                                                                       "csrf_token": token, "next": "/live"})
        html = await resp.text()
        assert "Live chat" in html, "login failed"
        self.csrf = html.split('data-csrf="')[1].split('"')[0]
        await self.post("/live/presence", available="1")

    async def post(self, path: str, **fields: str) -> dict:
        async with self.session.post(f"{self.console}{path}", data={"csrf_token": self.csrf, **fields}) as resp:
            return await resp.json()

    async def follow(self) -> None:
        """The page's event stream, reconnecting with Last-Event-ID as EventSource does."""
        last = 0
        while True:
            try:
                async with self.session.get(f"{self.console}/live/events?after={last}",
                                            timeout=aiohttp.ClientTimeout(total=None)) as resp:
                    block: Dict[str, str] = {}
                    async for raw in resp.content:
                        line = raw.decode().rstrip("\n")
                        if line:
                            if not line.startswith(":") and ": " in line:
                                key, value = line.split(": ", 1)
                                block[key] = value
                            continue
                        if block.get("event") == "queue":
                            self.queue = json.loads(block["data"])["waiting"]
                            self.queue_changed.set()
                        elif block.get("event") == "message":
                            message = json.loads(block["data"])
                            last = max(last, message["id"])
                            if message["author"] == "person":
                                self.seen[message["id"]] += 1
                                # The page shows each id once: a reconnect sends the last moments again.
                                if self.seen[message["id"]] == 1:
                                    self.person_seen_by_words[message["text"].split(".")[0]] = time.monotonic()
                                    self.inbox.setdefault(message["chat"], asyncio.Queue()).put_nowait(message)
                        block = {}
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.5)

    async def work(self, exchanges: int, done: asyncio.Event, picked: List[float], requested: Dict[int, float]) -> None:
        while not done.is_set():
            candidates = list(self.queue)
            if not candidates:
                self.queue_changed.clear()
                try:
                    await asyncio.wait_for(self.queue_changed.wait(), 2)
                except asyncio.TimeoutError:
                    pass
                continue
            chat = random.choice(candidates[:3])
            answer = await self.post(f"/live/{chat['id']}/pickup")
            if not answer.get("ok"):
                self.queue = [c for c in self.queue if c["id"] != chat["id"]]
                continue
            picked.append(time.monotonic() - requested[chat["id"]])
            self.chats += 1
            inbox = self.inbox.setdefault(chat["id"], asyncio.Queue())
            for i in range(exchanges):
                sent = await self.post(f"/live/{chat['id']}/send", text=f"Vraag {i + 1}: hoe gaat het met je?",
                                       client_ref=uuid.uuid4().hex[:16])
                self.post_times[sent["id"]] = time.monotonic()
                await asyncio.wait_for(inbox.get(), 300)
            await self.post(f"/live/{chat['id']}/end")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--staff", type=int, default=5)
    parser.add_argument("--exchanges", type=int, default=6)
    parser.add_argument("--sqlite", action="store_true", help="the gids database on SQLite instead of PostgreSQL")
    parser.add_argument("--no-listen", action="store_true",
                        help="GIDS_LIVE_LISTEN=0: gateway and console poll only (writes REPORT-poll.md)")
    args = parser.parse_args()
    random.seed(16)

    from bot import live
    from bot.console import auth
    from bot.db import make_engine, session_scope
    from bot.db.models import LiveChat, LiveMessage
    from bot.gateway.ids import ConversationIds
    from sqlalchemy import select

    class Factory:
        def mktemp(self, name: str) -> Path:
            path = ROOT / "var" / f"live-bench-{name}-{uuid.uuid4().hex[:6]}"
            path.mkdir(parents=True)
            return path

    url, cleanup = new_database("sqlite" if args.sqlite else "postgresql", Factory())
    migrate_and_seed(url)
    engine = make_engine(url)
    usernames = [f"medewerker{i}" for i in range(args.staff)]
    with session_scope(engine) as session:
        for name in usernames:
            auth.add_user(session, name, PASSWORD, role="werkcentrum", region_code=REGION,
                          display_name=f"Mede{name[-1]} Werker")
    core = StandIn("kern", answer=lambda message: [])  # a paused core answers nothing
    await core.start()
    gw_port, console_port = free_port(), free_port()
    env = {"DATABASE_URL": url, "GIDS_CORE_URL": core.url, "GIDS_CORE_TOKEN": CORE_TOKEN,
           "GIDS_GATEWAY_SECRET": SECRET, "GIDS_LIVE_WAIT_SECONDS": "900", "GIDS_CONSOLE_INSECURE_COOKIES": "1",
           "GIDS_CONSOLE_SECRET": Fernet.generate_key().decode(), "GIDS_TRUSTED_PROXIES": "",
           "GIDS_LIVE_LISTEN": "0" if args.no_listen else "1"}
    gateway, console = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{console_port}"
    started = time.monotonic()
    with running([SVC_BIN / "gids", "gateway", "--port", gw_port], gw_port, env, "live-gateway.log") as gw_proc, \
            running([SVC_BIN / "gids", "console", "--port", console_port], console_port, env,
                    "live-console.log") as console_proc:
        ids = ConversationIds(SECRET)
        people = [Person(gateway, i, reconnects=(i % 5 == 0)) for i in range(args.people)]
        await asyncio.gather(*(p.connect() for p in people))
        staff = [StaffMember(console, name) for name in usernames]
        for member in staff:
            await member.log_in()
        requested: Dict[int, float] = {}
        chat_of: Dict[int, Person] = {}
        with session_scope(engine) as session:
            for p in people:
                chat = live.start(session, conversation_id=ids.sender("socketio", p.token), channel="socketio",
                                  region_code=REGION, topics=["ask_debt_help"])
                session.flush()
                requested[chat.id] = time.monotonic()
                chat_of[chat.id] = p
        followers = [asyncio.ensure_future(m.follow()) for m in staff]
        done = asyncio.Event()
        picked: List[float] = []
        t0 = time.monotonic()
        workers = [asyncio.ensure_future(m.work(args.exchanges, done, picked, requested)) for m in staff]
        await asyncio.gather(*(p.live(args.exchanges) for p in people))
        elapsed = time.monotonic() - t0
        done.set()
        await asyncio.sleep(3)  # the last resumes
        memory = {"gateway": rss_kb(gw_proc.pid), "console": rss_kb(console_proc.pid)}
        for task in workers + followers:
            task.cancel()
        for member in staff:
            await member.session.close()
        for p in people:
            await p.sio.disconnect()

    # --- what every side saw, against the database -------------------------------------------
    with session_scope(engine) as session:
        rows = session.execute(select(LiveMessage.id, LiveMessage.chat_id, LiveMessage.author, LiveMessage.client_ref,
                                      LiveMessage.text)).all()
        chats = session.execute(select(LiveChat.id, LiveChat.status, LiveChat.resume)).all()
        stored_refs = Counter(r.client_ref for r in rows if r.author == "person")
    person_refs = [ref for p in people for ref in p.sent]
    lost_person = sorted(set(person_refs) - set(stored_refs))
    doubled_person = [ref for ref, n in stored_refs.items() if n > 1]
    staff_rows = [r for r in rows if r.author == "staff"]
    shown_to = {cid: p for cid, p in chat_of.items()}
    lost_staff = [r.id for r in staff_rows if r.id not in shown_to[r.chat_id].shown]
    raw_repeats = sum(n - 1 for p in people for n in p.raw.values() if n > 1)
    person_rows = [r for r in rows if r.author == "person"]
    seen_counts = Counter()
    for m in staff:
        seen_counts.update(m.seen)
    lost_to_staff = [r.id for r in person_rows if seen_counts[r.id] == 0]
    # Every staff member of the region follows all of its messages: a repeat counts within one
    # stream; the page drops it by id, as the widget does.
    staff_repeats = sum(n - 1 for m in staff for n in m.seen.values() if n > 1)
    post_times = {k: v for m in staff for k, v in m.post_times.items()}
    to_person = [shown_to[r.chat_id].staff_seen_at[r.id] - post_times[r.id] for r in staff_rows
                 if r.id in post_times and r.id in shown_to[r.chat_id].staff_seen_at]
    # Person → the first staff stream that showed it (every stream of the region gets it).
    to_staff = []
    for p in people:
        for words, said in p.said_at.items():
            seen = [m.person_seen_by_words[words] for m in staff if words in m.person_seen_by_words]
            if seen:
                to_staff.append(min(seen) - said)
    statuses = Counter(status for _, status, _ in chats)
    unresumed = [cid for cid, _, resume in chats if resume is not None]
    messages_total = len(rows)
    result = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": "sqlite" if args.sqlite else "postgresql", "listen": not args.no_listen,
        "people": args.people, "staff": args.staff, "exchanges": args.exchanges,
        "reconnecting_people": sum(p.reconnects for p in people),
        "elapsed_s": round(elapsed, 1), "messages_stored": messages_total,
        "messages_per_s": round(messages_total / elapsed, 1) if elapsed else None,
        "person_messages_sent": len(person_refs), "person_messages_stored": len(person_rows),
        "person_messages_lost": len(lost_person), "person_messages_doubled": len(doubled_person),
        "person_messages_not_in_staff_stream": len(lost_to_staff), "staff_stream_repeats_dropped": staff_repeats,
        "person_messages_with_the_number_stored": sum("12345678" in (r.text or "") for r in person_rows),
        "staff_messages_stored": len(staff_rows), "staff_messages_not_shown": len(lost_staff),
        "raw_repeats_dropped_by_widget": raw_repeats,
        "staff_to_person_ms": latency_ms(to_person),
        "person_to_staff_ms": latency_ms(to_staff),
        "pickup_wait_s": {q: round(pct(picked, v), 1) for q, v in (("p50", .5), ("p95", .95), ("max", 1.0))}
        if picked else None,
        "chats": dict(statuses), "chats_picked_up": len(picked), "chats_not_resumed": len(unresumed),
        "core_resumes": len(core.resumes),
        "resumed_more_than_once": sum(n > 1 for n in Counter(sender for sender, _ in core.resumes).values()),
        "rss_mb": {k: round(v["rss"] / 1024) for k, v in memory.items()},
        "setup_s": round(t0 - started, 1),
    }
    ok = not (result["person_messages_with_the_number_stored"] or lost_person or doubled_person or lost_staff or lost_to_staff or unresumed
              or result["resumed_more_than_once"] or statuses.get("ended", 0) != args.people)
    result["verdict"] = "no message lost or doubled" if ok else "FAILED: see the counts"
    (HERE / f"results{variant(result)}.json").write_text(json.dumps(result, indent=2) + "\n")
    write_report(result)
    await core.stop()
    engine.dispose()
    drop_database(cleanup)
    print(json.dumps(result, indent=2))
    if not ok:
        sys.exit(1)


def latency_ms(seconds: List[float]) -> Optional[Dict[str, float]]:
    if not seconds:
        return None
    return {q: round(pct(seconds, v) * 1000, 1) for q, v in (("p50", .5), ("p95", .95), ("p99", .99))}


def variant(r: Dict[str, Any]) -> str:
    """The file name's suffix: a run with GIDS_LIVE_LISTEN=0 does not overwrite the main report."""
    return "" if r["listen"] else "-poll"


def write_report(r: Dict[str, Any]) -> None:
    lat = r["staff_to_person_ms"] or {}
    back = r.get("person_to_staff_ms") or {}
    wait = r["pickup_wait_s"] or {}
    lines = [
        "# Live chat under load",
        "",
        f"`nice .venv-svc/bin/python bench/live/run.py --people {r['people']} --staff {r['staff']} "
        f"--exchanges {r['exchanges']}{' --sqlite' if r['database'] == 'sqlite' else ''}"
        f"{'' if r['listen'] else ' --no-listen'}` on {r['when']} "
        f"({r['database']}, the gateway and the console as processes, a core stand-in; 2 cores).",
        "",
        f"**{r['verdict']}.** {r['people']} people waited at once; {r['staff']} staff members took them from the "
        f"queue one after another and exchanged {r['exchanges']} messages each way per chat; "
        f"{r['reconnecting_people']} people dropped their connection halfway and came back; one message in ten "
        f"was sent twice with the same reference.",
        "",
        "| what | figure |",
        "|---|---|",
        f"| duration of the chats | {r['elapsed_s']} s |",
        f"| messages stored | {r['messages_stored']} ({r['messages_per_s']}/s) |",
        f"| person messages sent / stored / lost / doubled | {r['person_messages_sent']} / {r['person_messages_stored']} / "
        f"{r['person_messages_lost']} / {r['person_messages_doubled']} |",
        f"| person messages missing from the staff's event stream / repeats the page dropped by id | "
        f"{r['person_messages_not_in_staff_stream']} / {r['staff_stream_repeats_dropped']} |",
        f"| staff messages stored / not shown to the person | {r['staff_messages_stored']} / {r['staff_messages_not_shown']} |",
        f"| repeats the widget dropped by id (replays after a reconnect) | {r['raw_repeats_dropped_by_widget']} |",
        f"| staff POST → person's screen, p50 / p95 / p99 | {lat.get('p50')} / {lat.get('p95')} / {lat.get('p99')} ms |",
        f"| person's message sent → staff's event stream, p50 / p95 / p99 | {back.get('p50')} / {back.get('p95')} / "
        f"{back.get('p99')} ms |",
        f"| waiting for a staff member, p50 / p95 / max | {wait.get('p50')} / {wait.get('p95')} / {wait.get('max')} s |",
        f"| chats by status | {r['chats']} |",
        f"| core resumed (once per chat) | {r['core_resumes']}, more than once: {r['resumed_more_than_once']} |",
        f"| RSS gateway / console | {r['rss_mb']['gateway']} / {r['rss_mb']['console']} MB |",
        "",
        "On PostgreSQL a stored message wakes the gateway and the console's event streams at once",
        "(LISTEN/NOTIFY, bot/live/wake.py); without it (SQLite, or a listener that lost its connection)",
        "they find it at their next poll of the database: every 0.25 s (gateway) and 0.5 s (console).",
        "Each open console page still reads the queue and the messages at every poll."
        + ("" if r["listen"] else " This run had GIDS_LIVE_LISTEN=0: polling only, for comparison."),
        "",
        f"The wait for a staff member is the queue, not the software: {r['staff']} staff members took "
        f"{r['people']} people one chat at a time, so the last waited for about "
        f"{r['people'] // max(r['staff'], 1)} chats. The people's messages (with a phone number in each) "
        f"are stored redacted: {r.get('person_messages_with_the_number_stored', '?')} stored with the number.",
        "",
    ]
    (HERE / f"REPORT{variant(r)}.md").write_text("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
