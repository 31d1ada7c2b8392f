"""A supervisor places a simulated call through the API (what the wallboard's "simulated
caller" panel does) and it reaches a ready agent as an offer with the caller's screen pop;
the answers match the OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import jsonschema
import pytest
from test_call_harness import CALLER, VoiceApp, eventually, voice_app

from ccserver.crm.users import UserService
from ccserver.domain import InteractionState
from ccserver.web.openapi_spec import build_spec


@pytest.fixture
async def vapp(tmp_path: Path) -> AsyncIterator[VoiceApp]:
    async for v in voice_app(tmp_path):
        yield v


def _validate(schema_name: str, body: object) -> None:
    spec = build_spec("test")
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    jsonschema.validate(body, schema)


async def test_supervisor_places_a_simulated_call_that_reaches_an_agent(vapp: VoiceApp) -> None:
    users = UserService(vapp.services.require_sessions())
    await users.create_user("sup", "correct horse battery", role="supervisor")
    client = vapp.client
    r = await client.post(
        "/api/v1/auth/login", json={"username": "sup", "password": "correct horse battery"}
    )
    csrf = {"X-CSRF-Token": (await r.json())["csrf_token"]}
    r = await client.get("/api/v1/simulator")
    status = await r.json()
    assert r.status == 200 and status["enabled"] is True, status
    _validate("SimulatorStatus", status)
    assert f"+1{CALLER}" in {c["phone"] for c in status["callers"]}

    await vapp.agent("agent1001")
    r = await client.post("/api/v1/simulator/calls", json={"caller": f"+1{CALLER}"}, headers=csrf)
    placed = await r.json()
    assert r.status == 201, placed
    _validate("SimulatedCall", placed)
    iid: str = await eventually(lambda: next(iter(vapp.voice.by_interaction), None), what="call")
    await eventually(
        lambda: vapp.cc.get(iid).state in (InteractionState.OFFERED, InteractionState.CONNECTED),
        what="offered to the agent",
    )
    assert vapp.cc.get(iid).customer_id is not None  # the caller was recognised by number
    r = await client.post("/api/v1/simulator/calls", json={"caller": "not a number"}, headers=csrf)
    assert r.status == 422
