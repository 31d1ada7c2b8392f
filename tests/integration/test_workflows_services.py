"""Workflow services on SQLite and PostgreSQL: follow-up consent, bulk planning from a
segment and from deliveries, retries until unreachable, email follow-ups sending a survey
link, complaint reopen, retention and the nightly segmentation job."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.bus import InMemoryBus
from ccserver.crm.audit import Actor
from ccserver.crm.models import AuditEntry, Customer, CustomerIdentity, Message, Order
from ccserver.crm.rules.config import CrmRules
from ccserver.crm.rules.errors import InvalidAnswer
from ccserver.crm.services import workflow_services
from ccserver.crm.services.common import NoConsent
from ccserver.crm.services.retention import RetentionRule, apply_retention
from ccserver.crm.services.segmentation_job import recompute_segments
from ccserver.errors import ConfigError, IllegalTransition
from ccserver.runtime.scheduler import SURVEY_LINK_TOPIC, WorkflowJobs, check_survey_token

T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
AGENT = Actor("u-agent", "agent", "10.0.0.1")


async def _customers(sessions: async_sessionmaker[AsyncSession]) -> dict[str, str]:
    async with sessions.begin() as s:
        rows = {
            "ann": Customer(
                customer_number="C1",
                display_name="Ann",
                name_key="ann",
                segment="retail",
                consent_email=True,
            ),
            "bob": Customer(
                customer_number="C2",
                display_name="Bob",
                name_key="bob",
                segment="retail",
                consent_phone=False,
            ),
            "cy": Customer(
                customer_number="C3", display_name="Cy", name_key="cy", segment="business"
            ),
        }
        s.add_all(rows.values())
        await s.flush()
        s.add(CustomerIdentity(customer_id=rows["ann"].id, kind="email", value="ann@x.org"))
        s.add(
            Order(
                order_number="O1",
                customer_id=rows["cy"].id,
                total=Decimal("7000"),
                ordered_at=T0 - 30 * 24 * H,
                delivered_at=T0 - 2 * 24 * H,
            )
        )
        for n in range(5):
            s.add(
                Order(
                    order_number=f"O2{n}",
                    customer_id=rows["cy"].id,
                    total=Decimal("10"),
                    ordered_at=T0 - (40 + n) * 24 * H,
                )
            )
        return {k: v.id for k, v in rows.items()}


async def test_followups_consent_bulk_retry_and_survey_link(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _customers(sessions)
    wf = workflow_services(sessions, CrmRules())
    fus = wf.followups

    with pytest.raises(NoConsent):  # Bob refused phone contact
        await fus.create(customer_id=ids["bob"], purpose="check", channel="phone", now=T0)
    outline = [{"key": "ok", "text": "All good?", "kind": "yes_no"}]
    one = await fus.create(
        customer_id=ids["cy"],
        purpose="check",
        channel="voice",
        outline=outline,
        questioner_id="u-agent",
        scheduled_at=T0 + H,
        actor=AGENT,
        now=T0,
    )
    assert one["status"] == "planned" and one["channel"] == "phone"

    bulk = await fus.bulk_from_segment(
        purpose="welcome", channel="phone", segment="retail", delay_hours=24, now=T0
    )
    assert bulk["planned"] == 1 and bulk["skipped"] == [
        {"customer_id": ids["bob"], "reason": "no_consent"}
    ]
    delivered = await fus.bulk_from_segment(
        purpose="delivery_check",
        channel="email",
        delivered_since=T0 - 7 * 24 * H,
        delivered_until=T0,
        now=T0,
    )
    assert delivered["planned"] == 1 and delivered["skipped"] == []  # Cy's delivery
    none = await fus.bulk_from_segment(
        purpose="delivery_check",
        channel="email",
        delivered_since=T0 - 7 * 24 * H,
        delivered_until=T0 - 3 * 24 * H,
        now=T0,
    )
    assert none["planned"] == 0

    # Retries: no answer twice -> planned again with back-off, third time -> unreachable.
    fid = one["id"]
    await fus.act(fid, "start", actor=AGENT, now=T0 + H)
    with pytest.raises(InvalidAnswer):
        await fus.act(fid, "answer", answers={"ok": "maybe"}, now=T0 + H)
    back = await fus.act(fid, "no_answer", actor=AGENT, now=T0 + 2 * H)
    assert back["status"] == "planned"
    assert dt.datetime.fromisoformat(back["window_start"]) == T0 + 4 * H  # +2 h back-off
    await fus.act(fid, "start", now=T0 + 4 * H)
    back = await fus.act(fid, "no_answer", now=T0 + 5 * H)
    assert dt.datetime.fromisoformat(back["window_start"]) == T0 + 29 * H  # +24 h
    await fus.act(fid, "start", now=T0 + 29 * H)
    gone = await fus.act(fid, "no_answer", now=T0 + 30 * H)
    assert gone["status"] == "unreachable"
    with pytest.raises(IllegalTransition):
        await fus.act(fid, "start", now=T0 + 31 * H)
    assert (await fus.act(fid, "cancel", now=T0 + 31 * H))["status"] == "cancelled"

    # An e-mail follow-up that comes due sends a signed survey link on the bus.
    mail = await fus.create(
        customer_id=ids["ann"], purpose="survey", channel="email", scheduled_at=T0, now=T0
    )
    bus = InMemoryBus()
    await bus.start()
    try:
        jobs = WorkflowJobs(sessions, wf, bus=bus, secret=b"k" * 32, public_url="https://cc/")
        async with bus.subscribe([SURVEY_LINK_TOPIC]) as sub:
            started = await jobs.start_due_followups(T0 + H)
            it = aiter(sub)
            sent_all = [await anext(it) for _ in started["emailed"]]
    finally:
        await bus.close()
    assert mail["id"] in started["emailed"] and len(started["emailed"]) == 2  # + Cy's
    by_fu = {m.data["data"]["follow_up_id"]: m.data["data"] for m in sent_all}
    data: dict[str, Any] = by_fu[mail["id"]]
    assert data["email"] == "ann@x.org" and data["link"].startswith("https://cc/survey/")
    assert check_survey_token(b"k" * 32, data["link"].rsplit("/", 1)[1]) == mail["id"]
    assert check_survey_token(b"other" * 8, data["link"].rsplit("/", 1)[1]) is None
    assert (await fus.get(mail["id"]))["status"] == "due"
    due = await fus.search(status="due")
    assert mail["id"] in [d["id"] for d in due]


async def test_reopen_retention_and_segmentation(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _customers(sessions)
    wf = workflow_services(sessions, CrmRules())
    c = await wf.complaints.create(
        customer_id=ids["bob"],
        category="service",
        subcategory="etiquette",
        description="rude",
        now=T0,
    )
    for action in ("acknowledge", "investigate"):
        await wf.complaints.act(c["id"], action, actor=AGENT, now=T0 + H)
    r = await wf.complaints.act(c["id"], "resolve", resolution="apologised", now=T0 + 2 * H)
    assert r["follow_up"] is None  # Bob refused phone contact: no automatic call
    r = await wf.complaints.act(c["id"], "reopen", note="still unhappy", now=T0 + 3 * H)
    assert r["status"] == "investigating" and r["resolved_at"] is None
    assert r["history"][-1]["note"] == "still unhappy"
    listed = await wf.complaints.search(overdue=True, now=T0 + 100 * H)
    assert [x["id"] for x in listed] == [c["id"]]  # normal severity: 72 h

    # Retention: old message bodies cleared (rows kept), recent ones untouched.
    async with sessions.begin() as s:
        from ccserver.crm.models import Contact

        contact = Contact(interaction_id="i", channel="email", started_at=T0)
        s.add(contact)
        await s.flush()
        s.add(
            Message(
                contact_id=contact.id,
                direction="inbound",
                body_text="old",
                created_at=T0 - 800 * 24 * H,
            )
        )
        s.add(
            Message(
                contact_id=contact.id,
                direction="inbound",
                body_text="new",
                created_at=T0 - 10 * 24 * H,
            )
        )
    counts = await apply_retention(sessions, now=T0)
    assert counts["messages:clear"] == 1
    async with sessions() as s:
        bodies = sorted(str(b) for b in await s.scalars(select(Message.body_text)))
        assert bodies == ["None", "new"]
        audited = await s.scalars(select(AuditEntry.action).where(AuditEntry.action == "retention"))
        assert list(audited) == ["retention"]
    with pytest.raises(ConfigError):
        RetentionRule("audit_log", 30, "clear")

    # Segmentation: Cy (6 orders, 7050 spent) becomes VIP; customers without orders prospects.
    result = await recompute_segments(sessions, CrmRules().segmentation, now=T0)
    assert result == {"customers": 3, "changed": 3}
    async with sessions() as s:
        tiers = {c.id: (c.tier, c.lifecycle_stage) for c in await s.scalars(select(Customer))}
    assert tiers[ids["cy"]] == ("vip", "new") and tiers[ids["ann"]] == ("prospect", "prospect")
    again = await recompute_segments(sessions, CrmRules().segmentation, now=T0)
    assert again["changed"] == 0

    # The scheduler's tick runs every job due at ``now``; a failing job does not stop the
    # others, and segmentation runs once per night (after 02:00 UTC).
    jobs = WorkflowJobs(sessions, wf)
    ran: list[str] = []

    async def broken(now: dt.datetime | None = None) -> dict[str, int]:
        ran.append("retention")
        raise RuntimeError("disk full")

    async def segment(now: dt.datetime | None = None) -> dict[str, int]:
        ran.append("segmentation")
        return {}

    jobs.retention = broken  # type: ignore[method-assign]
    jobs.segmentation = segment  # type: ignore[method-assign]
    night = dt.datetime(2026, 5, 8, 1, 30, tzinfo=dt.UTC)  # Bob's complaint is overdue
    await jobs.tick(night)  # before 02:00: no segmentation yet
    await jobs.tick(night + H)  # 02:30: retention (hourly) and segmentation
    await jobs.tick(night + 2 * H)  # 03:30: retention; segmentation already ran tonight
    assert ran == ["retention", "retention", "segmentation", "retention"]
    escalated = await wf.complaints.search(overdue=True, now=night)
    assert escalated[0]["escalated_at"] is not None  # the tick escalated Bob's complaint
