"""Alembic environment: runs on the connection that :mod:`ccserver.crm.migrate` passes in.

Alembic is synchronous; the migrate module opens an async connection and hands its sync
face over through ``config.attributes["connection"]`` (``AsyncConnection.run_sync``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ccserver.crm.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables in later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ccserver.crm.migrate (ccserver migrate)")
_run(connection)
