"""Data retention rules per table, run by the scheduler (DESIGN.md §10).

Each rule names a table, an age in days and what happens to older rows: ``delete`` the row,
or ``clear`` the listed free-text columns (the row and its counts stay for reports). The
rules come from ``[retention.<table>]`` in crm.toml (:mod:`ccserver.crm.rules.retention`,
``CrmRules.retention``); the defaults keep contacts' statistics forever but drop message
bodies after two years, the audit log after seven, survey free text after two, and ended
pending work (``pending_work`` rows no longer pending) after thirty days.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm import stored_files
from ccserver.crm.audit import SYSTEM, add_audit
from ccserver.crm.models import AuditEntry, Message, PendingWork, SurveyResponse
from ccserver.crm.rules.retention import DEFAULT_RULES, RETENTION_TABLES, RetentionRule
from ccserver.crm.services.common import now_utc

__all__ = ["DEFAULT_RULES", "RetentionRule", "apply_retention"]

# table -> (model, time column, values that clear its free text); the tables and the
# actions each allows are the rules' RETENTION_TABLES (checked below).
_TABLES: dict[str, tuple[Any, str, dict[str, Any]]] = {
    "messages": (
        Message,
        "created_at",
        {"body_text": None, "body_html": None, "headers": {}, "attachments": []},
    ),
    "audit_log": (AuditEntry, "at", {}),
    "survey_responses": (SurveyResponse, "created_at", {"text": None}),
    "pending_work": (PendingWork, "updated_at", {}),
}
# Rows a rule may touch at all, whatever their age.
_ONLY: dict[str, Any] = {"pending_work": PendingWork.state != "pending"}
assert set(_TABLES) == set(RETENTION_TABLES), "retention tables out of step with the rules"


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession],
    rules: Sequence[RetentionRule] = DEFAULT_RULES,
    now: dt.datetime | None = None,
    data_dir: Path | None = None,
) -> dict[str, int]:
    """Apply every rule once; returns rows affected per ``table:action`` (audited). With
    ``data_dir``, the files those message rows point at (mail as received, chat files) are
    deleted with them (``files:delete``)."""
    at = now_utc(now)
    counts: dict[str, int] = {}
    files: list[Path] = []
    async with sessions.begin() as session:
        for rule in rules:
            model, time_col, clear = _TABLES[rule.table]
            cutoff = at - dt.timedelta(days=rule.days)
            where = getattr(model, time_col) < cutoff
            if rule.table in _ONLY:
                where = and_(where, _ONLY[rule.table])
            if model is Message and data_dir is not None:
                # Rows already cleared have no body and no references left.
                rows = await session.execute(
                    select(Message.headers, Message.attachments).where(
                        where, Message.body_text.is_not(None)
                    )
                )
                refs = [r for h, a in rows.all() for r in stored_files.message_refs(h, a)]
                files += stored_files.under(data_dir, refs)
            if rule.action == "delete":
                result: Any = await session.execute(delete(model).where(where))
            else:
                result = await session.execute(update(model).where(where).values(**clear))
            counts[f"{rule.table}:{rule.action}"] = int(result.rowcount or 0)
        if data_dir is not None:
            counts["files:delete"] = len(files)
        add_audit(session, SYSTEM, "retention", "database", None, dict(counts))
    if files:  # after the commit: a failed transaction keeps rows and files together
        counts["files:delete"] = await asyncio.to_thread(stored_files.remove, files)
    return counts
