"""The partner JSON API, held against its OpenAPI document: routes both ways, and every answer
the tests get validated against the documented schema for its status."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta

import jsonschema
import pytest
import yaml
from sqlalchemy import select

from bot.console import api, auth
from bot.db import session_scope
from bot.db.models import Handover
from bot.handover import utcnow

from .conftest import CONTACT_NAME, SECRET, add_handover, add_staff, audit_rows, console, login

DOC = yaml.safe_load(api.OPENAPI_FILE.read_text(encoding="utf-8"))
BASE = DOC["servers"][0]["url"]


def _to_json_schema(node):
    """OpenAPI 3.0 schema objects are JSON Schema plus `nullable`; turn that into a null type."""
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable") and "type" in node:
        out["type"] = [node["type"], "null"]
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
    return out


COMPONENTS = _to_json_schema(copy.deepcopy(DOC["components"]))
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None  # the API promises UTC with its offset


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = DOC["components"][section][name]
    return node


async def checked(resp, template: str, method: str):
    """The answer's status must be documented for this operation, and its body match the schema."""
    operation = DOC["paths"][template[len(BASE):]][method]
    responses = operation["responses"]
    assert str(resp.status) in responses, f"{method.upper()} {template}: status {resp.status} not documented"
    documented = _resolve(responses[str(resp.status)])
    schema = documented["content"]["application/json"]["schema"]
    body = await resp.json()
    jsonschema.validate(body, {**_to_json_schema(schema), "components": COMPONENTS},
                        cls=jsonschema.Draft7Validator, format_checker=FORMATS)
    return body


def test_every_api_route_is_documented_and_every_documented_route_exists():
    from bot.console import make_app
    app = make_app(engine=_unused_engine(), secret=SECRET)
    served = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/api/") and route.method != "HEAD":
            served.add((route.method.lower(), path))
    documented = {(method, BASE + path) for path, item in DOC["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert served == documented
    assert len(served) == 5


def _unused_engine():
    from sqlalchemy import create_engine
    return create_engine("sqlite://", future=True)


def test_the_document_is_valid_openapi_3_0_shape():
    assert DOC["openapi"].startswith("3.0.")
    for name, schema in COMPONENTS["schemas"].items():
        jsonschema.Draft7Validator.check_schema(schema)
    # Every $ref points somewhere.
    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)
    for ref in refs(DOC):
        _resolve({"$ref": ref})


def _token(engine, partner_id: str) -> dict:
    with session_scope(engine) as session:
        _, token = auth.add_token(session, partner_id, "test")
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_are_required_and_checked(engine):
    headers = _token(engine, "uwv")
    with session_scope(engine) as session:
        row, revoked = auth.add_token(session, "uwv")
        auth.revoke_token(session, row.id)
    url = f"{BASE}/handovers"
    async with console(engine) as client:
        resp = await client.get(url)
        assert resp.status == 401 and (await checked(resp, url, "get"))["error"] == "missing_token"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        for value in ("Basic dXNlcjpwdw==", "Bearer", "Bearer gids_wrong", f"Bearer {revoked}",
                      "Bearer " + "x" * 5000):
            resp = await client.get(url, headers={"Authorization": value})
            assert resp.status == 401, value
            assert (await checked(resp, url, "get"))["error"] == "invalid_token"
        resp = await client.get(url, headers=headers)
        assert resp.status == 200
        await checked(resp, url, "get")
        resp = await client.get(f"{BASE}/openapi.json")
        assert resp.status == 200 and (await resp.json())["openapi"].startswith("3.0")
        # Cookies are no way in: a logged-in console session does not open the API.
        add_staff(engine, "anna", "admin")
        await login(client, "anna")
        resp = await client.get(url)
        assert resp.status == 401


async def test_list_with_filters(engine):
    headers = _token(engine, "uwv")
    now = utcnow()
    old = add_handover(engine, partner_id="uwv", region_code="AM01", created_at=now - timedelta(days=10))
    new = add_handover(engine, partner_id="uwv", region_code="AM01", created_at=now - timedelta(hours=1))
    add_handover(engine, partner_id="sbb", region_code="AM01")
    url = f"{BASE}/handovers"
    async with console(engine) as client:
        async def refs(query: str = "") -> list:
            resp = await client.get(url + query, headers=headers)
            assert resp.status == 200, query
            return [h["reference"] for h in (await checked(resp, url, "get"))["handovers"]]
        assert await refs() == [old, new]  # oldest change first
        await client.post(f"{url}/{old}/claim", headers=headers)
        assert await refs() == [new, old]  # claiming changed it
        assert await refs("?status=new") == [new]
        assert await refs("?status=claimed,closed") == [old]
        since = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert await refs(f"?since={since}&status=new") == [new]
        assert await refs(f"?since={(now - timedelta(days=2)).date().isoformat()}&status=new") == [new]
        assert await refs("?since=2999-01-01") == []
        resp = await client.get(url + "?limit=1", headers=headers)
        body = await checked(resp, url, "get")
        assert (body["count"], body["more"]) == (1, True)
        listed = body["handovers"][0]
        assert "transcript" not in listed and listed["contact"]["name"] == CONTACT_NAME

        for query, word in (("?status=open", "status"), ("?since=yesterday", "since"), ("?limit=0", "limit"),
                            ("?limit=501", "limit"), ("?limit=ten", "limit"), ("?sort=new", "sort")):
            resp = await client.get(url + query, headers=headers)
            assert resp.status == 400, query
            body = await checked(resp, url, "get")
            assert body["error"] == "bad_filter" and word in body["message"]
    lists = audit_rows(engine, action="list")
    assert lists and {e["actor"] for e in lists} == {"api:uwv"}


async def test_get_claim_and_close_are_idempotent_and_logged(engine):
    headers = _token(engine, "uwv")
    ref = add_handover(engine, partner_id="uwv", region_code="AM01")
    one = f"{BASE}/handovers/{{reference}}"
    async with console(engine) as client:
        resp = await client.get(f"{BASE}/handovers/{ref}", headers=headers)
        body = await checked(resp, one, "get")
        assert body["reference"] == ref and body["status"] == "new"
        assert [line["speaker"] for line in body["transcript"]] == ["persoon", "gids"]

        first = await checked(await client.post(f"{BASE}/handovers/{ref}/claim", headers=headers), one + "/claim", "post")
        again = await checked(await client.post(f"{BASE}/handovers/{ref}/claim", headers=headers), one + "/claim", "post")
        assert (first["changed"], again["changed"]) == (True, False)
        assert first["handover"]["status"] == again["handover"]["status"] == "claimed"
        assert first["handover"]["claimed_at"] == again["handover"]["claimed_at"] is not None

        first = await checked(await client.post(f"{BASE}/handovers/{ref}/close", headers=headers), one + "/close", "post")
        again = await checked(await client.post(f"{BASE}/handovers/{ref}/close", headers=headers), one + "/close", "post")
        assert (first["changed"], again["changed"]) == (True, False)
        assert first["handover"]["closed_at"] == again["handover"]["closed_at"] is not None

        resp = await client.post(f"{BASE}/handovers/{ref}/claim", headers=headers)
        assert resp.status == 409
        assert (await checked(resp, one + "/claim", "post"))["error"] == "closed"

        resp = await client.get(f"{BASE}/handovers/WC-2026-999999", headers=headers)
        assert resp.status == 404 and (await checked(resp, one, "get"))["error"] == "not_found"
        resp = await client.delete(f"{BASE}/handovers/{ref}", headers=headers)
        assert resp.status == 405 and (await resp.json())["error"] == "method_not_allowed"
        resp = await client.get(f"{BASE}/nothing-here", headers=headers)
        assert resp.status == 404 and resp.content_type == "application/json"
    with session_scope(engine) as session:
        h = session.execute(select(Handover).where(Handover.reference == ref)).scalar_one()
        assert h.status == "closed" and h.claimed_by is None
    trail = [(e["action"], e["actor"], e["detail"]) for e in audit_rows(engine, reference=ref)]
    assert trail == [("view", "api:uwv", ""), ("claim", "api:uwv", ""),
                     ("claim", "api:uwv", "niet gewijzigd: status claimed"), ("close", "api:uwv", ""),
                     ("close", "api:uwv", "niet gewijzigd: al afgesloten"),
                     ("claim", "api:uwv", "niet gewijzigd: status closed")]


async def test_schema_check_catches_a_wrong_shape(engine):
    """The checker itself must be able to fail: a field the document does not know is refused."""
    headers = _token(engine, "uwv")
    ref = add_handover(engine, partner_id="uwv")
    async with console(engine) as client:
        resp = await client.get(f"{BASE}/handovers/{ref}", headers=headers)
        body = await resp.json()
    schema = {"$ref": "#/components/schemas/Handover", "components": COMPONENTS}
    jsonschema.validate(body, schema, cls=jsonschema.Draft7Validator, format_checker=FORMATS)
    broken = {**body, "secret_field": 1}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema, cls=jsonschema.Draft7Validator, format_checker=FORMATS)
    for wrong in ({"created_at": "gisteren"}, {"status": "open"}, {"claimed_at": 5}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**body, **wrong}, schema, cls=jsonschema.Draft7Validator,
                                format_checker=FORMATS)
