"""The OpenAPI document matches the real API: every documented operation is a real route,
every CRM/user route is documented, and real responses of every documented operation —
successes and errors — validate against the document's schemas (jsonschema, 2020-12)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest
import test_api_harness as _harness
from aiohttp import ClientResponse, web
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from test_api_harness import Api, Harness

from ccserver.app import SERVICES
from ccserver.crm.contacts import ContactService
from ccserver.web import auth, openapi, routes_admin, routes_console, routes_crm

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
        else:
            assert r.content_type == "application/json"
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


async def test_document_and_routes_agree() -> None:
    spec = openapi.document()
    documented = Conformance(spec).operations()
    app = web.Application()
    routes_crm.add_routes(app)
    routes_console.add_routes(app)
    routes_admin.add_routes(app)
    auth.add_routes(app)
    ours = _app_routes(app)
    assert ours - documented == set(), "routes missing from the OpenAPI document"
    assert documented - ours == set(), "documented operations that do not exist"
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


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

    assert conf.operations() - conf.covered == set(), "documented operations never exercised"
