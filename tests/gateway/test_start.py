"""The stack as the README starts it (./start.sh): the gateway answers, and the core and the action
server listen on 127.0.0.1 only, so no other address can reach them."""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.model


def listening(port: int) -> set:
    """The local addresses that listen on ``port`` (from the kernel's socket tables)."""
    found = set()
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:
                continue
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word in host (little-endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(str(ipaddress.ip_address(raw)))
    return found


def test_listening_reads_the_kernel_tables():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert listening(s.getsockname()[1]) == {"127.0.0.1"}
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        s.listen()
        assert listening(s.getsockname()[1]) == {"0.0.0.0"}


def test_start_sh_exposes_only_the_gateway_console_and_demo_page():
    ports = {name: free_port() for name in ("GATEWAY", "CORE", "ACTIONS", "CONSOLE", "WEBCHAT")}
    env = {**os.environ, **{f"GIDS_{name}_PORT": str(port) for name, port in ports.items()}}
    proc = subprocess.Popen(["bash", "start.sh"], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
    try:
        deadline = time.time() + 420
        while True:
            try:
                with urllib.request.urlopen(gateway + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            assert time.time() < deadline, "start.sh did not come up in 7 minutes"
            time.sleep(2)
        # Internal: only on the loopback address. The gateway too by default (a reverse proxy in
        # front, or GIDS_PUBLIC_HOST=0.0.0.0 on a server of its own).
        for name in ("CORE", "ACTIONS", "GATEWAY", "CONSOLE", "WEBCHAT"):
            assert listening(ports[name]) == {"127.0.0.1"}, name
        # The core has no HTTP API: no tracker to read, no REST to write to.
        core = f"http://127.0.0.1:{ports['CORE']}"
        for path in ("/conversations/31612345678/tracker", "/webhooks/rest/webhook"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(core + path, data=b"{}"), timeout=10)
            assert refused.value.code in (404, 405)
        # The action server refuses a forged call without the token.
        actions = f"http://127.0.0.1:{ports['ACTIONS']}/webhook"
        forged = json.dumps({"next_action": "action_create_handover", "sender_id": "x", "tracker": {},
                             "domain": {}}).encode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(actions, data=forged,
                                                          headers={"Content-Type": "application/json"}), timeout=10)
        assert refused.value.code == 401
        # And a person gets answers through the gateway.
        request = urllib.request.Request(gateway + "/webhooks/rest/webhook", data=b'{"message": "ik heb schulden"}',
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as r:
            assert any("schulden" in (a.get("text") or "") for a in json.load(r))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    time.sleep(1)
    assert all(not listening(port) for port in ports.values())
