"""Data retention rules per table, run by the scheduler (DESIGN.md §10).

Each rule names a table, an age in days and what happens to older rows: ``delete`` the row,
or ``clear`` the listed free-text columns (the row and its counts stay for reports). The
defaults keep contacts' statistics forever but drop message bodies after two years, the
audit log after seven, and survey free text after two. Sites override them by passing
their own rules (a ``[retention]`` section is not part of crm.toml yet).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import SYSTEM, add_audit
from ccserver.crm.models import AuditEntry, Message, SurveyResponse
from ccserver.crm.services.common import now_utc
from ccserver.errors import ConfigError

# table -> (model, time column, columns that may be cleared)
_TABLES: dict[str, tuple[Any, str, dict[str, Any]]] = {
    "messages": (
        Message,
        "created_at",
        {"body_text": None, "body_html": None, "headers": {}, "attachments": []},
    ),
    "audit_log": (AuditEntry, "at", {}),
    "survey_responses": (SurveyResponse, "created_at", {"text": None}),
}


@dataclass(frozen=True, slots=True)
class RetentionRule:
    table: str
    days: float
    action: str  # "delete" | "clear"

    def __post_init__(self) -> None:
        if self.table not in _TABLES:
            raise ConfigError(f"retention: unknown table {self.table!r}")
        if self.action not in ("delete", "clear") or (
            self.action == "clear" and not _TABLES[self.table][2]
        ):
            raise ConfigError(f"retention: {self.table} cannot {self.action!r}")
        if self.days <= 0:
            raise ConfigError("retention: days must be positive")


DEFAULT_RULES: tuple[RetentionRule, ...] = (
    RetentionRule("messages", 730, "clear"),
    RetentionRule("survey_responses", 730, "clear"),
    RetentionRule("audit_log", 7 * 365, "delete"),
)


async def apply_retention(
    sessions: async_sessionmaker[AsyncSession],
    rules: Sequence[RetentionRule] = DEFAULT_RULES,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Apply every rule once; returns rows affected per ``table:action`` (audited)."""
    at = now_utc(now)
    counts: dict[str, int] = {}
    async with sessions.begin() as session:
        for rule in rules:
            model, time_col, clear = _TABLES[rule.table]
            cutoff = at - dt.timedelta(days=rule.days)
            where = getattr(model, time_col) < cutoff
            if rule.action == "delete":
                result: Any = await session.execute(delete(model).where(where))
            else:
                result = await session.execute(update(model).where(where).values(**clear))
            counts[f"{rule.table}:{rule.action}"] = int(result.rowcount or 0)
        add_audit(session, SYSTEM, "retention", "database", None, dict(counts))
    return counts
