"""Data retention rules per table (DESIGN.md §10), from ``[retention.<table>]`` in crm.toml.

Each rule names a table, an age in days and what happens to older rows: ``delete`` the row,
or ``clear`` its free-text columns (the row and its counts stay for reports); ``keep``
switches a default rule off. Tables not named keep their default rule. Which tables can be
cleaned, and how, is :data:`RETENTION_TABLES` (the service maps each to its model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ccserver.crm.rules import config_values as cv
from ccserver.errors import ConfigError

# table -> the actions it allows ("clear" only where there is free text to clear)
RETENTION_TABLES: dict[str, tuple[str, ...]] = {
    "messages": ("delete", "clear"),
    "audit_log": ("delete",),
    "survey_responses": ("delete", "clear"),
    "pending_work": ("delete",),  # ended items only: pending work is never removed
}
_KEYS = ("days", "action")


@dataclass(frozen=True, slots=True)
class RetentionRule:
    table: str
    days: float
    action: str  # "delete" | "clear"

    def __post_init__(self) -> None:
        if self.table not in RETENTION_TABLES:
            raise ConfigError(f"retention: unknown table {self.table!r}")
        if self.action not in RETENTION_TABLES[self.table]:
            raise ConfigError(f"retention: {self.table} cannot {self.action!r}")
        if self.days <= 0:
            raise ConfigError("retention: days must be positive")


# Contacts' statistics are kept forever; message bodies go after two years, survey free
# text after two, the audit log after seven; the record of ended pending work (a sent
# reply, a dialled callback: the contacts and messages keep the story) after thirty days.
DEFAULT_RULES: tuple[RetentionRule, ...] = (
    RetentionRule("messages", 730, "clear"),
    RetentionRule("survey_responses", 730, "clear"),
    RetentionRule("audit_log", 7 * 365, "delete"),
    RetentionRule("pending_work", 30, "delete"),
)


def parse_retention(data: Mapping[str, Any], source: str = "crm.toml") -> tuple[RetentionRule, ...]:
    """``[retention.<table>]`` tables with ``days`` and ``action`` (delete | clear | keep)."""
    rules = {r.table: r for r in DEFAULT_RULES}
    for name in data:
        path = f"retention.{name}"
        if name not in RETENTION_TABLES:
            known = ", ".join(RETENTION_TABLES)
            raise cv.fail(source, path, f"unknown table (known: {known})")
        spec = cv.table(data, name, source, "retention")
        for key in spec:
            if key not in _KEYS:
                raise cv.fail(source, f"{path}.{key}", f"unknown key (known: {', '.join(_KEYS)})")
        allowed = (*RETENTION_TABLES[name], "keep")
        action = cv.text(spec, "action", source, path)  # required: never delete by default
        if action not in allowed:
            raise cv.fail(source, f"{path}.action", f"must be one of {', '.join(allowed)}")
        if action == "keep":
            rules.pop(name, None)
            continue
        days = cv.number(spec, "days", source, path, minimum=1)
        rules[name] = RetentionRule(name, days, action)
    return tuple(rules.values())
