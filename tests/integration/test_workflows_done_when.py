"""Issue 9's done-when through the REST API, on SQLite and PostgreSQL: an agent files a
complaint during a call; it escalates to supervisors when its SLA passes (scheduler job
driven with a ``now``); it is resolved with a PDCA review; the resolution's follow-up call
becomes an outbound interaction routed to the resolving agent; the customer's survey answer
arrives through the signed link; the reports show the right KPIs; the customer is exported
and erased (statistics kept) and the admin's audit viewer shows both."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
from typing import Any

import pytest
import test_api_harness as _harness
from test_api_harness import Harness, error_of

from ccserver.app import SERVICES
from ccserver.crm.contacts import ContactService
from ccserver.domain import Channel
from ccserver.runtime.scheduler import ALERTS_TOPIC, WorkflowJobs, survey_token
from ccserver.web.routes_console import CONTACT_CENTER
from ccserver.web.sessions import load_or_create_secret

pytestmark = pytest.mark.asyncio(loop_scope="module")
any_db = _harness.any_db


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _total(rows: list[dict[str, Any]], key: str) -> Any:
    return sum(r[key] for r in rows)


async def test_complaint_to_report_done_when(any_db: Harness) -> None:
    h = any_db
    agent, sup, admin = [await h.as_user(u) for u in ("alice", "sup", "root")]
    alice = h.user_ids["alice"]
    services = h.app[SERVICES]
    jobs = services.extras["workflow_jobs"]
    assert isinstance(jobs, WorkflowJobs)

    r, customer = await agent.post(
        "/api/v1/customers",
        json={"display_name": "Zoe Martin", "phones": ["+33142685300"], "emails": ["z@m.fr"]},
    )
    assert r.status == 201, customer
    cid = customer["id"]
    now = dt.datetime.now(dt.UTC)
    contact = await ContactService(services.require_sessions()).record(
        {
            "interaction_id": "call-1",
            "customer_id": cid,
            "channel": "voice",
            "queue": "general",
            "agent_id": alice,
            "started_at": now,
            "outcome": "answered",
            "wait_s": 8.0,
            "talk_s": 300.0,
            "wrap_s": 30.0,
        }
    )

    # --- the agent files the complaint during the call -----------------------------------
    r, bad = await agent.post(
        "/api/v1/complaints",
        json={
            "customer_id": cid,
            "category": "product",
            "subcategory": "attitude",
            "description": "x",
        },
    )
    assert r.status == 422 and error_of(bad)["code"] == "complaint_category_unknown"
    r, c = await agent.post(
        "/api/v1/complaints",
        json={
            "customer_id": cid,
            "contact_id": contact.id,
            "category": "product",
            "subcategory": "delivery",
            "severity": "high",
            "description": "Parcel arrived crushed",
            "order_ref": "SO-1",
        },
    )
    assert r.status == 201, c
    assert c["status"] == "received" and c["channel"] == "voice" and c["owner_id"] == alice
    assert c["case_number"].startswith("CMP-") and not c["overdue"]
    created = _at(c["created_at"])
    assert _at(c["sla_due_at"]) - created == dt.timedelta(hours=24)  # "high" severity

    # --- the SLA passes: escalated once, pushed to supervisors -------------------------------
    bus = services.require_bus()
    async with bus.subscribe([ALERTS_TOPIC]) as sub:
        assert await jobs.escalate_complaints(created + dt.timedelta(hours=23)) == []
        alerts = await jobs.escalate_complaints(created + dt.timedelta(hours=25))
        pushed = await asyncio.wait_for(anext(aiter(sub)), 5)
    assert [a["complaint_id"] for a in alerts] == [c["id"]]
    assert pushed.data["type"] == "alert"
    assert pushed.data["data"]["kind"] == "complaint_sla"
    assert pushed.data["data"]["case_number"] == c["case_number"]
    assert await jobs.escalate_complaints(created + dt.timedelta(hours=26)) == []
    # (the wall clock has not reached the due time: "overdue" is judged at the real now)
    r, listed = await sup.get(f"/api/v1/complaints?customer_id={cid}&overdue=false")
    assert [x["id"] for x in listed["items"]] == [c["id"]] and listed["items"][0]["escalated_at"]
    r, listed = await sup.get("/api/v1/complaints?overdue=true")
    assert r.status == 200 and listed["items"] == []

    # --- life cycle with owner, note, time in history; PDCA review on close ------------------
    cpath = f"/api/v1/complaints/{c['id']}"
    r, body = await sup.post(cpath + "/close", json={})
    assert r.status == 409 and error_of(body)["code"] == "illegal_transition"
    r, _ = await sup.post(cpath + "/acknowledge", json={"note": "called back"})
    assert r.status == 200
    r, body = await sup.post(cpath + "/investigate", json={"validity": "basically_true"})
    assert r.status == 200 and body["validity"] == "basically_true"
    r, body = await agent.post(cpath + "/resolve", json={"resolution": "Replaced the item"})
    assert r.status == 200 and body["status"] == "resolved", body
    fu = body["follow_up"]
    assert fu["complaint_id"] == c["id"] and fu["questioner_id"] == alice
    assert fu["status"] == "planned" and fu["channel"] == "phone"
    r, _ = await sup.post(cpath + "/feedback", json={})
    assert r.status == 200
    r, body = await sup.post(cpath + "/close", json={"root_cause": "Carrier"})
    assert r.status == 422 and error_of(body)["code"] == "complaint_review_incomplete"
    review = {
        "root_cause": "Carrier dropped the parcel",
        "corrective_action": "Replacement by express",
        "preventive_action": "Padding for fragile goods",
        "customer_accepted": True,
        "customer_rating": 4,
        "note": "closed after the call",
    }
    r, closed = await sup.post(cpath + "/close", json=review)
    assert r.status == 200 and closed["status"] == "closed", closed
    assert closed["customer_rating"] == 4 and closed["root_cause"] == review["root_cause"]
    events = [(s["event"], s["owner"]) for s in closed["history"]]
    assert events == [
        ("receive", alice),
        ("escalate", "system"),
        ("acknowledge", h.user_ids["sup"]),
        ("investigate", h.user_ids["sup"]),
        ("assess_validity", h.user_ids["sup"]),
        ("resolve", alice),
        ("request_feedback", h.user_ids["sup"]),
        ("close", h.user_ids["sup"]),
    ]
    assert closed["history"][-1]["note"] == "closed after the call"

    # --- the follow-up becomes due: an outbound interaction routed to the resolving agent --
    due_at = _at(fu["window_start"])
    assert due_at - _at(closed["resolved_at"]) == dt.timedelta(hours=48)
    assert (await jobs.start_due_followups(due_at - dt.timedelta(minutes=1)))["called"] == []
    # While the queue is closed the follow-up waits (routing would make it a callback).
    calendar_open, jobs.queue_open = jobs.queue_open, lambda queue: False
    waiting = await jobs.start_due_followups(due_at + dt.timedelta(minutes=1))
    assert waiting["waiting"] == [fu["id"]] and waiting["called"] == []
    r, still = await agent.get(f"/api/v1/follow-ups/{fu['id']}")
    assert still["status"] == "planned"
    # A queue the routing calendars keep open around the clock, whatever time the test runs.
    jobs.queue_open, jobs.complaint_followup_queue = calendar_open, "technical"
    started = await jobs.start_due_followups(due_at + dt.timedelta(minutes=2))
    assert started["called"] == [fu["id"]]
    cc = h.app[CONTACT_CENTER]
    calls = [i for i in cc.interactions.values() if i.attributes.get("follow_up_id") == fu["id"]]
    assert len(calls) == 1 and calls[0].channel is Channel.FOLLOW_UP
    assert calls[0].attributes["dial_number"] == "+33142685300"
    assert calls[0].customer_id == cid
    r, listed = await agent.get(f"/api/v1/follow-ups?status=due&questioner_id={alice}")
    assert [x["id"] for x in listed["items"]] == [fu["id"]]
    fpath = f"/api/v1/follow-ups/{fu['id']}"
    r, _ = await agent.post(fpath + "/start", json={})
    assert r.status == 200
    r, body = await agent.post(
        fpath + "/complete", json={"answers": {"solved": True}, "outcome": "satisfied"}
    )
    assert r.status == 422 and error_of(body)["code"] == "followup_answers_missing"
    r, done = await agent.post(
        fpath + "/complete",
        json={"answers": {"solved": True, "satisfaction": 4}, "outcome": "satisfied"},
    )
    assert r.status == 200 and done["status"] == "done" and done["answers"]["satisfaction"] == 4

    # --- the customer's survey answer arrives through the signed link ------------------------
    secret = load_or_create_secret(services.settings.server.data_dir / "secret_key")
    anon = h.anonymous()
    r, body = await anon.post(f"/api/v1/surveys/public/{fu['id']}.0000", json={"csat": 5})
    assert r.status == 404
    r, body = await anon.post(
        f"/api/v1/surveys/public/{survey_token(secret, fu['id'])}",
        json={"csat": 5, "nps": 9, "text": "Thank you, Zoe", "ratings": {"resolution": 5}},
    )
    assert r.status == 201, body
    # A detractor answer recorded after a call creates a recovery follow-up at once.
    r, det = await agent.post(
        "/api/v1/surveys/responses",
        json={
            "customer_id": cid,
            "contact_id": contact.id,
            "agent_id": alice,
            "nps": 3,
            "ratings": {"speed": 2},
        },
    )
    assert r.status == 201 and det["follow_up"]["purpose"] == "detractor_recovery", det
    r, csi = await sup.get(f"/api/v1/surveys/csi?agent_id={alice}")
    assert csi["responses"] == 2 and csi["nps"] == pytest.approx(0.0)
    # CSI: resolution 5 -> 100, speed 2 -> 25, weights .35/.25 renormalised.
    assert csi["csi"] == pytest.approx((0.35 * 100 + 0.25 * 25) / 0.6)

    # --- the reports show the right KPIs -----------------------------------------------------
    r, body = await agent.get("/api/v1/reports/kpis")
    assert r.status == 403
    await services.require_outbox().flush()  # the follow-up call's contact row is written
    r, report = await sup.get("/api/v1/reports/kpis?by=month")
    assert r.status == 200, report
    rows = report["rows"]
    # Two contacts: the customer's call and the outbound follow-up call (still queued).
    assert _total(rows, "contacts") == 2 and _total(rows, "answered") == 1
    assert sum(r.get("contacts_follow_up", 0) for r in rows) == 1
    assert _total(rows, "complaints") == 1 and _total(rows, "resolved") == 1
    assert _total(rows, "followups") == 2 and _total(rows, "done") == 1
    assert _total(rows, "responses") == 2
    call_row = next(r for r in rows if r["contacts"])
    assert call_row["service_level"] == 1.0 and call_row["aht_s"] == 330.0
    # The API resolved it on the wall clock, before the due time the escalation job was
    # driven past: the table says "met", and so does the report.
    assert call_row["complaint_rate"] == 0.5 and call_row["sla_compliance"] == 1.0
    r, data = await sup.get("/api/v1/reports/kpis?by=channel,queue&format=csv")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    voice = [t for t in table if t["channel"] == "voice" and t["queue"] == "general"]
    assert voice and voice[0]["contacts"] == "1" and voice[0]["asa_s"] == "8.0"
    r, data = await sup.get("/api/v1/reports/kpis?by=week&format=xlsx")
    assert r.status == 200 and data[:2] == b"PK"
    r, body = await sup.get("/api/v1/reports/kpis?by=day,week")
    assert r.status == 400

    # --- privacy: export, erase keeping statistics, audited ----------------------------------
    r, body = await sup.get(f"/api/v1/privacy/customers/{cid}/export")
    assert r.status == 403
    r, export = await admin.get(f"/api/v1/privacy/customers/{cid}/export")
    assert r.status == 200 and export["customer"]["display_name"] == "Zoe Martin"
    assert [x["id"] for x in export["complaints"]] == [c["id"]]
    assert len(export["follow_ups"]) == 2 and len(export["survey_responses"]) == 2
    assert {tuple(x["ratings"]) for x in export["survey_responses"]} == {
        ("resolution",),
        ("speed",),
    }
    r, _ = await admin.post(f"/api/v1/privacy/customers/{cid}/erase", json={})
    assert r.status == 200
    r, erased = await admin.get(f"/api/v1/privacy/customers/{cid}/export")
    assert erased["customer"]["display_name"] == "Erased customer"
    assert erased["identities"] == [] and erased["complaints"][0]["description"] == "[erased]"
    assert all(x["text"] is None for x in erased["survey_responses"])
    assert all(x["outcome"] is None and x["answers"] == {} for x in erased["follow_ups"])
    r, after = await sup.get("/api/v1/reports/kpis?by=month")
    assert [{k: v for k, v in row.items()} for row in after["rows"]] == rows
    r, audit = await admin.get(f"/api/v1/audit?entity=customer&entity_id={cid}")
    actions = [a["action"] for a in audit["items"]]
    assert "export" in actions and "erase" in actions
    r, body = await sup.get("/api/v1/audit")
    assert r.status == 403
