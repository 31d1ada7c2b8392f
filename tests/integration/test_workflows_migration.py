"""Migration 0002 on SQLite and PostgreSQL: a database of 0001 whose follow-up attempts and
survey ratings live in audit rows gets them copied into the new ``follow_ups.attempts`` and
``survey_responses.ratings`` columns, the services then read the columns, and a downgrade
to 0001 removes them again."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from ccserver.crm import migrate
from ccserver.crm.database import create_engine, session_factory
from ccserver.crm.rules.config import CrmRules
from ccserver.crm.rules.followup_lifecycle import RetryPolicy
from ccserver.crm.services import workflow_services

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)


def _seed_0001(conn: Connection) -> None:
    meta = sa.MetaData()
    meta.reflect(conn, only=("follow_ups", "survey_responses", "audit_log"))
    fu, sr, audit = (meta.tables[n] for n in ("follow_ups", "survey_responses", "audit_log"))
    conn.execute(
        fu.insert().values(
            id="fu-1",
            purpose="check",
            outline=[],
            channel="phone",
            status="planned",
            answers={},
            created_at=T0,
            updated_at=T0,
        )
    )
    conn.execute(sr.insert().values(id="sr-1", csat=4, created_at=T0))
    conn.execute(sr.insert().values(id="sr-2", csat=2, created_at=T0))
    rows: list[dict[str, Any]] = [
        {"entity": "follow_up", "entity_id": "fu-1", "action": "no_answer", "note": "busy"},
        {"entity": "follow_up", "entity_id": "fu-1", "action": "no_answer", "note": ""},
        {"entity": "follow_up", "entity_id": "fu-1", "action": "start", "note": ""},
        {"entity": "survey_response", "entity_id": "sr-1", "action": "respond", "note": None},
    ]
    for n, row in enumerate(rows):
        details: dict[str, Any] = {"status": "planned"}
        if row["note"]:
            details["note"] = row["note"]
        if row["entity"] == "survey_response":
            details = {"ratings": {"speed": 5, "courtesy": 3}}
        conn.execute(
            audit.insert().values(
                id=f"a-{n}",
                at=T0 + dt.timedelta(minutes=n),
                actor="alice",
                action=row["action"],
                entity=row["entity"],
                entity_id=row["entity_id"],
                details=details,
            )
        )


def _columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


async def test_0002_copies_attempts_and_ratings_and_downgrades(empty_db_url: str) -> None:
    await migrate.upgrade(empty_db_url, "0001")
    engine = create_engine(empty_db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_seed_0001)
        await migrate.upgrade(empty_db_url, "head")
        async with engine.connect() as conn:
            got = (
                await conn.execute(sa.text("SELECT attempts FROM follow_ups WHERE id = 'fu-1'"))
            ).scalar_one()
        attempts = got if isinstance(got, list) else json.loads(got)
        assert [(a["result"], a["by"], a["note"]) for a in attempts] == [
            ("no_answer", "alice", "busy"),
            ("no_answer", "alice", ""),
        ]
        assert dt.datetime.fromisoformat(attempts[0]["at"]) == T0

        # The services read the columns: the retry policy counts the copied attempts, and
        # the CSI uses the copied ratings (sr-2 had none: an empty object, not NULL).
        rules = CrmRules(followup_retry=RetryPolicy(max_attempts=3, backoff_hours=(1.0,)))
        wf = workflow_services(session_factory(engine), rules)
        await wf.followups.act("fu-1", "due", now=T0 + dt.timedelta(hours=1))
        await wf.followups.act("fu-1", "start", now=T0 + dt.timedelta(hours=1))
        out = await wf.followups.act(
            "fu-1", "no_answer", note="again", now=T0 + dt.timedelta(hours=2)
        )
        assert out["status"] == "unreachable"  # third failed attempt of three
        assert [a["result"] for a in out["attempts"]] == ["no_answer"] * 3
        rows = {r["id"]: r["ratings"] for r in await wf.surveys.rows()}
        assert rows == {"sr-1": {"speed": 5, "courtesy": 3}, "sr-2": {}}

        def _down(connection: Connection) -> None:
            cfg = migrate.alembic_config()
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0001")

        async with engine.begin() as conn:
            await conn.run_sync(_down)
        async with engine.connect() as conn:
            assert "attempts" not in await conn.run_sync(_columns, "follow_ups")
            assert "ratings" not in await conn.run_sync(_columns, "survey_responses")
            count = (await conn.execute(sa.text("SELECT count(*) FROM audit_log"))).scalar_one()
        assert count >= 4  # the audit trail is never rewritten by the schema change
    finally:
        await engine.dispose()
