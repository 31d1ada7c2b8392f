"""The OpenAPI document matches the real API: every documented operation is a real route,
every CRM/user route is documented, and real responses of every documented operation —
successes and errors — validate against the document's schemas (jsonschema, 2020-12)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import test_api_harness as _harness
import websockets
from aiohttp import ClientResponse, FormData, web
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from test_api_harness import Api, Harness

from ccserver.app import SERVICES, build_app
from ccserver.crm.contacts import ContactService
from ccserver.runtime.scheduler import survey_token
from ccserver.web import openapi
from ccserver.web.sessions import load_or_create_secret

pytestmark = pytest.mark.asyncio(loop_scope="module")
harness = _harness.harness  # the shared fixture

METHODS = ("get", "post", "patch", "put", "delete")


class Conformance:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.covered: set[tuple[str, str]] = set()
        self.statuses: set[tuple[str, str, int]] = set()

    def operations(self) -> set[tuple[str, str]]:
        return {
            (m.upper(), path)
            for path, item in self.spec["paths"].items()
            for m in item
            if m in METHODS
        }

    def check(self, method: str, template: str, r: ClientResponse, body: Any) -> Any:
        operation = self.spec["paths"][template][method.lower()]
        documented = operation["responses"].get(str(r.status))
        assert documented is not None, f"{method} {template} answered undocumented {r.status}"
        content = documented.get("content")
        if content is None:
            assert body == b"", body
        elif r.content_type != "application/json":
            assert r.content_type in content, f"{method} {template}: {r.content_type}"
        else:
            assert "application/json" in content, f"{method} {template}: JSON undocumented"
            schema = {
                **content["application/json"]["schema"],
                "components": self.spec["components"],
            }
            errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
            where = f"{method} {template} {r.status}"
            assert not errors, f"{where}: {errors[0].message} at {list(errors[0].absolute_path)}"
        self.covered.add((method.upper(), template))
        self.statuses.add((method.upper(), template, r.status))
        return body

    async def call(
        self, caller: Api, method: str, template: str, path: str | None = None, **kw: Any
    ) -> tuple[int, Any]:
        r, body = await caller.call(method, path or template, **kw)
        return r.status, self.check(method, template, r, body)


def _app_routes(app: web.Application) -> set[tuple[str, str]]:
    out = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and route.method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            out.add((route.method, path))
    return out


async def test_document_and_routes_agree(tmp_path: Path) -> None:
    """Every /api/v1 route of the whole application (read from its router, so a route
    added by any part shows up here) is documented, and every documented one exists."""
    spec = openapi.document()
    documented = Conformance(spec).operations()
    app = build_app(_harness.make_settings(tmp_path))
    ours = {(m, p) for m, p in _app_routes(app) if p.startswith("/api/v1/")}
    assert len(ours) > 60, ours
    assert ours - documented == set(), "routes missing from the OpenAPI document"
    assert documented - ours == set(), "documented operations that do not exist"
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    # Form schemas come from the models that validate them: the spam trap is documented.
    assert "website" in spec["components"]["schemas"]["CallbackForm"]["properties"]


async def test_real_responses_validate_against_the_document(harness: Harness) -> None:
    anon = harness.anonymous()
    _, spec = await anon.get(openapi.OPENAPI_PATH)
    conf = Conformance(spec)
    await conf.call(anon, "GET", openapi.OPENAPI_PATH)
    bad_login = {"username": "root", "password": "wrong password"}
    assert (await conf.call(anon, "POST", "/api/v1/auth/login", json=bad_login))[0] == 401
    admin = harness.anonymous()
    r, body = await admin.post(
        "/api/v1/auth/login", json={"username": "root", "password": _harness.PASSWORD}
    )
    conf.check("POST", "/api/v1/auth/login", r, body)
    admin.headers = {"X-CSRF-Token": body["csrf_token"]}
    sup, agent = await harness.as_user("sup"), await harness.as_user("alice")
    await conf.call(admin, "GET", "/api/v1/auth/me")

    # --- customers ---
    C = "/api/v1/customers"
    new = {"display_name": "Otto Openapi", "phones": ["+1 617 555 0100"], "emails": ["otto@x.org"]}
    status, otto = await conf.call(agent, "POST", C, json=new)
    assert status == 201
    assert (await conf.call(agent, "POST", C, json=new))[0] == 409
    assert (await conf.call(agent, "POST", C, json={"emails": ["no"]}))[0] == 422
    assert (
        await conf.call(agent, "POST", C, json={"emails": ["x"]}, headers={"X-CSRF-Token": ""})
    )[0] == 403
    status, other = await conf.call(agent, "POST", C, json={"display_name": "Otto Two"})
    assert (await conf.call(anon, "GET", C))[0] == 401
    assert (await conf.call(agent, "GET", C, params={"q": "6175550100"}))[1]["total"] == 1
    assert (await conf.call(agent, "GET", C, params={"offset": "-1"}))[0] == 400
    one = f"{C}/{{id}}"
    status, _ = await conf.call(agent, "GET", one, f"{C}/{otto['id']}")
    assert (await conf.call(agent, "GET", one, f"{C}/nope"))[0] == 404
    status, _ = await conf.call(
        agent,
        "PATCH",
        one,
        f"{C}/{otto['id']}",
        json={"tier": "gold"},
        headers={"If-Match": f'"{otto["id"]}.{otto["version"]}"'},
    )
    assert status == 200
    assert (
        await conf.call(
            agent,
            "PATCH",
            one,
            f"{C}/{otto['id']}",
            json={"tier": "x"},
            headers={"If-Match": f'"{otto["id"]}.{otto["version"]}"'},
        )
    )[0] == 412
    assert (await conf.call(agent, "PATCH", one, f"{C}/{otto['id']}", json={"tier": 5}))[0] == 422
    ident = f"{C}/{{id}}/identities"
    body = {"kind": "chat", "value": "otto#1"}
    assert (await conf.call(agent, "POST", ident, f"{C}/{otto['id']}/identities", json=body))[
        0
    ] == 200
    rm = f"{C}/{{id}}/identities/{{kind}}/{{value}}"
    path = f"{C}/{otto['id']}/identities/chat/{quote('otto#1', safe='')}"
    assert (await conf.call(agent, "DELETE", rm, path))[0] == 200
    assert (await conf.call(agent, "DELETE", rm, path))[0] == 404
    await conf.call(agent, "GET", f"{C}/{{id}}/history", f"{C}/{otto['id']}/history")
    contacts = ContactService(harness.app[SERVICES].require_sessions())
    contact = await contacts.record(
        {
            "interaction_id": "ix-openapi",
            "customer_id": otto["id"],
            "channel": "email",
            "direction": "inbound",
            "started_at": dt.datetime.now(dt.UTC),
            "wait_s": 3.5,
        }
    )
    await contacts.add_message(
        contact.id,
        {"direction": "inbound", "sender": "otto@x.org", "subject": "Hi", "body_text": "Hello"},
    )
    page = (await conf.call(agent, "GET", f"{C}/{{id}}/contacts", f"{C}/{otto['id']}/contacts"))[1]
    assert page["total"] == 1
    merge = f"{C}/{{id}}/merge"
    assert (
        await conf.call(
            agent, "POST", merge, f"{C}/{otto['id']}/merge", json={"other_id": other["id"]}
        )
    )[0] == 403
    assert (
        await conf.call(
            sup, "POST", merge, f"{C}/{otto['id']}/merge", json={"other_id": other["id"]}
        )
    )[0] == 200
    assert (
        await conf.call(
            sup, "POST", merge, f"{C}/{otto['id']}/merge", json={"other_id": other["id"]}
        )
    )[0] == 409

    # --- contacts ---
    await conf.call(agent, "GET", "/api/v1/contacts", params={"customer_id": otto["id"]})
    assert (await conf.call(agent, "GET", "/api/v1/contacts", params={"to": "soon"}))[0] == 400
    detail = (
        await conf.call(agent, "GET", "/api/v1/contacts/{id}", f"/api/v1/contacts/{contact.id}")
    )[1]
    assert detail["messages"][0]["subject"] == "Hi"
    assert (await conf.call(agent, "GET", "/api/v1/contacts/{id}", "/api/v1/contacts/nope"))[
        0
    ] == 404

    # --- orders ---
    ORD = "/api/v1/orders"
    order_in = {
        "order_number": "OA-1",
        "customer_id": otto["id"],
        "ordered_at": "2026-01-01T00:00:00Z",
    }
    status, order = await conf.call(sup, "POST", ORD, json=order_in)
    assert status == 201
    assert (await conf.call(sup, "POST", ORD, json=order_in))[0] == 409
    assert (await conf.call(sup, "POST", ORD, json={"total": "x"}))[0] == 422
    await conf.call(agent, "GET", ORD, params={"customer_id": otto["id"]})
    assert (await conf.call(agent, "GET", ORD, params={"status": "x"}))[0] == 400
    await conf.call(agent, "GET", f"{ORD}/{{id}}", f"{ORD}/{order['id']}")
    await conf.call(sup, "PATCH", f"{ORD}/{{id}}", f"{ORD}/{order['id']}", json={"status": "paid"})
    assert (await conf.call(sup, "PATCH", f"{ORD}/{{id}}", f"{ORD}/nope", json={}))[0] == 404
    rows = [{"order_number": "OA-2", "ordered_at": "2026-01-02T00:00:00Z"}, {"order_number": ""}]
    report = (await conf.call(sup, "POST", f"{ORD}/bulk", json=rows))[1]
    assert report["imported"] == 1 and len(report["errors"]) == 1
    assert (
        await conf.call(
            sup, "POST", f"{ORD}/bulk", data=b"x", headers={"Content-Type": "text/plain"}
        )
    )[0] == 400
    assert (await conf.call(sup, "DELETE", f"{ORD}/{{id}}", f"{ORD}/{order['id']}"))[0] == 204
    assert (await conf.call(sup, "DELETE", f"{ORD}/{{id}}", f"{ORD}/{order['id']}"))[0] == 404

    # --- users and tokens ---
    U = "/api/v1/users"
    assert (await conf.call(agent, "GET", U))[0] == 403
    await conf.call(admin, "GET", U, params={"role": "agent"})
    assert (await conf.call(admin, "GET", U, params={"active": "perhaps"}))[0] == 400
    status, user = await conf.call(
        admin, "POST", U, json={"username": "oa-user", "password": "x" * 12}
    )
    assert status == 201
    assert (await conf.call(admin, "POST", U, json={"username": "oa-user", "password": "x" * 12}))[
        0
    ] == 409
    assert (await conf.call(admin, "POST", U, json={"username": "oa"}))[0] == 422
    await conf.call(admin, "GET", f"{U}/{{id}}", f"{U}/{user['id']}")
    assert (await conf.call(admin, "GET", f"{U}/{{id}}", f"{U}/nope"))[0] == 404
    await conf.call(
        admin, "PATCH", f"{U}/{{id}}", f"{U}/{user['id']}", json={"skills": {"lang.en": 2}}
    )
    me = harness.user_ids["root"]
    assert (await conf.call(admin, "PATCH", f"{U}/{{id}}", f"{U}/{me}", json={"role": "agent"}))[
        0
    ] == 409
    assert (
        await conf.call(admin, "PATCH", f"{U}/{{id}}", f"{U}/{user['id']}", json={"role": "boss"})
    )[0] == 422
    pw = f"{U}/{{id}}/password"
    assert (
        await conf.call(
            admin, "POST", pw, f"{U}/{user['id']}/password", json={"password": "y" * 12}
        )
    )[0] == 204
    assert (await conf.call(admin, "POST", pw, f"{U}/nope/password", json={"password": "y" * 12}))[
        0
    ] == 404
    T = "/api/v1/tokens"
    status, token = await conf.call(
        admin, "POST", T, json={"name": "oa", "scopes": ["customers:read"]}
    )
    assert status == 201
    assert (await conf.call(admin, "POST", T, json={"name": "oa", "scopes": []}))[0] == 422
    await conf.call(admin, "GET", T)
    await conf.call(admin, "DELETE", f"{T}/{{id}}", f"{T}/{token['id']}")
    assert (await conf.call(admin, "DELETE", f"{T}/{{id}}", f"{T}/nope"))[0] == 404

    # --- console, supervisor, administration ---
    ghost = "/api/v1/interactions/no-such-interaction"
    status, _ = await conf.call(agent, "POST", "/api/v1/console/login")
    assert status == 200
    state = {"state": "not_ready", "reason": "break"}
    assert (await conf.call(agent, "POST", "/api/v1/console/state", json=state))[0] == 200
    assert (await conf.call(agent, "POST", "/api/v1/console/state", json={"state": "x"}))[0] == 422
    await conf.call(agent, "GET", "/api/v1/console/snapshot")
    for verb, body in (
        ("accept", None),
        ("reject", None),
        ("control", {"action": "hold"}),
        ("transfer", {"queue": "sales"}),
        ("wrap-up", {"disposition": "resolved"}),
    ):
        template = "/api/v1/interactions/{id}/" + verb
        status, _ = await conf.call(agent, "POST", template, f"{ghost}/{verb}", json=body)
        assert status == 404, (verb, status)
    assert (await conf.call(agent, "GET", "/api/v1/supervisor/wallboard"))[0] == 403
    await conf.call(sup, "GET", "/api/v1/supervisor/wallboard")
    force = "/api/v1/supervisor/agents/{agent_id}/force"
    alice = harness.user_ids["alice"]
    path = f"/api/v1/supervisor/agents/{alice}/force"
    assert (await conf.call(sup, "POST", force, path, json={"state": "logged_out"}))[0] == 200
    assert (await conf.call(sup, "POST", force, path, json={"state": "logged_out"}))[0] == 409
    nobody = "/api/v1/supervisor/agents/nobody/force"
    assert (await conf.call(sup, "POST", force, nobody, json={"state": "logged_out"}))[0] == 404
    sup_ghost = "/api/v1/supervisor/interactions/no-such-interaction"
    monitor = {"mode": "listen"}
    tmpl = "/api/v1/supervisor/interactions/{id}/"
    assert (await conf.call(sup, "POST", tmpl + "monitor", f"{sup_ghost}/monitor", json=monitor))[
        0
    ] == 404
    move = {"queue": "sales"}
    assert (await conf.call(sup, "POST", tmpl + "move", f"{sup_ghost}/move", json=move))[0] == 404
    assert (await conf.call(sup, "POST", "/api/v1/admin/reload"))[0] == 403
    assert (await conf.call(admin, "POST", "/api/v1/admin/reload"))[0] == 200

    params = {"entity": "customer", "entity_id": otto["id"], "action": "read"}
    status, audit = await conf.call(admin, "GET", "/api/v1/audit", params=params)
    assert status == 200 and audit["items"], audit
    assert {e["actor"] for e in audit["items"]} == {harness.user_ids["alice"]}
    assert (await conf.call(sup, "GET", "/api/v1/audit"))[0] == 403
    assert (await conf.call(admin, "GET", "/api/v1/audit", params={"from": "x"}))[0] == 400

    leaving = harness.anonymous()
    await leaving.login("sup")
    assert (await conf.call(leaving, "POST", "/api/v1/auth/logout"))[1] == {"ok": True}
    assert (await conf.call(leaving, "GET", "/api/v1/auth/me"))[0] == 401

    # This harness runs with asterisk.mode = "off": the simulator API answers 404 (its 201
    # answers are validated in tests/e2e/test_call_simulated_from_api.py).
    assert (await conf.call(sup, "GET", "/api/v1/simulator"))[0] == 404
    call = {"caller": "+15551230000"}
    assert (await conf.call(sup, "POST", "/api/v1/simulator/calls", json=call))[0] == 404

    # Reply templates (shipped in config/channels.toml) and the outbound mail queue (its
    # 202/409 answers: tests/integration/test_email_outbound_api.py).
    status, templates = await conf.call(agent, "GET", "/api/v1/email/templates")
    assert status == 200 and "thanks" in {t["name"] for t in templates["templates"]}
    assert (await conf.call(anon, "GET", "/api/v1/email/templates"))[0] == 401
    outbound = "/api/v1/email/outbound"
    assert (await conf.call(sup, "GET", outbound))[0] == 200
    assert (await conf.call(agent, "GET", outbound))[0] == 403
    assert (await conf.call(sup, "GET", outbound, params={"state": "lost"}))[0] == 422
    retry = outbound + "/{id}/retry"
    assert (await conf.call(sup, "POST", retry, f"{outbound}/nope/retry"))[0] == 404

    await _workflows_reports_and_channels(conf, harness, admin)
    assert conf.operations() - conf.covered == set(), "documented operations never exercised"


async def _workflows_reports_and_channels(conf: Conformance, harness: Harness, admin: Api) -> None:
    """Real answers of the workflow, report and channel APIs against their schemas: each
    record answer's schema is derived from its table, so a view and a model drifting apart
    fail here."""
    sup, agent = await harness.as_user("sup"), await harness.as_user("alice")
    C = "/api/v1/customers"
    _, cust = await conf.call(agent, "POST", C, json={"display_name": "Wanda Workflow"})

    # --- complaints ---
    CP = "/api/v1/complaints"
    filed = {
        "customer_id": cust["id"],
        "category": "product",
        "subcategory": "quality",
        "description": "It broke",
        "severity": "high",
    }
    status, complaint = await conf.call(agent, "POST", CP, json=filed)
    assert status == 201 and complaint["status"] == "received" and not complaint["overdue"]
    assert (await conf.call(agent, "POST", CP, json={**filed, "category": "x"}))[0] == 422
    assert (await conf.call(agent, "POST", CP, json={**filed, "customer_id": "nope"}))[0] == 404
    page = (await conf.call(agent, "GET", CP, params={"customer_id": cust["id"]}))[1]
    assert [c["id"] for c in page["items"]] == [complaint["id"]]
    assert (await conf.call(agent, "GET", CP, params={"status": "bogus"}))[0] == 400
    one = f"{CP}/{{id}}"
    assert (await conf.call(agent, "GET", one, f"{CP}/{complaint['id']}"))[1] == complaint
    assert (await conf.call(agent, "GET", one, f"{CP}/nope"))[0] == 404
    att = f"{CP}/{{id}}/attachments"
    form = FormData()
    form.add_field("file", b"photo bytes", filename="../../parcel.jpg", content_type="image/jpeg")
    status, attached = await conf.call(
        agent, "POST", att, f"{CP}/{complaint['id']}/attachments", data=form
    )
    assert status == 201 and (attached["name"], attached["size"]) == ("parcel.jpg", 11)
    dl = att + "/{attachment_id}"
    r, body = await agent.call("GET", f"{CP}/{complaint['id']}/attachments/{attached['id']}")
    conf.check("GET", dl, r, body)
    assert body == b"photo bytes" and r.headers["Content-Disposition"].startswith("attachment")
    missing = f"{CP}/{complaint['id']}/attachments/00000000-0000-7000-8000-000000000000"
    assert (await conf.call(agent, "GET", dl, missing))[0] == 404
    assert (await conf.call(agent, "POST", att, f"{CP}/{complaint['id']}/attachments", json={}))[
        0
    ] == 400
    act = f"{CP}/{{id}}/{{action}}"
    status, acked = await conf.call(
        agent, "POST", act, f"{CP}/{complaint['id']}/acknowledge", json={}
    )
    assert status == 200 and acked["status"] == "acknowledged"
    assert (await conf.call(agent, "POST", act, f"{CP}/{complaint['id']}/explode", json={}))[
        0
    ] == 404
    assert (await conf.call(agent, "POST", act, f"{CP}/{complaint['id']}/close", json={}))[0] in (
        409,
        422,
    )

    # --- follow-ups ---
    FU = "/api/v1/follow-ups"
    plan = {"customer_id": cust["id"], "purpose": "check", "channel": "email"}
    status, fu = await conf.call(agent, "POST", FU, json=plan)
    assert status == 201 and fu["status"] == "planned"
    assert (await conf.call(agent, "POST", FU, json={"purpose": "x"}))[0] == 422
    items = (await conf.call(agent, "GET", FU, params={"customer_id": cust["id"]}))[1]["items"]
    assert fu["id"] in [f["id"] for f in items]
    assert (await conf.call(agent, "GET", FU, params={"due": "perhaps"}))[0] == 400
    assert (await conf.call(agent, "GET", f"{FU}/{{id}}", f"{FU}/{fu['id']}"))[1] == fu
    assert (await conf.call(agent, "GET", f"{FU}/{{id}}", f"{FU}/nope"))[0] == 404
    fact = f"{FU}/{{id}}/{{action}}"
    status, started = await conf.call(agent, "POST", fact, f"{FU}/{fu['id']}/cancel", json={})
    assert status == 200 and started["status"] == "cancelled"
    assert (await conf.call(agent, "POST", fact, f"{FU}/{fu['id']}/start", json={}))[0] == 409
    bulk = {"purpose": "winback", "tier": "no-such-tier"}
    assert (await conf.call(agent, "POST", f"{FU}/bulk", json=bulk))[0] == 403
    status, planned = await conf.call(sup, "POST", f"{FU}/bulk", json=bulk)
    assert status == 201 and planned["planned"] == 0

    # --- surveys ---
    SV = "/api/v1/surveys"
    status, answer = await conf.call(
        agent, "POST", f"{SV}/responses", json={"customer_id": cust["id"], "csat": 1}
    )
    assert status == 201 and answer["follow_up"] is not None  # a detractor
    assert (await conf.call(agent, "POST", f"{SV}/responses", json={"nps": 11}))[0] == 422
    status, csi = await conf.call(agent, "GET", f"{SV}/csi")
    assert status == 200 and csi["responses"] >= 1
    assert (await conf.call(agent, "GET", f"{SV}/csi", params={"since": "x"}))[0] == 400
    anon, public = harness.anonymous(), f"{SV}/public/{{token}}"
    assert (await conf.call(anon, "POST", public, f"{SV}/public/bogus.token", json={}))[0] == 404
    secret = load_or_create_secret(harness.app[SERVICES].settings.server.data_dir / "secret_key")
    link = f"{SV}/public/{survey_token(secret, answer['follow_up']['id'])}"
    status, thanks = await conf.call(anon, "POST", public, link, json={"csat": 4})
    assert status == 201 and thanks["thanks"] is True
    assert (await conf.call(anon, "POST", public, link, json={"csat": 4}))[0] == 409

    # --- privacy, segmentation, reports, options ---
    P = "/api/v1/privacy/customers/{id}"
    assert (await conf.call(agent, "GET", P + "/export", f"{P[:-5]}/{cust['id']}/export"))[0] == 403
    status, export = await conf.call(admin, "GET", P + "/export", f"{P[:-5]}/{cust['id']}/export")
    assert status == 200 and export["customer"]["id"] == cust["id"]
    assert (await conf.call(admin, "GET", P + "/export", f"{P[:-5]}/nope/export"))[0] == 404
    status, erased = await conf.call(admin, "POST", P + "/erase", f"{P[:-5]}/{cust['id']}/erase")
    # The complaint's photo (uploaded above) is deleted with the customer's data.
    assert status == 200 and erased == {"id": cust["id"], "erased": True, "files_removed": 1}
    r, _ = await agent.call("GET", f"{CP}/{complaint['id']}/attachments/{attached['id']}")
    assert r.status == 404
    assert (await conf.call(admin, "POST", P + "/erase", f"{P[:-5]}/nope/erase"))[0] == 404
    status, seg = await conf.call(sup, "POST", "/api/v1/segmentation/recompute")
    assert status == 200 and seg["customers"] >= 1
    K = "/api/v1/reports/kpis"
    status, report = await conf.call(sup, "GET", K, params={"by": "day,queue"})
    assert status == 200 and report["by"] == ["day", "queue"]
    status, csv = await conf.call(sup, "GET", K, params={"format": "csv"})
    assert status == 200 and isinstance(csv, bytes)
    assert (await conf.call(sup, "GET", K, params={"by": "planet"}))[0] == 400
    assert (await conf.call(agent, "GET", K))[0] == 403
    status, options = await conf.call(agent, "GET", "/api/v1/ui/crm-options")
    assert "product" in options["categories"]

    # --- channel APIs (no live interaction: the error answers are documented too) ---
    F = "/api/v1/forms/{kind}"
    contact_form = {"name": "Fay", "email": "fay@x.org", "subject": "Hi", "message": "Hello"}
    status, got = await conf.call(anon, "POST", F, "/api/v1/forms/contact", json=contact_form)
    assert status in (201, 202) and got["status"] == "received"
    assert (await conf.call(anon, "POST", F, "/api/v1/forms/contact", json={}))[0] == 422
    assert (await conf.call(anon, "POST", F, "/api/v1/forms/nope", json={}))[0] == 404
    ghost = "no-such-interaction"
    for caller, method, template, body in (
        (agent, "POST", "/api/v1/interactions/{id}/chat", {"text": "hi"}),
        (agent, "POST", "/api/v1/interactions/{id}/email-reply", {"body": "hi"}),
        (sup, "POST", "/api/v1/supervisor/interactions/{id}/whisper", {"text": "hi"}),
        (sup, "GET", "/api/v1/supervisor/interactions/{id}/chat", None),
    ):
        path = template.replace("{id}", ghost)
        assert (await conf.call(caller, method, template, path, json=body))[0] == 404, template
    await _chat_file(conf, harness, sup)


async def _chat_file(conf: Conformance, harness: Harness, sup: Api) -> None:
    """A file a chat customer sent (over the widget's socket and POST /chat/upload), read
    back by a supervisor: the 200 is a binary download; a ghost is 404, no login 401."""
    url = str(harness.server.make_url("/chat/ws")).replace("http://", "ws://")
    start = {"name": "Otto File", "email": "otto.file@example.org", "consent": True}
    async with websockets.connect(url) as ws, asyncio.timeout(15):
        await ws.send(json.dumps({"type": "start", "data": start}))
        while (frame := json.loads(await ws.recv()))["type"] != "session":
            pass
        form = FormData()
        form.add_field("chat_id", frame["data"]["chat_id"])
        form.add_field("token", frame["data"]["token"])
        form.add_field("file", b"receipt", filename="receipt.txt", content_type="text/plain")
        r, line = await harness.anonymous().call("POST", "/chat/upload", data=form)
        assert r.status == 201, line
    files = "/api/v1/interactions/{id}/files/{file_id}"
    r, body = await sup.call("GET", line["url"])
    conf.check("GET", files, r, body)
    assert body == b"receipt" and r.headers["Content-Disposition"].startswith("attachment")
    ghost = files.format(
        id=frame["data"]["chat_id"], file_id="00000000-0000-7000-8000-0000000000f0"
    )
    assert (await conf.call(sup, "GET", files, ghost))[0] == 404
    assert (await conf.call(harness.anonymous(), "GET", files, line["url"]))[0] == 401
    # The agent's file (its 201 is validated in tests/integration/test_chat_agent_files.py:
    # this chat is still in the IVR, no agent's): not hers, no chat, no login.
    sends, chat = "/api/v1/interactions/{id}/files", frame["data"]["chat_id"]
    agent = await harness.as_user("alice")
    for caller, iid, status in (
        (agent, chat, 403),
        (agent, "ghost", 404),
        (harness.anonymous(), chat, 401),
    ):
        form = FormData()
        form.add_field("file", b"terms", filename="terms.txt", content_type="text/plain")
        path = sends.format(id=iid)
        assert (await conf.call(caller, "POST", sends, path, data=form))[0] == status, iid
