"""Workflow API edges (permissions, validation, unknown records and actions) and the
follow-up call adapter: a due phone follow-up is dialled when accepted; no answer sends it
back to planned with the retry back-off, an answered call lets the agent complete it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import test_api_harness as _harness
from test_api_harness import Harness, error_of

from ccserver.app import SERVICES
from ccserver.domain import Channel, Interaction
from ccserver.runtime.scheduler import FollowUpCalls, WorkflowJobs
from ccserver.web.routes_console import CONTACT_CENTER

pytestmark = pytest.mark.asyncio(loop_scope="module")
harness = _harness.harness


class FakeDialer:
    def __init__(self, *results: str) -> None:
        self.results = list(results)
        self.calls: list[tuple[str, str]] = []

    async def dial_out(
        self, number: str, *, agent_id: str, endpoint: str | None, interaction: Interaction
    ) -> str:
        self.calls.append((number, agent_id))
        return self.results.pop(0)


async def test_workflow_api_refuses_bad_requests(harness: Harness) -> None:
    agent, sup = await harness.as_user("alice"), await harness.as_user("sup")
    r, body = await harness.anonymous().get("/api/v1/complaints")
    assert r.status == 401
    r, body = await agent.post("/api/v1/follow-ups/bulk", json={"purpose": "x"})
    assert r.status == 403 and error_of(body)["code"] == "forbidden"
    r, body = await agent.post(
        "/api/v1/complaints",
        json={
            "customer_id": "c",
            "category": "product",
            "subcategory": "quality",
            "description": "d",
            "priority": 1,
        },
    )
    assert r.status == 422
    r, body = await agent.post("/api/v1/complaints/nope/acknowledge", json={})
    assert r.status == 404 and error_of(body)["code"] == "workflow_record_not_found"
    r, body = await agent.post("/api/v1/complaints/nope/explode", json={})
    assert r.status == 404
    r, body = await agent.get("/api/v1/follow-ups?status=bogus")
    assert r.status == 400
    r, body = await agent.post("/api/v1/surveys/responses", json={"nps": 11})
    assert r.status == 422 and error_of(body)["code"] == "survey_answer_invalid"
    r, body = await agent.post("/api/v1/surveys/responses", json={})
    assert r.status == 422
    r, body = await sup.post(
        "/api/v1/follow-ups/bulk", json={"purpose": "winback", "tier": "nobody-has-this"}
    )
    assert r.status == 201 and body["planned"] == 0
    r, body = await agent.post("/api/v1/segmentation/recompute", json={})
    assert r.status == 403
    r, body = await sup.post("/api/v1/segmentation/recompute", json={})
    assert r.status == 200 and set(body) == {"customers", "changed"}


async def test_follow_up_call_dialled_retried_then_completed(harness: Harness) -> None:
    agent = await harness.as_user("alice")
    alice = harness.user_ids["alice"]
    app = harness.app
    cc = app[CONTACT_CENTER]
    jobs = app[SERVICES].extras["workflow_jobs"]
    assert isinstance(jobs, WorkflowJobs)
    calls = cc.adapters[Channel.FOLLOW_UP]
    assert isinstance(calls, FollowUpCalls)
    jobs.followup_queue = "technical"  # open around the clock, whenever the test runs

    r, customer = await agent.post(
        "/api/v1/customers", json={"display_name": "Fiona Follow", "phones": ["+14155550123"]}
    )
    assert r.status == 201, customer
    now = dt.datetime.now(dt.UTC)
    r, fu = await agent.post(
        "/api/v1/follow-ups",
        json={
            "customer_id": customer["id"],
            "purpose": "after_wrap_up",
            "channel": "phone",
            "questioner_id": alice,
            "scheduled_at": (now - dt.timedelta(minutes=5)).isoformat(),
            "outline": [{"key": "happy", "text": "Happy now?", "kind": "yes_no"}],
        },
    )
    assert r.status == 201, fu

    def live_call() -> Interaction:
        found = [
            i
            for i in cc.interactions.values()
            if i.attributes.get("follow_up_id") == fu["id"] and not i.is_terminal
        ]
        assert len(found) == 1
        return found[0]

    assert (await jobs.start_due_followups(now))["called"] == [fu["id"]]
    calls.dialer = FakeDialer("no_answer", "answered")
    first = live_call()
    assert await calls.dial(first, alice) == "no_answer"
    assert first.is_terminal and first.attributes["outcome"] == "follow_up_no_answer"
    r, back = await agent.get(f"/api/v1/follow-ups/{fu['id']}")
    assert back["status"] == "planned"
    retry_at = dt.datetime.fromisoformat(back["window_start"])
    assert retry_at - now >= dt.timedelta(hours=1, minutes=59)  # 2 h back-off

    assert (await jobs.start_due_followups(retry_at))["called"] == [fu["id"]]
    second = live_call()
    assert await calls.dial(second, alice) == "answered"
    assert isinstance(calls.dialer, FakeDialer)
    assert calls.dialer.calls == [("+14155550123", alice)] * 2
    r, body = await agent.get(f"/api/v1/follow-ups/{fu['id']}")
    assert body["status"] == "in_progress"
    r, done = await agent.post(
        f"/api/v1/follow-ups/{fu['id']}/complete",
        json={"answers": {"happy": True}, "outcome": "resolved"},
    )
    assert r.status == 200 and done["status"] == "done", done
    r, audit = await (await harness.as_user("root")).get(
        f"/api/v1/audit?entity=follow_up&entity_id={fu['id']}&limit=50"
    )
    actions: list[Any] = [a["action"] for a in reversed(audit["items"])]
    assert actions == [
        "create", "due", "dial_queued", "start", "no_answer",
        "due", "dial_queued", "start", "complete",
    ]  # fmt: skip


async def test_emailed_survey_link_page_answers_once_and_completes(harness: Harness) -> None:
    from ccserver.runtime.scheduler import survey_token
    from ccserver.web.sessions import load_or_create_secret

    agent = await harness.as_user("alice")
    r, customer = await agent.post(
        "/api/v1/customers", json={"display_name": "Erin Email", "emails": ["erin@x.org"]}
    )
    r, fu = await agent.post(
        "/api/v1/follow-ups",
        json={"customer_id": customer["id"], "purpose": "case_survey", "channel": "email"},
    )
    assert r.status == 201, fu
    settings = harness.app[SERVICES].settings
    token = survey_token(load_or_create_secret(settings.server.data_dir / "secret_key"), fu["id"])
    anon = harness.anonymous()
    r, page = await anon.get(f"/survey/{token}")
    assert r.status == 200 and b'name="csat"' in page and b"<script" not in page
    r, page = await anon.get(f"/survey/{fu['id']}.forged")
    assert r.status == 404
    r, page = await anon.call("POST", f"/survey/{token}", data={"text": ""})
    assert r.status == 422  # answers nothing
    r, page = await anon.call(
        "POST", f"/survey/{token}", data={"csat": "4", "nps": "", "text": "<b>quick</b>"}
    )
    assert r.status == 201 and b"Thank you" in page
    r, again = await anon.call("POST", f"/survey/{token}", data={"csat": "1"})
    assert r.status == 409 and b"already" in again
    r, done = await agent.get(f"/api/v1/follow-ups/{fu['id']}")
    assert done["status"] == "done" and done["outcome"] == "answered"
    r, csi = await agent.get(f"/api/v1/surveys/csi?agent_id={customer['id']}")
    assert r.status == 200 and csi["responses"] == 0  # filters apply (no such agent)


async def test_complaint_filed_during_the_call_links_the_live_contact(harness: Harness) -> None:
    from ccserver.domain import Direction

    agent = await harness.as_user("alice")
    r, customer = await agent.post("/api/v1/customers", json={"display_name": "Liv Live"})
    cc = harness.app[CONTACT_CENTER]
    # The contact row of a live interaction is written through the outbox, maybe later.
    call = await cc.new_interaction(
        Channel.VOICE, direction=Direction.INBOUND, customer_id=customer["id"]
    )
    body = {
        "customer_id": customer["id"],
        "contact_id": call.contact_id,
        "category": "service",
        "subcategory": "capability",
        "description": "Could not change my address",
    }
    r, c = await agent.post("/api/v1/complaints", json=body)
    assert r.status == 201, c
    assert c["contact_id"] == call.contact_id and c["channel"] == "voice"
    r, err = await agent.post("/api/v1/complaints", json=body | {"contact_id": "no-such-contact"})
    assert r.status == 404 and error_of(err)["details"] == {"contact_id": "no-such-contact"}
    await cc.customer_left(call.id)


async def test_supervisor_console_receives_the_escalation_alert(harness: Harness) -> None:
    import asyncio

    agent, sup = await harness.as_user("alice"), await harness.as_user("sup")
    jobs = harness.app[SERVICES].extras["workflow_jobs"]
    r, customer = await agent.post("/api/v1/customers", json={"display_name": "Sam Slow"})
    r, c = await agent.post(
        "/api/v1/complaints",
        json={"customer_id": customer["id"], "category": "service", "subcategory": "quality",
              "severity": "critical", "description": "Nobody called back"},
    )  # fmt: skip
    assert r.status == 201, c
    due = dt.datetime.fromisoformat(c["sla_due_at"])
    async with sup.session.ws_connect(
        harness.server.make_url("/ws"), headers={"Origin": str(harness.server.make_url("/"))}
    ) as ws:
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "snapshot"
        await jobs.escalate_complaints(due + dt.timedelta(minutes=1))

        async def next_alert() -> dict[str, Any]:
            while True:
                frame = await ws.receive_json(timeout=5)
                if frame["type"] == "alert" and frame["data"].get("kind") == "complaint_sla":
                    return dict(frame["data"])

        alert = await asyncio.wait_for(next_alert(), 10)
    assert alert["case_number"] == c["case_number"] and alert["severity"] == "critical"
    assert alert["overdue_s"] == 60.0 and "past its SLA" in alert["message"]
