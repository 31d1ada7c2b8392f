"""Every hot lookup is served by an index, on SQLite and PostgreSQL.

Checked with the database's own planner on a migrated schema: SQLite's EXPLAIN QUERY PLAN
must name the index, PostgreSQL (with sequential scans disabled, since the test tables are
empty) must choose a scan on it. A missing or unusable index fails here long before a
million-customer site notices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ccserver.crm.contacts import ContactFilters, _conditions
from ccserver.crm.customer_rows import IDENTITY_LOOKUP
from ccserver.crm.customer_search import _name_prefix
from ccserver.crm.models import ApiToken, AuditEntry, Contact, Customer, Order
from ccserver.crm.users import hash_token

StatementFor = Callable[[str], Any]  # dialect name -> statement

CASES: dict[str, tuple[StatementFor, str]] = {
    "caller-id": (
        lambda d: IDENTITY_LOOKUP.params(kind="phone", value="+4930123"),
        "uq_customer_identities_kind",
    ),
    "name prefix": (
        lambda d: select(Customer.id).where(_name_prefix("mül", d)),
        "ix_customers_name_key",
    ),
    "customer number": (
        lambda d: select(Customer.id).where(Customer.customer_number == "C000001"),
        "uq_customers_customer_number",
    ),
    "order number": (
        lambda d: select(Order.customer_id).where(Order.order_number == "A-1"),
        "uq_orders_order_number",
    ),
    "contacts of an agent": (
        lambda d: (
            select(Contact.id)
            .where(*_conditions(ContactFilters(agent_id="a1")))
            .order_by(Contact.started_at.desc())
        ),
        "ix_contacts_agent_started",
    ),
    "audit of a customer": (
        lambda d: select(AuditEntry.id).where(
            AuditEntry.entity == "customer", AuditEntry.entity_id == "c1"
        ),
        "ix_audit_log_entity",
    ),
    "api token": (
        lambda d: select(ApiToken.id).where(ApiToken.token_hash == hash_token("x")),
        "uq_api_tokens_token_hash",
    ),
}


# Unique constraints and their tables (SQLite reports those under an automatic name).
UNIQUE_TABLES = {
    "uq_customer_identities_kind": "customer_identities",
    "uq_customers_customer_number": "customers",
    "uq_orders_order_number": "orders",
    "uq_api_tokens_token_hash": "api_tokens",
}


async def explain(engine: AsyncEngine, stmt: Any) -> str:
    sql = str(stmt.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
    async with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            return "\n".join(str(r[-1]) for r in rows)
        await conn.exec_driver_sql("SET enable_seqscan = off")
        rows = await conn.exec_driver_sql(f"EXPLAIN {sql}")
        return "\n".join(str(r[0]) for r in rows)


async def test_hot_lookups_use_their_index(engine: AsyncEngine) -> None:
    dialect = engine.dialect.name
    misses = {}
    for name, (statement_for, index) in CASES.items():
        text = await explain(engine, statement_for(dialect))
        # SQLite names the index of a UNIQUE constraint sqlite_autoindex_<table>_<n>.
        table = UNIQUE_TABLES.get(index)
        autoindex = table is not None and f"INDEX sqlite_autoindex_{table}_" in text
        if index not in text and not autoindex:
            misses[name] = text
    assert misses == {}
