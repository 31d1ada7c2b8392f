"""Complaint attachments.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

``complaints.attachments``: JSON list of ``{id, name, content_type, size, sha256, at, by}``;
the files themselves are stored under the data directory, not in the database.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attachments", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("attachments")
