"""Security of the REST API: CSRF on cookie requests, login throttling, role checks on
every endpoint, API tokens and their scopes, and hostile request bodies."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import test_api_harness as _harness
from test_api_harness import PASSWORD, Harness, error_of

from ccserver.app import SERVICES
from ccserver.crm.audit import AuditLog

pytestmark = pytest.mark.asyncio(loop_scope="module")
fresh = _harness.fresh  # the shared fixture
harness = _harness.harness  # the shared fixture


async def test_cookie_posts_need_the_csrf_token(harness: Harness) -> None:
    agent = await harness.as_user("alice")
    csrf = agent.headers
    agent.headers = {}
    try:
        r, body = await agent.post("/api/v1/customers", json={"display_name": "No Csrf"})
        assert r.status == 403 and error_of(body)["code"] == "csrf_failed"
        r, body = await agent.post(
            "/api/v1/customers", json={"display_name": "Bad Csrf"}, headers={"X-CSRF-Token": "x"}
        )
        assert r.status == 403
        r, body = await agent.get("/api/v1/customers?q=No")  # reads need no token
        assert r.status == 200 and body["total"] == 0
    finally:
        agent.headers = csrf
    r, body = await agent.post("/api/v1/customers", json={"display_name": "With Csrf"})
    assert r.status == 201


async def test_failed_logins_are_throttled(fresh: Harness) -> None:
    caller = fresh.anonymous()
    for _ in range(5):
        r, body = await caller.post(
            "/api/v1/auth/login", json={"username": "alice", "password": "wrong password"}
        )
        assert r.status == 401
    # Even the right password is refused until the window passes.
    r, body = await caller.post(
        "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}
    )
    assert r.status == 429 and error_of(body)["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) > 0


ADMIN_ONLY: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"username": "mallory", "password": "x" * 12, "role": "admin"}),
    ("GET", "/api/v1/users/{alice}", None),
    ("PATCH", "/api/v1/users/{alice}", {"role": "admin"}),
    ("POST", "/api/v1/users/{alice}/password", {"password": "y" * 12}),
    ("GET", "/api/v1/tokens", None),
    ("POST", "/api/v1/tokens", {"name": "t", "scopes": ["*"]}),
    ("DELETE", "/api/v1/tokens/some-id", None),
]


@pytest.mark.parametrize("user", ["alice", "sup"])
async def test_only_admins_manage_users_and_tokens(harness: Harness, user: str) -> None:
    caller = await harness.as_user(user)
    for method, path, body in ADMIN_ONLY:
        r, resp = await caller.call(method, path.format(alice=harness.user_ids["alice"]), json=body)
        assert r.status == 403, (method, path, resp)
        assert error_of(resp)["details"]["permission"] == "users:admin"
    r, me = await caller.get("/api/v1/auth/me")
    assert me["role"] != "admin"  # nothing above changed a role


async def test_agents_cannot_write_orders(harness: Harness) -> None:
    agent = await harness.as_user("alice")
    r, body = await agent.post("/api/v1/orders", json={"order_number": "SEC-1"})
    assert r.status == 403 and error_of(body)["details"]["permission"] == "orders:write"
    r, body = await agent.get("/api/v1/orders")
    assert r.status == 200


async def test_token_scopes_limit_an_integration(harness: Harness) -> None:
    admin = await harness.as_user("root")
    r, made = await admin.post(
        "/api/v1/tokens", json={"name": "crm sync", "scopes": ["customers:read"]}
    )
    assert r.status == 201, made
    token = made["token"]
    assert token.startswith("ccs_") and made["prefix"] == token[: len(made["prefix"])]
    r, listed = await admin.get("/api/v1/tokens")
    row = next(t for t in listed["items"] if t["id"] == made["id"])
    assert "token" not in row and row["scopes"] == ["customers:read"]

    integration = harness.anonymous()
    integration.use_token(token)
    r, body = await integration.get("/api/v1/customers?q=anything")
    assert r.status == 200
    # No CSRF for bearer calls, but the scope does not allow writing or other areas.
    r, body = await integration.post("/api/v1/customers", json={"display_name": "Via Token"})
    assert r.status == 403 and error_of(body)["details"]["permission"] == "customers:write"
    r, body = await integration.get("/api/v1/contacts")
    assert r.status == 403
    # Made by an admin, yet the token cannot administer: only its scopes count.
    r, body = await integration.get("/api/v1/users")
    assert r.status == 403

    r, revoked = await admin.delete(f"/api/v1/tokens/{made['id']}")
    assert r.status == 200 and revoked["revoked_at"] is not None
    r, body = await integration.get("/api/v1/customers?q=anything")
    assert r.status == 401 and error_of(body)["code"] == "unauthenticated"


async def test_token_acting_for_an_agent_never_exceeds_the_agent(harness: Harness) -> None:
    admin = await harness.as_user("root")
    r, made = await admin.post(
        "/api/v1/tokens",
        json={"name": "agent bot", "scopes": ["*"], "user_id": harness.user_ids["alice"]},
    )
    assert r.status == 201
    bot = harness.anonymous()
    bot.use_token(made["token"])
    r, body = await bot.post("/api/v1/customers", json={"display_name": "Bot Made"})
    assert r.status == 201
    r, body = await bot.get("/api/v1/users")
    assert r.status == 403
    r, old = await admin.post(
        "/api/v1/tokens",
        json={"name": "old", "scopes": ["*"], "expires_at": "2020-01-01T00:00:00Z"},
    )
    assert r.status == 201
    expired = harness.anonymous()
    expired.use_token(old["token"])
    r, body = await expired.get("/api/v1/customers")
    assert r.status == 401
    r, body = await admin.post("/api/v1/tokens", json={"name": "bad", "scopes": ["root:all"]})
    assert r.status == 422 and error_of(body)["details"]["fields"][0]["field"] == "scopes"


async def test_hostile_bodies(harness: Harness) -> None:
    agent = await harness.as_user("alice")
    headers = {**agent.headers, "Content-Type": "application/json"}
    r, body = await agent.call("POST", "/api/v1/customers", data=b"{not json", headers=headers)
    assert r.status == 400 and "not valid JSON" in error_of(body)["message"]
    deep: Any = {}
    for _ in range(100):
        deep = {"a": deep}
    r, body = await agent.call(
        "POST", "/api/v1/customers", data=json.dumps(deep).encode(), headers=headers
    )
    assert r.status == 400 and "deeper" in error_of(body)["message"]
    limit = harness.app[SERVICES].settings.server.max_body_bytes
    big = json.dumps({"display_name": "x", "notes": "n" * limit}).encode()
    r, body = await agent.call("POST", "/api/v1/customers", data=io.BytesIO(big), headers=headers)
    assert r.status == 413 and error_of(body)["code"] == "payload_too_large"
    r, body = await agent.call(
        "POST", "/api/v1/customers", data=b"display_name=x", headers={**agent.headers}
    )
    assert r.status == 400
    # None of these left a trace or a customer behind.
    r, found = await agent.get("/api/v1/customers", params={"q": "x"})
    assert found["total"] == 0


async def test_user_administration(harness: Harness) -> None:
    admin = await harness.as_user("root")
    r, user = await admin.post(
        "/api/v1/users",
        json={
            "username": "agent9",
            "password": "long enough pw",
            "role": "agent",
            "display_name": "Nina",
            "endpoint": "PJSIP/agent1009",
            "skills": {"lang.en": 3},
        },
    )
    assert r.status == 201, user
    assert user["skills"] == {"lang.en": 3} and "password" not in json.dumps(user)
    r, body = await admin.post(
        "/api/v1/users", json={"username": "agent9", "password": "long enough pw"}
    )
    assert r.status == 409
    r, body = await admin.post("/api/v1/users", json={"username": "x", "password": "short"})
    assert r.status == 422
    fields = {f["field"] for f in error_of(body)["details"]["fields"]}
    assert fields == {"username", "password"}

    r, changed = await admin.patch(
        f"/api/v1/users/{user['id']}",
        json={"role": "supervisor", "skills": {"lang.ja": 2}, "endpoint": "PJSIP/x"},
    )
    assert r.status == 200 and changed["role"] == "supervisor"
    assert changed["skills"] == {"lang.ja": 2}
    r, body = await admin.post(
        f"/api/v1/users/{user['id']}/password", json={"password": "a new password"}
    )
    assert r.status == 204
    nina = harness.anonymous()
    await nina.login("agent9", "a new password")
    r, me = await nina.get("/api/v1/auth/me")
    assert me["role"] == "supervisor"
    r, body = await admin.patch(f"/api/v1/users/{user['id']}", json={"active": False})
    assert r.status == 200 and body["active"] is False
    r, body = await nina.get("/api/v1/auth/me")
    assert r.status == 401  # a disabled user's session ends at once
    r, body = await admin.patch(f"/api/v1/users/{harness.user_ids['root']}", json={"active": False})
    assert r.status == 409
    r, page = await admin.get("/api/v1/users", params={"role": "agent", "limit": "50"})
    assert r.status == 200 and {u["username"] for u in page["items"]} >= {"alice"}
    assert all(u["role"] == "agent" for u in page["items"])
    audit = AuditLog(harness.app[SERVICES].require_sessions())
    rows = await audit.query(entity="user", entity_id=user["id"])
    assert {r.action for r in rows} >= {"create", "update", "change_password"}
    assert all(r.actor == harness.user_ids["root"] for r in rows)
