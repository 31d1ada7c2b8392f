"""Small helpers shared by the workflow services: clock conversions, JSON-ready rows,
loading the CRM practice rules, and the errors the services add to the rule errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from ccserver.crm.models import Base
from ccserver.crm.rules.config import CrmRules, load_crm_rules
from ccserver.errors import Conflict, NotFound


class WorkflowNotFound(NotFound):
    code = "workflow_record_not_found"


class NoConsent(Conflict):
    """The customer's consent flags do not allow reaching them this way for this purpose."""

    code = "no_consent"


def epoch(value: dt.datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def aware(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def now_utc(now: dt.datetime | None = None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("naive datetime given as now; pass an aware datetime")
    return now


def jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_json(obj: Base, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of an ORM row, with times as ISO 8601 and decimals as strings."""
    return {
        col.key: jsonable(getattr(obj, col.key))
        for col in obj.__table__.columns
        if col.key not in skip
    }


def load_rules(path: Path | None) -> CrmRules:
    """The CRM practice rules from ``path`` (config/crm.toml); built-in defaults without one."""
    if path is None or not Path(path).exists():
        return CrmRules()
    return load_crm_rules(path)
