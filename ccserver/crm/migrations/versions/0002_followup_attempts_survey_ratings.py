"""Follow-up attempts and survey CSI ratings as columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

``follow_ups.attempts`` (JSON list of ``{at, result, by, note}``) and
``survey_responses.ratings`` (JSON object attribute -> 1..5). Until now the services kept
both in audit rows (``no_answer`` rows per follow-up, ``details.ratings`` of each
``respond`` row); the upgrade copies them from there, so existing databases keep their
retry counts and CSI inputs. The audit rows stay (they are the audit trail); a downgrade
drops the columns, and the services of 0001 read the audit rows again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_audit = sa.table(
    "audit_log",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("entity", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("details", sa.JSON()),
)
_follow_ups = sa.table("follow_ups", sa.column("id", sa.String()), sa.column("attempts", sa.JSON()))
_responses = sa.table(
    "survey_responses", sa.column("id", sa.String()), sa.column("ratings", sa.JSON())
)


def _details(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):  # a JSON column read without its type on some drivers
        raw = json.loads(raw)
    return raw if isinstance(raw, dict) else {}


def _iso(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    return None if value is None else str(value)


def upgrade() -> None:
    # Server defaults fill the rows that exist now; new rows get theirs from the models.
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempts", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ratings", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    _copy_from_audit()


def _copy_from_audit() -> None:
    bind = op.get_bind()
    attempts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = bind.execute(
        sa.select(_audit.c.entity_id, _audit.c.at, _audit.c.actor, _audit.c.details)
        .where(
            _audit.c.entity == "follow_up",
            _audit.c.action == "no_answer",
            _audit.c.entity_id.is_not(None),
        )
        .order_by(_audit.c.at)
    )
    for entity_id, at, actor, details in rows:
        note = str(_details(details).get("note", ""))
        attempts[entity_id].append(
            {"at": _iso(at), "result": "no_answer", "by": actor, "note": note}
        )
    for follow_up_id, items in attempts.items():
        bind.execute(
            sa.update(_follow_ups).where(_follow_ups.c.id == follow_up_id).values(attempts=items)
        )
    answers = bind.execute(
        sa.select(_audit.c.entity_id, _audit.c.details).where(
            _audit.c.entity == "survey_response",
            _audit.c.action == "respond",
            _audit.c.entity_id.is_not(None),
        )
    )
    for entity_id, details in answers:
        ratings = _details(details).get("ratings")
        if isinstance(ratings, dict) and ratings:
            values = {str(k): int(v) for k, v in ratings.items()}
            bind.execute(
                sa.update(_responses).where(_responses.c.id == entity_id).values(ratings=values)
            )


def downgrade() -> None:
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_column("ratings")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_column("attempts")
