"""The gateway's cost per turn: the same conversation turns sent through the gateway's REST
endpoint and straight to the core's internal channel, one at a time, on this machine.

    nice .venv-svc/bin/python bench/gateway/overhead.py [--turns 60]

Starts its own action server, core and gateway on free 127.0.0.1 ports (SQLite in a temporary
folder) and writes bench/gateway/REPORT.md."""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
LINES = ["hoi", "ik heb schulden", "Zwolle", "nee", "doei"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url: str, timeout: float = 400) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"{url} did not come up")


def post(url: str, body: dict, headers: dict) -> tuple:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", **headers})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as r:
        answer = json.load(r), dict(r.headers)
    return (time.perf_counter() - start) * 1000, answer


def pct(values, q):
    """The q-quantile (0..1) of values, by the nearest index; 0.0 for none."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else 0.0


def measure(gateway: str, core: str, token: str, turns: int) -> dict:
    """Turn i of a conversation through the gateway, then turn i of another one straight to the
    core, alternating, so that both routes see the same load of the machine."""
    times: dict = {"gateway": [], "core": []}
    conversations = max(1, turns // len(LINES))
    for i in range(conversations + 1):          # the first conversation is a warm-up
        conversation = None
        for line in LINES:
            ms, (_, headers) = post(gateway, {"message": line, **({"sender": conversation} if conversation else {})}, {})
            conversation = headers.get("X-Gids-Conversation")
            direct_ms, _ = post(core, {"sender": f"bench-direct-{i}", "message": line, "channel": "rest"},
                                {"Authorization": f"Bearer {token}"})
            if i:
                times["gateway"].append(ms)
                times["core"].append(direct_ms)
    return times


def stub_core(port: int) -> None:
    """Answers the internal channel at once, with the token check the real one does."""
    from aiohttp import web

    async def turn(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer bench-core":
            return web.json_response({}, status=401)
        body = await request.json()
        return web.json_response({"messages": [{"recipient_id": body["sender"], "text": "Hoi! Waar kan ik je mee helpen?"}]})

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/webhooks/gateway/webhook", turn)
    app.router.add_get("/webhooks/gateway/", health)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def row(route: str, values: list) -> str:
    return (f"| {route} | {len(values)} | {statistics.median(values):.1f} | {pct(values, 0.95):.1f} | "
            f"{statistics.mean(values):.1f} |")


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--stub-core":
        stub_core(int(sys.argv[2]))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=60, help="turns per route (whole conversations of 5)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gids-bench-"))
    env = {**os.environ, "GIDS_CORE_TOKEN": "bench-core", "GIDS_ACTION_TOKEN": "bench-actions",
           "GIDS_GATEWAY_SECRET": "bench", "GIDS_REST_RATE_PER_MINUTE": "60000",
           "DATABASE_URL": f"sqlite:///{work / 'gids.db'}", "TF_CPP_MIN_LOG_LEVEL": "3"}
    svc, core_bin = ROOT / ".venv-svc" / "bin", ROOT / ".venv" / "bin"
    subprocess.run([svc / "gids", "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([svc / "gids", "routing", "seed"], env=env, check=True, capture_output=True)
    ports = {k: free_port() for k in ("actions", "core", "gateway")}
    (work / "endpoints.yml").write_text(json.dumps({
        "action_endpoint": {"url": f"http://127.0.0.1:{ports['actions']}/webhook",
                            "headers": {"Authorization": "Bearer bench-actions"}},
        "tracker_store": {"type": "bot.privacy.tracker_store.RedactingSQLTrackerStore", "dialect": "sqlite",
                          "db": str(work / "tracker.db")}}))
    procs = []
    log = open(work / "servers.log", "w")
    try:
        procs.append(subprocess.Popen([svc / "gids", "actions", "--port", str(ports["actions"])], env=env,
                                      stdout=log, stderr=log, cwd=ROOT))
        procs.append(subprocess.Popen([core_bin / "rasa", "run", "--model", ROOT / "models/gids.tar.gz",
                                       "--endpoints", work / "endpoints.yml", "--credentials", ROOT / "credentials.yml",
                                       "--interface", "127.0.0.1", "--port", str(ports["core"])],
                                      env=env, stdout=log, stderr=log, cwd=ROOT))
        procs.append(subprocess.Popen([svc / "gids", "gateway", "--port", str(ports["gateway"])],
                                      env={**env, "GIDS_CORE_URL": f"http://127.0.0.1:{ports['core']}"},
                                      stdout=log, stderr=log, cwd=ROOT))
        wait(f"http://127.0.0.1:{ports['gateway']}/health")
        gateway = f"http://127.0.0.1:{ports['gateway']}/webhooks/rest/webhook"
        core = f"http://127.0.0.1:{ports['core']}/webhooks/gateway/webhook"
        times = measure(gateway, core, "bench-core", args.turns)
        # The gateway's own cost without NLU noise: the same gateway in front of a core stand-in
        # that answers at once (the internal channel's contract, bot/core/channel.py).
        stub_port, gw2_port = free_port(), free_port()
        procs.append(subprocess.Popen([sys.executable, __file__, "--stub-core", str(stub_port)], stdout=log, stderr=log))
        procs.append(subprocess.Popen([svc / "gids", "gateway", "--port", str(gw2_port)],
                                      env={**env, "GIDS_CORE_URL": f"http://127.0.0.1:{stub_port}"},
                                      stdout=log, stderr=log, cwd=ROOT))
        wait(f"http://127.0.0.1:{gw2_port}/health")
        stub_times = measure(f"http://127.0.0.1:{gw2_port}/webhooks/rest/webhook",
                             f"http://127.0.0.1:{stub_port}/webhooks/gateway/webhook", "bench-core", args.turns * 5)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    overhead50 = statistics.median(times["gateway"]) - statistics.median(times["core"])
    overhead95 = pct(times["gateway"], 0.95) - pct(times["core"], 0.95)
    own50 = statistics.median(stub_times["gateway"]) - statistics.median(stub_times["core"])
    own95 = pct(stub_times["gateway"], 0.95) - pct(stub_times["core"], 0.95)
    report = f"""# The gateway's cost per turn

`nice .venv-svc/bin/python bench/gateway/overhead.py --turns {args.turns}` on this machine
({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end), {time.strftime('%Y-%m-%d')}. Conversations of five turns ({', '.join(LINES)}),
one turn at a time, alternating turn by turn between the two routes so both see the same load; the first
conversation of each route is a warm-up and not counted. "gateway" is the gateway's REST endpoint (id
check, caps, rate limit, per-conversation lock, the internal call); "core" is the core's internal channel
called directly.

## With the real core (trained model, action server, SQLite stores)

| route | turns | p50 ms | p95 ms | mean ms |
|---|---|---|---|---|
{row("gateway", times["gateway"])}
{row("core", times["core"])}

Gateway minus core: p50 {overhead50:+.1f} ms, p95 {overhead95:+.1f} ms per turn. The turn itself (NLU,
policies, actions) varies far more than the gateway costs, so this difference is mostly noise.

## The gateway's own cost (a core stand-in that answers at once)

| route | turns | p50 ms | p95 ms | mean ms |
|---|---|---|---|---|
{row("gateway", stub_times["gateway"])}
{row("core stand-in", stub_times["core"])}

The gateway adds p50 {own50:+.1f} ms and p95 {own95:+.1f} ms per turn (one extra HTTP hop on 127.0.0.1 and
its checks).
"""
    (ROOT / "bench" / "gateway" / "REPORT.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
