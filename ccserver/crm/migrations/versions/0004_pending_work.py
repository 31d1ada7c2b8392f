"""Pending work that must survive a restart.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

``pending_work``: emails and web forms waiting for an agent, scheduled callbacks and
outbound mail waiting for a retry; ``payload`` holds what is needed to take the item back
after a restart, ``state`` is ``pending`` until the item ends (``done``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "pending_work",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_work")),
    )
    op.create_index("ix_pending_work_state_kind", "pending_work", ["state", "kind"])


def downgrade() -> None:
    op.drop_index("ix_pending_work_state_kind", table_name="pending_work")
    op.drop_table("pending_work")
