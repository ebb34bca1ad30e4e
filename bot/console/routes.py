"""The console's URL map: which handler answers which path. The pages are in views.py, the
partner API (/api/v1, documented in openapi.yaml) in api.py."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from . import api, live, views
from .common import OPENAPI

STATIC = Path(__file__).resolve().parent / "static"
REF = r"{reference:WC-[0-9]{4}-[0-9]{6,12}}"
HANDOVER_ACTIONS = ("claim", "note", "forward", "close")
CHANGE_ACTIONS = ("approve", "reject")


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/login", views.login_page, name="login")
    r.add_post("/login", views.login_submit)
    r.add_post("/logout", views.logout, name="logout")
    r.add_get("/", views.inbox, name="inbox")
    r.add_get(f"/handovers/{REF}.json", views.export_json, name="export")
    r.add_get(f"/handovers/{REF}/print", views.print_page, name="print")
    r.add_get(f"/handovers/{REF}", views.handover_page, name="handover")
    for action in HANDOVER_ACTIONS:
        r.add_post(f"/handovers/{REF}/{action}", views.handover_action)
    r.add_get("/trends", views.trends_page, name="trends")
    r.add_get("/partner", views.partner_page, name="partner")
    r.add_post("/partner", views.partner_propose)
    r.add_get("/changes", views.changes_page, name="changes")
    for action in CHANGE_ACTIONS:
        r.add_post(f"/changes/{{id:[0-9]{{1,9}}}}/{action}", views.change_decision)
    r.add_get("/coverage", views.coverage_page, name="coverage")
    live.setup(app)

    app[OPENAPI] = api.load_document()
    r.add_get(f"{api.PREFIX}/openapi.json", api.openapi)
    r.add_get(f"{api.PREFIX}/handovers", api.list_handovers)
    r.add_get(f"{api.PREFIX}/handovers/{{reference}}", api.get_handover)
    r.add_post(f"{api.PREFIX}/handovers/{{reference}}/claim", api.claim_handover)
    r.add_post(f"{api.PREFIX}/handovers/{{reference}}/close", api.close_handover)

    # Versioned URLs (?v=hash), so a new CSS file is never mixed with a cached old one.
    r.add_static("/static/", STATIC, name="static", append_version=True)
