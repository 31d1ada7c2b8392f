"""The audit log: who read or changed which record, when, and from where (DESIGN.md §10).

Services write audit rows in the same transaction as the change they describe
(:func:`add_audit`), so a change is never committed without its audit entry. Reads by a
person (screen pops, profile views) are recorded through :meth:`AuditLog.record`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.models import AuditEntry, utcnow

MAX_PAGE = 500


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user id or username (or ``system`` / a token name), role and IP."""

    id: str
    role: str | None = None
    ip: str | None = None


SYSTEM = Actor("system", "system")


@dataclass(frozen=True)
class AuditRecord:
    id: str
    at: dt.datetime
    actor: str
    actor_role: str | None
    action: str
    entity: str
    entity_id: str | None
    ip: str | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "actor_role": self.actor_role,
            "action": self.action,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "ip": self.ip,
            "details": self.details,
        }


def add_audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Stage an audit row in ``session``'s transaction (committed with the change)."""
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor.id,
            actor_role=actor.role,
            action=action,
            entity=entity,
            entity_id=entity_id,
            ip=actor.ip,
            details=details or {},
        )
    )


def audit_insert(
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str | None,
    details: dict[str, Any] | None = None,
    *,
    at: Any = None,
) -> Any:
    """The same audit row as :func:`add_audit`, as a Core INSERT for bulk paths that write
    through a connection (imports) rather than an ORM session."""
    from sqlalchemy import insert

    from ccserver.domain import new_id

    return insert(AuditEntry).values(
        id=new_id(),
        at=at or utcnow(),
        actor=actor.id,
        actor_role=actor.role,
        ip=actor.ip,
        action=action,
        entity=entity,
        entity_id=entity_id,
        details=details or {},
    )


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        at=row.at,
        actor=row.actor,
        actor_role=row.actor_role,
        action=row.action,
        entity=row.entity,
        entity_id=row.entity_id,
        ip=row.ip,
        details=dict(row.details),
    )


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(
        self,
        actor: Actor | str,
        action: str,
        entity: str,
        entity_id: str | None,
        ip: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Write one entry now (its own transaction)."""
        who = actor if isinstance(actor, Actor) else Actor(actor)
        if ip is not None:
            who = Actor(who.id, who.role, ip)
        async with self._sessions.begin() as session:
            add_audit(session, who, action, entity, entity_id, details)

    async def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        entity: str | None = None,
        entity_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditRecord]:
        """Entries matching every given filter, newest first."""
        stmt = select(AuditEntry)
        if actor is not None:
            stmt = stmt.where(AuditEntry.actor == actor)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        if entity is not None:
            stmt = stmt.where(AuditEntry.entity == entity)
        if entity_id is not None:
            stmt = stmt.where(AuditEntry.entity_id == entity_id)
        if since is not None:
            stmt = stmt.where(AuditEntry.at >= since)
        if until is not None:
            stmt = stmt.where(AuditEntry.at < until)
        limit = max(1, min(limit, MAX_PAGE))
        # UUIDv7 ids break ties between rows written in the same microsecond.
        stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        stmt = stmt.limit(limit).offset(max(0, offset))
        async with self._sessions() as session:
            rows = (await session.scalars(stmt)).all()
        return [_record(r) for r in rows]
