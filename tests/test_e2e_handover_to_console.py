"""The whole path: a conversation with the trained model and the real action server ends in a
handover; the worker notifies the partner's webhook (https on 127.0.0.1, allowed and trusted as an
administrator would, signed with the partner's own secret); the handover is in the staff
console for the partner and the region's Werkcentrum, and for nobody else."""
from __future__ import annotations

import json
import ssl
import time
import uuid

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.db import make_engine, session_scope
from bot.db.models import Handover, Partner
from bot.handover.notify import partner_webhook_secret, verify_webhook
from bot.handover.outbox import deliver_due
from tests.conftest import free_port
from tests.handover.conftest import tls_cert  # noqa: F401  (a fixture)
from tests.console.conftest import add_staff, console, login

pytestmark = pytest.mark.model

PARTNER = "gemeente-GM0193"  # Zwolle, arbeidsmarktregio AM36


MASTER_SECRET = "e2e-master-secret"


@pytest.fixture
async def partner_webhook(tls_cert, monkeypatch):  # noqa: F811
    monkeypatch.setenv("GIDS_WEBHOOK_ALLOW", "127.0.0.1")
    monkeypatch.setenv("GIDS_WEBHOOK_CA_FILE", str(tls_cert[0]))
    monkeypatch.setenv("GIDS_WEBHOOK_SECRET", MASTER_SECRET)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls_cert[0]), str(tls_cert[1]))
    received = []

    async def hook(request):
        received.append((dict(request.headers), await request.read()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    yield f"https://127.0.0.1:{port}/hook", received
    await runner.cleanup()


async def test_conversation_to_partner_to_console(agent, actions_db_url, partner_webhook):
    url, received = partner_webhook
    engine = make_engine(actions_db_url)
    try:
        with session_scope(engine) as s:
            s.get(Partner, PARTNER).handover_webhook = url
        sender = f"e2e-{uuid.uuid4().hex}"
        for line in ("hoi", "ik heb schulden en mijn iban is NL91ABNA0417164300", "Zwolle", "/affirm",
                     "Sanne de Boer", "Bel me", "06 12345678"):
            out = await agent.handle_text(line, sender_id=sender)
        with session_scope(engine) as s:
            h = s.scalars(select(Handover).where(Handover.conversation_id == sender)).one()
            reference = h.reference
        assert any(reference in (m.get("text") or "") for m in out)

        # The worker's delivery round: the partner's webhook gets the handover once.
        result = await deliver_due(engine)
        assert result["sent"] >= 1
        mine = [(hdr, raw) for hdr, raw in received if json.loads(raw)["reference"] == reference]
        assert len(mine) == 1
        headers, raw = mine[0]
        body = json.loads(raw)
        assert headers.get("Idempotency-Key")
        assert verify_webhook(partner_webhook_secret(MASTER_SECRET, PARTNER), headers["X-Gids-Timestamp"], raw,
                              headers["X-Gids-Signature"], time.time())
        assert body["contact"] == {"name": "Sanne de Boer", "method": "phone", "value": "+31612345678"}
        said = " ".join(line["text"] for line in body["transcript"])
        assert "NL91ABNA0417164300" not in said and "[IBAN]" in said
        await deliver_due(engine)
        assert len([1 for _, b in received if json.loads(b)["reference"] == reference]) == 1

        # The console: the partner and the region's Werkcentrum see it, the others do not.
        suffix = uuid.uuid4().hex[:6]
        who = {f"zwolle-{suffix}": ("partner", {"partner": PARTNER}, True),
               f"uwv-{suffix}": ("partner", {"partner": "uwv"}, False),
               f"wc36-{suffix}": ("werkcentrum", {"region": "AM36"}, True),
               f"wc01-{suffix}": ("werkcentrum", {"region": "AM01"}, False),
               f"admin-{suffix}": ("admin", {}, True)}
        for username, (role, scope, sees) in who.items():
            add_staff(engine, username, role, **scope)
            async with console(engine) as client:
                await login(client, username)
                inbox = await (await client.get("/")).text()
                page = await client.get(f"/handovers/{reference}")
                export = await client.get(f"/handovers/{reference}.json")
                assert (reference in inbox) is sees, username
                assert page.status == (200 if sees else 404), username
                assert export.status == (200 if sees else 404), username
                if sees:
                    text = await page.text()
                    assert "Sanne de Boer" in text and "NL91ABNA0417164300" not in text
    finally:
        engine.dispose()
