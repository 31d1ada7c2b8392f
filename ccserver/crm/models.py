"""SQLAlchemy models for every table of the CRM store (DESIGN.md §7).

The schema itself is created only by the Alembic migrations in ``crm/migrations``; these
models describe it for queries, and a test proves the two agree (``compare_metadata``).

Conventions, kept the same across tables so services and migrations stay simple:
- ids are UUIDv7 strings from :func:`ccserver.domain.new_id` (time-sortable, index-friendly);
- timestamps are stored as UTC and always come back timezone-aware (:class:`UtcDateTime`),
  because SQLite drops the offset and comparing naive with aware datetimes raises;
- free-form structures (tags, IVR path, answers, history) are JSON columns;
- every lookup a service makes has an index, named by the metadata naming convention so
  Alembic migrations name constraints identically on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from ccserver.domain import new_id

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(36)
# 64-bit on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC that is always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(dt.UTC)
        # SQLite keeps text without an offset; store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        list[str]: JSON(),
        Decimal: Numeric(14, 2),
    }


def _id_column() -> Mapped[str]:
    return mapped_column(ID, primary_key=True, default=new_id)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(default=utcnow)


# --- customers --------------------------------------------------------------------------------
class Customer(Base):
    __tablename__ = "customers"
    # Pattern ops let PostgreSQL use the index for LIKE 'prefix%' under any collation.
    __table_args__ = (
        Index("ix_customers_name_key", "name_key", postgresql_ops={"name_key": "text_pattern_ops"}),
        Index(
            "ix_customers_last_name_key",
            "last_name_key",
            postgresql_ops={"last_name_key": "text_pattern_ops"},
        ),
    )

    id: Mapped[str] = _id_column()
    customer_number: Mapped[str] = mapped_column(String(20), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Lower-cased copies used for indexed prefix search (LIKE 'abc%').
    name_key: Mapped[str] = mapped_column(String(200))
    last_name_key: Mapped[str | None] = mapped_column(String(100))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    company: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(40), index=True)
    tier: Mapped[str | None] = mapped_column(String(40))
    lifecycle_stage: Mapped[str | None] = mapped_column(String(40))
    lifetime_value: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    preferred_language: Mapped[str | None] = mapped_column(String(16))
    consent_phone: Mapped[bool] = mapped_column(default=True)
    consent_email: Mapped[bool] = mapped_column(default=True)
    consent_sms: Mapped[bool] = mapped_column(default=False)
    consent_survey: Mapped[bool] = mapped_column(default=True)
    consent_marketing: Mapped[bool] = mapped_column(default=False)
    owner_agent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    tags: Mapped[list[str]] = mapped_column(default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    merged_into_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    erased_at: Mapped[dt.datetime | None] = mapped_column()

    # SQLAlchemy adds "AND version = :old" to every UPDATE, so two writers racing on the
    # same row cannot both win even between our own version check and the commit.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CustomerIdentity(Base):
    """Normalised phone / email / chat handle / account id → customer: the screen-pop key."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[str] = _id_column()
    customer_id: Mapped[str] = mapped_column(
        ID, ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    raw_value: Mapped[str | None] = mapped_column(String(320))
    label: Mapped[str | None] = mapped_column(String(40))
    is_primary: Mapped[bool] = mapped_column(default=False)
    verified: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = _created()


class CustomerHistory(Base):
    __tablename__ = "customer_history"
    __table_args__ = (Index("ix_customer_history_customer_at", "customer_id", "changed_at"),)

    id: Mapped[str] = _id_column()
    customer_id: Mapped[str] = mapped_column(ID, ForeignKey("customers.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[Any | None] = mapped_column(JSON)
    new_value: Mapped[Any | None] = mapped_column(JSON)
    changed_by: Mapped[str | None] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column()


# --- contacts and messages --------------------------------------------------------------------
class Contact(Base):
    """One row per interaction leg, including abandoned calls and unanswered emails."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_customer_started", "customer_id", "started_at"),
        Index("ix_contacts_agent_started", "agent_id", "started_at"),
        Index("ix_contacts_queue_started", "queue", "started_at"),
        Index("ix_contacts_channel_started", "channel", "started_at"),
    )

    id: Mapped[str] = _id_column()
    interaction_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("customers.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(16), default="inbound")
    queue: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(index=True)
    queued_at: Mapped[dt.datetime | None] = mapped_column()
    answered_at: Mapped[dt.datetime | None] = mapped_column()
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    wrap_up_end_at: Mapped[dt.datetime | None] = mapped_column()
    wait_s: Mapped[float | None] = mapped_column()
    talk_s: Mapped[float | None] = mapped_column()
    hold_s: Mapped[float | None] = mapped_column()
    wrap_s: Mapped[float | None] = mapped_column()
    outcome: Mapped[str | None] = mapped_column(String(32))
    disposition: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    fcr: Mapped[bool | None] = mapped_column()
    recording_ref: Mapped[str | None] = mapped_column(String(500))
    ivr_path: Mapped[list[Any]] = mapped_column(default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    related_contact_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[dt.datetime] = _created()


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_contact_created", "contact_id", "created_at"),)

    id: Mapped[str] = _id_column()
    contact_id: Mapped[str] = mapped_column(ID, ForeignKey("contacts.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str | None] = mapped_column(String(320))
    recipients: Mapped[list[str]] = mapped_column(default=list)
    subject: Mapped[str | None] = mapped_column(String(998))
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = _created()


# --- complaints, follow-ups, surveys ----------------------------------------------------------
class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_status_sla", "status", "sla_due_at"),
        Index("ix_complaints_customer_created", "customer_id", "created_at"),
    )

    id: Mapped[str] = _id_column()
    case_number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("customers.id", ondelete="SET NULL")
    )
    contact_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    category: Mapped[str] = mapped_column(String(32))
    subcategory: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16), default="normal")
    channel: Mapped[str | None] = mapped_column(String(16))
    order_ref: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="received")
    owner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    sla_due_at: Mapped[dt.datetime | None] = mapped_column()
    escalated_at: Mapped[dt.datetime | None] = mapped_column()
    validity: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(Text)
    root_cause: Mapped[str | None] = mapped_column(Text)
    corrective_action: Mapped[str | None] = mapped_column(Text)
    preventive_action: Mapped[str | None] = mapped_column(Text)
    customer_accepted: Mapped[bool | None] = mapped_column()
    customer_rating: Mapped[int | None] = mapped_column(SmallInteger)
    history: Mapped[list[Any]] = mapped_column(default=list)
    # Files the customer or the agent attached: {id, name, content_type, size, sha256, at, by}
    # (migration 0003); the bytes live under data_dir/attachments/complaint/<complaint id>/.
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column()
    resolved_at: Mapped[dt.datetime | None] = mapped_column()
    closed_at: Mapped[dt.datetime | None] = mapped_column()
    version: Mapped[int] = mapped_column(default=1)


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[str] = _id_column()
    kind: Mapped[str] = mapped_column(String(16))  # csat / nps / ces / custom
    name: Mapped[str] = mapped_column(String(200), unique=True)
    questions: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = _created()


class FollowUp(Base):
    __tablename__ = "follow_ups"
    __table_args__ = (
        Index("ix_follow_ups_status_window", "status", "window_start"),
        Index("ix_follow_ups_customer_created", "customer_id", "created_at"),
    )

    id: Mapped[str] = _id_column()
    customer_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("customers.id", ondelete="SET NULL")
    )
    purpose: Mapped[str] = mapped_column(String(64))
    outline: Mapped[list[Any]] = mapped_column(default=list)
    window_start: Mapped[dt.datetime | None] = mapped_column()
    window_end: Mapped[dt.datetime | None] = mapped_column()
    channel: Mapped[str] = mapped_column(String(16), default="voice")
    questioner_id: Mapped[str | None] = mapped_column(String(64), index=True)
    recorder_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="planned")
    outcome: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Each call/visit attempt: {"at": ISO time, "result": answered|no_answer, "by", "note"}
    # (migration 0002); the retry policy counts the failed ones.
    attempts: Mapped[list[Any]] = mapped_column(default=list)
    complaint_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("complaints.id", ondelete="SET NULL"), index=True
    )
    survey_id: Mapped[str | None] = mapped_column(ID, ForeignKey("surveys.id", ondelete="SET NULL"))
    contact_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("contacts.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column()


class SurveyResponse(Base):
    __tablename__ = "survey_responses"
    __table_args__ = (
        Index("ix_survey_responses_agent_created", "agent_id", "created_at"),
        Index("ix_survey_responses_queue_created", "queue", "created_at"),
    )

    id: Mapped[str] = _id_column()
    survey_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("surveys.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    contact_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    complaint_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("complaints.id", ondelete="SET NULL")
    )
    csat: Mapped[int | None] = mapped_column(SmallInteger)
    nps: Mapped[int | None] = mapped_column(SmallInteger)
    ces: Mapped[int | None] = mapped_column(SmallInteger)
    text: Mapped[str | None] = mapped_column(Text)
    # CSI attribute ratings, attribute -> 1..5 (migration 0002).
    ratings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = _created()


# --- orders -----------------------------------------------------------------------------------
class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_customer_ordered", "customer_id", "ordered_at"),)

    id: Mapped[str] = _id_column()
    order_number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("customers.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(String(32), default="placed")
    total: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    ordered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    shipped_at: Mapped[dt.datetime | None] = mapped_column()
    delivered_at: Mapped[dt.datetime | None] = mapped_column()
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking: Mapped[str | None] = mapped_column(String(128))
    items: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- users, roles, tokens, audit --------------------------------------------------------------
class Role(Base):
    __tablename__ = "roles"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(200))
    permissions: Mapped[list[str]] = mapped_column(default=list)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = _id_column()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), ForeignKey("roles.name"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    endpoint: Mapped[str | None] = mapped_column(String(128))
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    teams: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column()


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = _id_column()
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    user_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime | None] = mapped_column()
    last_used_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column()


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "entity", "entity_id", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )

    id: Mapped[str] = _id_column()
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(45))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- infrastructure ---------------------------------------------------------------------------
class OutboxEntry(Base):
    """Durable queue of writes; ``seq`` gives the order they are applied in."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(ID, unique=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = _created()
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class PendingWork(Base):
    """Work the server owes someone and must not forget across a restart: an email or web
    form waiting for an agent, a scheduled callback, an outbound mail waiting for a retry.
    One row per item, upserted through the outbox while it is pending and marked ``done``
    when it ends; at start the pending rows come back as live work."""

    __tablename__ = "pending_work"
    __table_args__ = (Index("ix_pending_work_state_kind", "state", "kind"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[dt.datetime | None] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AppSetting(Base):
    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Counter(Base):
    """Named counters for human numbers (customer C000123, case numbers); one row each."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


__all__ = [
    "NAMING_CONVENTION",
    "ApiToken",
    "AppSetting",
    "AuditEntry",
    "Base",
    "Complaint",
    "Contact",
    "Counter",
    "Customer",
    "CustomerHistory",
    "CustomerIdentity",
    "FollowUp",
    "Message",
    "Order",
    "OutboxEntry",
    "PendingWork",
    "Role",
    "Survey",
    "SurveyResponse",
    "User",
    "UtcDateTime",
    "utcnow",
]
