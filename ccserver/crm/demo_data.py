"""A realistic, deterministic demo data set (``ccserver demo-data``).

Customers from several locales (English, Japanese, Thai, Chinese; names in their own
script), valid E.164 phones of their regions and e-mail addresses, tiers, segments and life-cycle
stages; orders with statuses and shipping/delivery dates; past contacts across channels with
queues, agents, dispositions and notes (chat and e-mail contacts with their messages); CSAT/NPS
answers; some open and some closed complaints; pending follow-ups; and the people who use the
console: an admin, a supervisor and agents with skills and SIP endpoints (``PJSIP/agent1001``).

Same ``seed`` and ``now`` -> the very same rows (ids included), so demos and tests can name
them. Rows are bulk-inserted with the outbox's compiled inserts, a few statements per table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.crm.database import session_factory
from ccserver.crm.demo_data_rows import (
    Gen,
    complaint_row,
    contact_row,
    customer_row,
    follow_up_row,
    messages_row,
    order_row,
    pick,
    survey_response_row,
)
from ccserver.crm.demo_data_vocab import LOCALE_WEIGHTS
from ccserver.crm.errors import DuplicateUser
from ccserver.crm.models import (
    Complaint,
    Contact,
    Counter,
    Customer,
    CustomerIdentity,
    FollowUp,
    Message,
    Order,
    Survey,
    SurveyResponse,
)
from ccserver.crm.outbox_handlers import insert_handler
from ccserver.crm.users import UserService

DEMO_PASSWORD = "ccserver-demo"  # printed by the CLI; demo databases only


@dataclass
class DemoSummary:
    customers: int = 0
    identities: int = 0
    orders: int = 0
    contacts: int = 0
    messages: int = 0
    survey_responses: int = 0
    complaints: int = 0
    open_complaints: int = 0
    follow_ups: int = 0
    users: list[str] = field(default_factory=list)
    password: str = DEMO_PASSWORD
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


async def generate_demo_data(
    engine: AsyncEngine,
    *,
    customers: int = 5000,
    seed: int = 1,
    agents: int = 12,
    now: dt.datetime | None = None,
    with_users: bool = True,
) -> DemoSummary:
    """Fill a migrated database with a demo data set; returns what was written."""
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    g = Gen(seed, now)
    summary = DemoSummary()
    agent_names = [f"agent{1001 + i}" for i in range(agents)]
    if with_users:
        summary.users = await _create_users(engine, agent_names)
    tables: dict[str, list[dict[str, Any]]] = {
        name: []
        for name in (
            "customers",
            "customer_identities",
            "orders",
            "contacts",
            "messages",
            "surveys",
            "survey_responses",
            "complaints",
            "follow_ups",
        )
    }
    survey_id = g.uid(now - dt.timedelta(days=400))
    tables["surveys"].append(
        {
            "id": survey_id,
            "kind": "csat",
            "name": f"Post-contact satisfaction (demo {seed})",
            "questions": [
                {"id": "csat", "text": "How satisfied were you? (1-5)"},
                {"id": "nps", "text": "How likely are you to recommend us? (0-10)"},
            ],
            "active": True,
            "created_at": now - dt.timedelta(days=400),
        }
    )
    async with engine.begin() as conn:
        last = (
            await conn.execute(
                update(Counter)
                .where(Counter.name == "customer")
                .values(value=Counter.value + customers)
                .returning(Counter.value)
            )
        ).scalar_one()
        first_number = int(last) - customers + 1
        complaint_base = int(
            (
                await conn.execute(select(Counter.value).where(Counter.name == "complaint"))
            ).scalar_one()
            or 0
        )
    complaint_no = complaint_base
    for i in range(customers):
        locale = pick(g.rng, list(LOCALE_WEIGHTS.items()))
        customer, identities = customer_row(g, locale, first_number + i)
        tables["customers"].append(customer)
        tables["customer_identities"].extend(identities)
        cid = customer["id"]
        for k in range(g.rng.choices((0, 1, 2, 3, 4), (25, 35, 20, 12, 8))[0]):
            number = f"SO-{first_number + i:06d}-{k + 1}"  # unique as customer numbers are
            tables["orders"].append(order_row(g, locale, cid, number))
        contacts = [
            contact_row(g, cid, agent_names)
            for _ in range(g.rng.choices((0, 1, 2, 3, 5), (20, 35, 25, 12, 8))[0])
        ]
        contacts.sort(key=lambda c: c["started_at"])
        tables["contacts"].extend(contacts)
        for c in contacts:
            if c["channel"] in ("email", "chat", "web"):
                tables["messages"].extend(messages_row(g, c, customer))
            if c["outcome"] == "answered" and g.rng.random() < 0.25:
                tables["survey_responses"].append(survey_response_row(g, c, survey_id))
        if contacts and g.rng.random() < 0.06:
            complaint_no += 1
            complaint = complaint_row(g, cid, contacts[-1], agent_names, complaint_no)
            tables["complaints"].append(complaint)
            summary.open_complaints += complaint["closed_at"] is None
            if complaint["status"] in ("resolved", "customer_feedback") or g.rng.random() < 0.3:
                tables["follow_ups"].append(follow_up_row(g, cid, agent_names, complaint["id"]))
        elif g.rng.random() < 0.02:
            tables["follow_ups"].append(follow_up_row(g, cid, agent_names, None))

    models: dict[str, Any] = {
        "customers": Customer,
        "customer_identities": CustomerIdentity,
        "orders": Order,
        "contacts": Contact,
        "messages": Message,
        "surveys": Survey,
        "survey_responses": SurveyResponse,
        "complaints": Complaint,
        "follow_ups": FollowUp,
    }
    async with engine.begin() as conn:
        for name, rows in tables.items():
            handler = insert_handler(cast(Table, models[name].__table__))
            for start in range(0, len(rows), 5000):
                await handler(conn, rows[start : start + 5000])
        if complaint_no != complaint_base:
            await conn.execute(
                update(Counter).where(Counter.name == "complaint").values(value=complaint_no)
            )
    summary.customers = len(tables["customers"])
    summary.identities = len(tables["customer_identities"])
    summary.orders = len(tables["orders"])
    summary.contacts = len(tables["contacts"])
    summary.messages = len(tables["messages"])
    summary.survey_responses = len(tables["survey_responses"])
    summary.complaints = len(tables["complaints"])
    summary.follow_ups = len(tables["follow_ups"])
    summary.seconds = round(time.perf_counter() - started, 2)
    return summary


async def _create_users(engine: AsyncEngine, agents: list[str]) -> list[str]:
    service = UserService(session_factory(engine))
    skills_pool = ("sales", "support", "billing", "delivery", "vip")
    languages = ("en", "ja", "th", "zh")
    people: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
        ("admin", "admin", "Administrator", None, {}),
        ("supervisor", "supervisor", "Sam Supervisor", "PJSIP/supervisor", {}),
    ]
    for i, name in enumerate(agents):
        skills: dict[str, Any] = {s: 1 + (i * 7 + k * 3) % 5 for k, s in enumerate(skills_pool)}
        skills[languages[i % len(languages)]] = 5
        if i % 3 == 0:
            skills["en"] = 5
        people.append((name, "agent", f"Agent {1001 + i}", f"PJSIP/{name}", skills))
    created = []
    for username, role, display, endpoint, skills in people:
        with contextlib.suppress(DuplicateUser):  # added twice: the people are there
            await service.create_user(
                username,
                DEMO_PASSWORD,
                role=role,
                display_name=display,
                endpoint=endpoint,
                skills=skills,
                teams=["demo"] if role != "admin" else [],
            )
        created.append(username)
    return created
