"""The whole application over HTTP: health, readiness, login with CSRF, the WebSocket
snapshot, and configuration reload that refuses a bad file and keeps the old one."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from test_api_harness import make_settings

from ccserver.app import SERVICES, build_app
from ccserver.crm.users import UserService
from ccserver.web.routes_console import CONTACT_CENTER

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = build_app(make_settings(tmp_path))
    async with TestClient(TestServer(app)) as c:
        users = UserService(app[SERVICES].require_sessions())
        await users.create_user("alice", PASSWORD, role="agent", display_name="Alice")
        await users.create_user("root", PASSWORD, role="admin", display_name="Root")
        yield c


async def login(c: TestClient[web.Request, web.Application], user: str) -> dict[str, str]:
    r = await c.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD})
    assert r.status == 200, await r.text()
    return {"X-CSRF-Token": (await r.json())["csrf_token"]}


async def test_health_and_readiness(client: TestClient[web.Request, web.Application]) -> None:
    r = await client.get("/healthz")
    assert r.status == 200 and (await r.json())["status"] == "ok"
    r = await client.get("/readyz")
    body = await r.json()
    assert r.status == 200, body
    assert body["checks"]["database"] == "ok" and body["checks"]["bus"] == "ok"
    assert "pending" in body["checks"]["outbox"]
    metrics = await (await client.get("/metrics")).text()
    assert "ccserver_http_requests_total" in metrics


async def test_login_sets_cookies_and_state_changes_need_csrf(
    client: TestClient[web.Request, web.Application],
) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope"})
    assert r.status == 401 and (await r.json())["error"]["code"] == "unauthenticated"
    headers = await login(client, "alice")
    me = await (await client.get("/api/v1/auth/me")).json()
    assert me["username"] == "alice" and me["role"] == "agent"
    r = await client.post("/api/v1/console/state", json={"state": "ready"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_failed"
    r = await client.post("/api/v1/console/state", json={"state": "ready"}, headers=headers)
    assert r.status == 200 and (await r.json())["state"] == "ready"
    r = await client.post("/api/v1/admin/reload", headers=headers)
    assert r.status == 403


async def test_logins_are_throttled(client: TestClient[web.Request, web.Application]) -> None:
    for _ in range(5):
        r = await client.post("/api/v1/auth/login", json={"username": "alice", "password": "x"})
        assert r.status == 401
    r = await client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0


async def test_websocket_needs_login_then_sends_a_snapshot(
    client: TestClient[web.Request, web.Application],
) -> None:
    r = await client.get("/ws")
    assert r.status == 401
    await login(client, "alice")
    async with client.ws_connect("/ws") as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "snapshot"
        assert first["data"]["agent"]["state"] == "logged_out"
        await ws.send_str("not json")
        err = await ws.receive_json(timeout=5)
        assert err["type"] == "error" and err["data"]["code"] == "bad_json"
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=5))["type"] == "pong"


async def test_reload_refuses_a_bad_routing_file_and_keeps_the_old_config(
    client: TestClient[web.Request, web.Application],
) -> None:
    app = client.server.app
    headers = await login(client, "root")
    before = set(app[CONTACT_CENTER].routing.config.queues)
    path = app[SERVICES].settings.paths.routing
    good = path.read_text()
    path.write_text(good + '\n[queues.vip]\nstrategy = "fastest_guess"\n')
    r = await client.post("/api/v1/admin/reload", headers=headers)
    body = await r.json()
    assert r.status >= 400
    assert "queues.vip" in body["error"]["message"] and str(path) in body["error"]["message"]
    assert set(app[CONTACT_CENTER].routing.config.queues) == before
    path.write_text(good + "\n[queues.vip]\n")
    r = await client.post("/api/v1/admin/reload", headers=headers)
    assert r.status == 200, await r.text()
    assert "vip" in (await r.json())["routing"]["queues"]


async def test_oversized_and_malformed_bodies_get_clear_errors(
    client: TestClient[web.Request, web.Application],
) -> None:
    headers = await login(client, "alice")
    r = await client.post(
        "/api/v1/console/state", data=b"{", headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status == 400 and (await r.json())["error"]["code"] == "bad_request"
    big = io.BytesIO(b'{"state": "' + b"x" * 2_000_000 + b'"}')
    r = await client.post(
        "/api/v1/console/state", data=big, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status == 413 and (await r.json())["error"]["code"] == "payload_too_large"
    deep = "[" * 100 + "]" * 100
    r = await client.post(
        "/api/v1/console/state", data=deep, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status == 400 and "nesting" in (await r.json())["error"]["message"]
    r = await client.post("/api/v1/console/state", json={"state": "asleep"}, headers=headers)
    assert r.status == 422 and (await r.json())["error"]["details"]["fields"][0]["field"] == "state"


async def test_console_login_again_after_a_reload_keeps_the_agent(
    client: TestClient[web.Request, web.Application],
) -> None:
    headers = await login(client, "alice")
    r = await client.post("/api/v1/console/login", headers=headers)
    assert r.status == 200
    snap = await r.json()
    assert snap["agent"]["name"] == "Alice"
    assert "break" in snap["not_ready_reasons"]
    r = await client.post("/api/v1/console/state", json={"state": "ready"}, headers=headers)
    assert (await r.json())["state"] == "ready"
    r = await client.post("/api/v1/console/login", headers=headers)  # the page was reloaded
    assert r.status == 200 and (await r.json())["agent"]["state"] == "ready"
