"""Issue 9's done-when in Chromium: CRM workflows from the console and the supervisor pages.

During a call the agent files a complaint from the screen pop (taxonomy from crm.toml, linked
to the call's contact, case number shown), looks at the customer's contact history with a
channel filter, and schedules a follow-up with the wrap-up. The supervisor sees the complaint
in the list; when its SLA passes (the scheduler job ``escalate_complaints`` driven with a
``now`` a day later) the escalation alert is pushed and the row is marked; the supervisor
takes it through the life cycle and closes it with a PDCA review; the follow-up the
resolution schedules appears; the reports view shows the KPIs the API computes and the CSV
export downloads.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from browser_harness import ARTIFACTS, PASSWORD, LiveServer, login, unnamed_controls
from playwright.sync_api import expect
from sqlalchemy import select

from ccserver.app import SERVICES
from ccserver.crm.contacts import ContactService
from ccserver.crm.customers import CustomerService
from ccserver.crm.models import Complaint, FollowUp
from ccserver.crm.users import UserService
from ccserver.domain import Channel

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def _seed(server: LiveServer) -> dict[str, Any]:
    sessions = server.sessions()
    users = UserService(sessions)
    agent = await users.create_user(
        "carol", PASSWORD, role="agent", display_name="Carol Agent", endpoint="PJSIP/1002"
    )
    sup = await users.create_user("sue", PASSWORD, role="supervisor", display_name="Sue Lead")
    customer = await CustomerService(sessions).create(
        {"display_name": "Kenji Sato", "phones": ["+81 6-5555-0101"], "tier": "regular"}
    )
    contacts = ContactService(sessions)
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    for n, channel in enumerate(("email", "voice")):
        await contacts.record(
            {
                "interaction_id": f"earlier-{channel}",
                "customer_id": customer.id,
                "channel": channel,
                "direction": "inbound",
                "queue": "support",
                "started_at": earlier + dt.timedelta(hours=n),
                "outcome": "answered",
                "notes": f"earlier {channel} <i>note</i>",
            }
        )
    return {"agent_id": agent.id, "sup_id": sup.id, "customer_id": customer.id}


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> dict[str, Any]:
    return live_server.call(_seed(live_server))


async def _call(server: LiveServer, customer_id: str) -> tuple[str, str]:
    cc = server.cc
    i = await cc.new_interaction(
        Channel.VOICE, customer_id=customer_id, attributes={"caller_id": "+81655550101"}
    )
    await cc.enqueue(i.id, "support", priority=1)
    assert i.contact_id is not None
    return i.id, i.contact_id


async def _complaint(server: LiveServer, case_number: str) -> Complaint:
    async with server.sessions()() as s:
        row: Complaint | None = await s.scalar(
            select(Complaint).where(Complaint.case_number == case_number)
        )
        assert row is not None
        return row


async def _followups(server: LiveServer, customer_id: str) -> list[FollowUp]:
    async with server.sessions()() as s:
        rows = await s.scalars(select(FollowUp).where(FollowUp.customer_id == customer_id))
        return list(rows)


async def _escalate(server: LiveServer, now: dt.datetime) -> list[dict[str, Any]]:
    assert server.app is not None
    jobs = server.app[SERVICES].extras["workflow_jobs"]
    alerts: list[dict[str, Any]] = await jobs.escalate_complaints(now)
    return alerts


def test_complaint_from_the_console_escalates_and_closes_with_pdca_in_the_supervisor_page(
    live_server: LiveServer, browser: Any, seeded: dict[str, Any]
) -> None:
    server = live_server
    base = server.url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    agent_ctx = browser.new_context(viewport={"width": 1366, "height": 768})
    sup_ctx = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    try:
        agent = agent_ctx.new_page()
        sup = sup_ctx.new_page()
        errors: list[str] = []
        for p in (agent, sup):
            p.on("pageerror", lambda e: errors.append(str(e)))

        login(agent, base, "/console", "carol")
        expect(agent.locator("#link")).to_have_attribute("aria-label", "Connection: open")
        login(sup, base, "/supervisor", "sue")
        expect(sup.locator("#link")).to_have_attribute("aria-label", "Connection: open")

        # --- the agent takes a call and files a complaint from the screen pop -------------
        iid, contact_id = server.call(_call(server, seeded["customer_id"]))
        agent.keyboard.press("Alt+R")
        offer = agent.locator(f'.card.offer[data-id="{iid}"]')
        expect(offer).to_be_visible()
        offer.get_by_role("button", name="Accept").click()
        card = agent.locator(f'.card.interaction[data-id="{iid}"]')
        expect(card).to_contain_text("connected")
        expect(agent.locator("#customer-name")).to_have_text("Kenji Sato")

        form = agent.get_by_role("form", name="File a complaint")
        expect(form).to_be_hidden()
        agent.keyboard.press("Alt+C")
        expect(form).to_be_visible()
        # The taxonomy is crm.toml's: a category's subcategories follow the category.
        category = form.get_by_label("Category", exact=True)
        assert category.locator("option").all_text_contents()[1:] == ["product", "service"]
        category.select_option("service")
        sub = form.get_by_label("Subcategory")
        assert "attitude" in sub.locator("option").all_text_contents()
        category.select_option("product")
        assert "attitude" not in sub.locator("option").all_text_contents()
        # Incomplete: refused by the form, nothing filed.
        form.get_by_role("button", name="File complaint").click()
        expect(agent.locator("#status")).to_contain_text("Complete the complaint")
        sub.select_option("delivery")
        form.get_by_label("Severity").select_option("high")
        form.get_by_label("Order reference").fill("SO-7781")
        form.get_by_label("Description").fill("Parcel arrived crushed <b>twice</b>")
        form.get_by_label("Attachments").set_input_files(
            files=[{"name": "crushed.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8jpeg"}]
        )
        form.get_by_role("button", name="File complaint").click()
        result = agent.locator("#complaint-result")
        expect(result).to_contain_text("Complaint filed: case ")
        case_number = result.inner_text().rsplit(" ", 1)[-1]
        expect(form).to_be_hidden()
        expect(agent.locator("#complaints")).to_contain_text(case_number)
        row = server.call(_complaint(server, case_number))
        assert (row.customer_id, row.contact_id) == (seeded["customer_id"], contact_id)
        assert (row.category, row.subcategory, row.severity) == ("product", "delivery", "high")
        assert (row.order_ref, row.status) == ("SO-7781", "received")
        assert row.description == "Parcel arrived crushed <b>twice</b>"
        assert [(a["name"], a["size"]) for a in row.attachments] == [("crushed.jpg", 6)]
        agent.keyboard.press("Alt+C")
        expect(form).to_be_visible()
        assert unnamed_controls(agent) == []  # the complaint form, for screen readers
        form.get_by_role("button", name="Cancel").click()
        expect(form).to_be_hidden()
        agent.screenshot(path=str(ARTIFACTS / "crm_console_complaint.png"))

        # Contact history of the customer, filtered by channel.
        agent.get_by_role("button", name="Contact history").click()
        history = agent.locator("#history-list")
        expect(history.locator("li.contact[data-channel='email']")).to_have_count(1)
        expect(history.locator("li.contact[data-channel='voice']")).not_to_have_count(0)
        filters = agent.get_by_role("form", name="Contact history filters")
        filters.get_by_label("Channel").select_option("email")
        filters.get_by_role("button", name="Filter history").click()
        expect(history.locator("li.contact")).to_have_count(1)
        expect(history).to_contain_text("earlier email <i>note</i>")
        later = (dt.date.today() + dt.timedelta(days=1)).isoformat()
        filters.get_by_label("From").fill(later)
        filters.get_by_role("button", name="Filter history").click()
        expect(history).to_contain_text("No contacts match.")

        # Hang up; the wrap-up schedules a follow-up.
        card.get_by_role("button", name="Hang up").click()
        wrap = agent.locator("#wrapup")
        expect(wrap).to_be_visible()
        wrap.get_by_label("Disposition").select_option("resolved")
        wrap.get_by_label("Schedule a follow-up").check()
        fields = agent.get_by_role("group", name="Follow-up")
        expect(fields).to_be_visible()
        fields.get_by_label("Purpose").fill("")
        agent.keyboard.press("Alt+W")
        expect(agent.locator("#status")).to_contain_text("purpose")
        fields.get_by_label("Purpose").fill("check_delivery")
        fields.get_by_label("From").fill("2031-03-04T10:00")
        fields.get_by_label("Until").fill("2031-03-04T12:00")
        fields.get_by_label("Channel").select_option("email")
        agent.screenshot(path=str(ARTIFACTS / "crm_console_wrapup_followup.png"))
        wrap.get_by_role("button", name="Finish wrap-up").click()
        expect(agent.locator("#status")).to_contain_text("follow-up (email) planned")
        expect(wrap).to_be_hidden()
        planned = server.call(_followups(server, seeded["customer_id"]))
        assert [(f.purpose, f.channel, f.contact_id) for f in planned] == [
            ("check_delivery", "email", contact_id)
        ]
        assert planned[0].window_start is not None and planned[0].window_end is not None
        assert planned[0].window_end - planned[0].window_start == dt.timedelta(hours=2)

        # --- the supervisor sees it, and its escalation when the SLA passes ---------------
        sup.get_by_role("button", name="Refresh complaints").click()
        crow = sup.locator(f'tr[data-case="{case_number}"]')
        expect(crow).to_contain_text("received")
        expect(crow).to_contain_text("Parcel arrived crushed <b>twice</b>")
        expect(crow).not_to_have_class(re.compile("escalated"))
        # Not yet due: the job escalates nothing.
        assert server.call(_escalate(server, dt.datetime.now(dt.UTC))) == []
        alerts = server.call(_escalate(server, dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)))
        assert [a["case_number"] for a in alerts] == [case_number]
        expect(sup.locator("#alerts")).to_contain_text(f"complaint {case_number} (high)")
        expect(crow).to_have_class(re.compile("escalated"))
        expect(crow.locator(".cmp-status")).to_contain_text("escalated")
        sup.screenshot(path=str(ARTIFACTS / "crm_supervisor_escalated.png"), full_page=True)

        # --- life cycle to resolution, then close with the PDCA review --------------------
        crow.get_by_role("button", name=f"Acknowledge {case_number}").click()
        expect(crow).to_contain_text("acknowledged")
        crow.get_by_role("button", name=f"Investigate {case_number}").click()
        expect(crow).to_contain_text("investigating")
        crow.get_by_label(f"Validity of {case_number}").select_option("basically_true")
        crow.get_by_role("button", name=f"Assess {case_number}").click()
        expect(sup.locator("#status")).to_contain_text(f"{case_number}: assess done")
        crow.get_by_role("button", name=f"Resolve {case_number}").click()
        expect(sup.locator("#status")).to_contain_text("Write the resolution first")
        crow.get_by_label(f"Resolution of {case_number}").fill("Replacement sent by courier")
        crow.get_by_role("button", name=f"Resolve {case_number}").click()
        expect(sup.locator("#status")).to_contain_text("follow-up planned")
        expect(crow).to_contain_text("resolved")
        crow.get_by_role("button", name=f"Customer feedback {case_number}").click()
        expect(crow).to_contain_text("customer feedback")
        crow.get_by_role("button", name=f"Close {case_number}").click()
        pdca = sup.get_by_role("form", name="Close with PDCA review")
        expect(pdca).to_be_visible()
        pdca.get_by_label("Root cause (plan)").fill("Courier drops parcels")
        pdca.get_by_role("button", name="Close complaint").click()
        expect(sup.locator("#status")).to_contain_text("The PDCA review needs")
        pdca.get_by_label("Corrective action (do)").fill("Replacement sent")
        pdca.get_by_label("Preventive action (act)").fill("Padded boxes for fragile goods")
        pdca.get_by_label("Customer accepted the resolution (check)").select_option("yes")
        pdca.get_by_label("Customer rating (1-5)").select_option("4")
        sup.screenshot(path=str(ARTIFACTS / "crm_supervisor_pdca.png"), full_page=True)
        assert unnamed_controls(sup) == []
        pdca.get_by_role("button", name="Close complaint").click()
        expect(sup.locator("#status")).to_contain_text(f"{case_number}: close done, now closed")
        expect(pdca).to_be_hidden()
        expect(crow).to_have_count(0)  # the list shows open complaints
        sup.get_by_label("Show", exact=True).first.select_option("closed")
        expect(crow).to_contain_text("closed")
        closed = server.call(_complaint(server, case_number))
        assert (closed.status, closed.validity) == ("closed", "basically_true")
        assert (closed.root_cause, closed.customer_accepted, closed.customer_rating) == (
            "Courier drops parcels",
            True,
            4,
        )
        assert closed.escalated_at is not None

        # The follow-up the resolution scheduled is in the list (with the wrap-up's one).
        sup.get_by_role("button", name="Refresh follow-ups").click()
        fus = sup.locator("#followups tbody tr[data-followup]")
        expect(fus).to_have_count(2)
        expect(sup.locator("#followups")).to_contain_text("complaint resolution check")
        expect(sup.locator("#followups")).to_contain_text("check delivery")

        # The resolution check is made: started, answered from its outline, completed.
        check = sup.locator("#followups tbody tr", has_text="complaint resolution check")
        check.get_by_role("button", name="Start follow-up complaint_resolution_check").click()
        answers = sup.get_by_role("form", name="Follow-up answers")
        expect(answers).to_be_visible()
        expect(check).to_contain_text("in progress")
        answers.get_by_role("button", name="Complete follow-up").click()
        expect(sup.locator("#status")).to_contain_text("unanswered required questions")
        answers.get_by_label("Is the problem solved for you?").select_option("yes")
        answers.get_by_label("How satisfied are you with the resolution").select_option("4")
        answers.get_by_label("Anything else we should know? (optional)").fill("Fast <b>!</b>")
        assert unnamed_controls(sup) == []
        answers.get_by_role("button", name="Complete follow-up").click()
        expect(sup.locator("#status")).to_contain_text("complaint resolution check: done")
        expect(answers).to_be_hidden()
        expect(fus).to_have_count(1)  # only the wrap-up's follow-up is still open
        made = {f.purpose: f for f in server.call(_followups(server, seeded["customer_id"]))}[
            "complaint_resolution_check"
        ]
        assert (made.status, made.outcome, made.complaint_id) == ("done", "answered", closed.id)
        assert made.answers == {"solved": True, "satisfaction": 4, "comments": "Fast <b>!</b>"}

        # The customer's survey answer about the complaint arrives.
        csrf = next(c["value"] for c in sup_ctx.cookies() if c["name"] == "ccs_csrf")
        answer = sup.request.post(
            base + "/api/v1/surveys/responses",
            data={
                "customer_id": seeded["customer_id"],
                "complaint_id": closed.id,
                "csat": 4,
                "nps": 9,
                "text": "Quick <b>fix</b>",
            },
            headers={"X-CSRF-Token": csrf},
        )
        assert answer.status == 201, answer.text()

        # --- reports: the KPIs the API computes, and the CSV export -----------------------
        sup.get_by_label("By", exact=True).select_option("")  # per day only
        sup.get_by_role("button", name="Show report").click()
        today = dt.datetime.now(dt.UTC).date().isoformat()
        table = sup.locator("#kpis")
        today_row = table.locator(f'tbody tr[data-key="{today}"]')
        expect(today_row).to_be_visible()
        api = sup.request.get(base + "/api/v1/reports/kpis?by=day")
        assert api.ok
        rows = {r["day"]: r for r in api.json()["rows"]}
        assert rows[today]["complaints"] == 1
        expect(today_row.locator('[data-kpi="complaints"]')).to_have_text("1")
        assert rows[today]["csat_mean"] == 4 and rows[today]["responses"] == 1
        expect(today_row.locator('[data-kpi="csat_mean"]')).to_have_text("4")
        # One answer, a promoter (9): NPS = 100 % promoters - 0 % detractors.
        assert rows[today]["nps"] == 100
        expect(today_row.locator('[data-kpi="nps"]')).to_have_text("100")
        expect(today_row.locator('[data-kpi="contacts"]')).to_have_text(
            str(rows[today]["contacts"])
        )
        expect(today_row.locator('[data-kpi="followups"]')).to_have_text(
            str(rows[today]["followups"])
        )
        expect(sup.locator("#rep-chart svg rect.bar-rect")).to_have_count(len(rows))
        sup.locator("#reports-pane").scroll_into_view_if_needed()
        sup.screenshot(path=str(ARTIFACTS / "crm_supervisor_reports.png"))
        with sup.expect_download() as got:
            sup.get_by_role("link", name="Export CSV").click()
        download = got.value
        assert download.suggested_filename == "kpis-day.csv"
        text = download.path().read_text(encoding="utf-8-sig")
        exported = {r["day"]: r for r in csv.DictReader(io.StringIO(text))}
        assert exported[today]["complaints"] == "1"
        assert errors == []
    finally:
        agent_ctx.close()
        sup_ctx.close()
