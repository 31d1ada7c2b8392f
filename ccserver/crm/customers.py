"""CustomerService: create, read, update, identities and the caller-ID hot path.

Search lives in :mod:`ccserver.crm.customer_search` and merge in
:mod:`ccserver.crm.customer_merge`; both are reachable from this service.

Every method opens its own transaction from the session factory. Changes write a
``customer_history`` row per changed field and an audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ccserver.crm import customer_merge, customer_privacy, customer_search
from ccserver.crm.audit import SYSTEM, Actor, add_audit
from ccserver.crm.customer_lookup import IdentityReader, reader_for
from ccserver.crm.customer_rows import (
    IDENTITY_LOOKUP,
    jsonable,
    load_views,
    name_keys,
    next_number,
)
from ccserver.crm.customer_validation import IdentityInput, validate_customer
from ccserver.crm.customer_views import IDENTITY_COLUMNS, CustomerView, customer_view, identity_view
from ccserver.crm.errors import (
    CustomerMerged,
    CustomerNotFound,
    DuplicateCustomer,
    IdentityInUse,
    StaleWrite,
    ValidationFailed,
)
from ccserver.crm.identities import (
    IdentityError,
    IdentityKind,
    normalise_identity,
    phone_lookup_key,
)
from ccserver.crm.models import Customer, CustomerHistory, CustomerIdentity, utcnow
from ccserver.crm.pagination import DEFAULT_LIMIT, Page
from ccserver.domain import new_id

OnDuplicate = Literal["error", "return"]


class CustomerService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, default_region: str = "US"
    ) -> None:
        self._sessions = sessions
        bind = sessions.kw.get("bind")
        # Caller-ID reads bypass the ORM session (see customer_lookup for why and how).
        self._reader: IdentityReader | None = (
            reader_for(bind) if isinstance(bind, AsyncEngine) else None
        )
        self.default_region = default_region.upper()

    # --- create --------------------------------------------------------------------------
    async def create(
        self,
        data: Mapping[str, Any],
        *,
        actor: Actor = SYSTEM,
        on_duplicate: OnDuplicate = "error",
    ) -> CustomerView:
        """Validate and store a new customer.

        When one of its phones/emails/handles already belongs to a customer, raise
        :class:`DuplicateCustomer` (409, ``details["existing_id"]``) or, with
        ``on_duplicate="return"``, return that existing customer instead.
        """
        view, _created = await self.create_or_get(data, actor=actor, on_duplicate=on_duplicate)
        return view

    async def create_or_get(
        self,
        data: Mapping[str, Any],
        *,
        actor: Actor = SYSTEM,
        on_duplicate: OnDuplicate = "return",
    ) -> tuple[CustomerView, bool]:
        """Like :meth:`create`; also says whether a new customer was created."""
        valid = validate_customer(data, default_region=self.default_region)
        for attempt in (1, 2):
            try:
                async with self._sessions.begin() as session:
                    existing = await self._find_owner(session, valid.identities)
                    if existing is not None:
                        customer, matched = existing
                        if on_duplicate == "return":
                            return (await load_views(session, [customer]))[0], False
                        raise DuplicateCustomer(
                            f"a customer with this {matched.kind} already exists",
                            details={
                                "existing_id": customer.id,
                                "customer_number": customer.customer_number,
                                "matched": {"kind": matched.kind, "value": matched.value},
                            },
                        )
                    return await self._insert(session, valid.fields, valid.identities, actor), True
            except IntegrityError:
                # Another writer stored the same identity between our check and insert:
                # run the check again, which now finds it.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _find_owner(
        self, session: AsyncSession, identities: Sequence[IdentityInput]
    ) -> tuple[Customer, IdentityInput] | None:
        if not identities:
            return None
        match = or_(
            *(
                and_(CustomerIdentity.kind == i.kind.value, CustomerIdentity.value == i.value)
                for i in identities
            )
        )
        row = (
            await session.execute(
                select(Customer, CustomerIdentity.kind, CustomerIdentity.value)
                .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
                .where(match)
                .order_by(Customer.created_at)
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        customer, kind, value = row
        matched = next(i for i in identities if (i.kind.value, i.value) == (kind, value))
        return customer, matched

    async def _insert(
        self,
        session: AsyncSession,
        fields: dict[str, Any],
        identities: Sequence[IdentityInput],
        actor: Actor,
    ) -> CustomerView:
        number = await next_number(session, "customer")
        now = utcnow()
        customer = Customer(
            id=new_id(),  # needed before flush: identities and audit refer to it
            customer_number=f"C{number:06d}",
            created_at=now,
            updated_at=now,
            **fields,
            **name_keys({"last_name": None, **fields}),
        )
        session.add(customer)
        seen_kinds: set[str] = set()
        for ident in identities:
            session.add(
                CustomerIdentity(
                    customer_id=customer.id,
                    kind=ident.kind.value,
                    value=ident.value,
                    raw_value=ident.raw_value,
                    is_primary=ident.kind.value not in seen_kinds,
                    created_at=now,
                )
            )
            seen_kinds.add(ident.kind.value)
        add_audit(session, actor, "create", "customer", customer.id)
        await session.flush()
        return (await load_views(session, [customer]))[0]

    # --- read ----------------------------------------------------------------------------
    async def get(
        self, customer_id: str, *, follow_merge: bool = True, reader: Actor | None = None
    ) -> CustomerView:
        """The customer (or, if it was merged, the one it was merged into).

        When ``reader`` is a person, the read is written to the audit log.
        """
        async with self._sessions.begin() as session:
            customer = await self._load(session, customer_id, follow_merge=follow_merge)
            if reader is not None:
                add_audit(session, reader, "read", "customer", customer.id)
            return (await load_views(session, [customer]))[0]

    async def get_by_number(self, customer_number: str) -> CustomerView:
        async with self._sessions() as session:
            customer = await session.scalar(
                select(Customer).where(Customer.customer_number == customer_number.upper())
            )
            if customer is None:
                raise CustomerNotFound(
                    "no such customer", details={"customer_number": customer_number}
                )
            return (await load_views(session, [customer]))[0]

    async def _load(
        self, session: AsyncSession, customer_id: str, *, follow_merge: bool = True
    ) -> Customer:
        customer = await session.get(Customer, customer_id)
        hops = 0
        while customer is not None and follow_merge and customer.merged_into_id and hops < 10:
            customer = await session.get(Customer, customer.merged_into_id)
            hops += 1
        if customer is None:
            raise CustomerNotFound("no such customer", details={"id": customer_id})
        return customer

    async def find_by_phone(self, raw: str) -> CustomerView | None:
        """Caller-ID lookup for the screen pop: normalise, then one indexed query."""
        key = phone_lookup_key(raw, self.default_region)
        if key is None:
            return None
        return await self.find_by_identity(IdentityKind.PHONE, key, normalised=True)

    async def find_by_identity(
        self, kind: IdentityKind | str, raw: str, *, normalised: bool = False
    ) -> CustomerView | None:
        """The customer owning an identity, with all its identities, in one query."""
        if normalised:
            key = raw
        else:
            try:
                key = normalise_identity(kind, raw, self.default_region)
            except IdentityError:
                return None
        kind_value = IdentityKind(kind).value
        if self._reader is not None:
            rows = await self._reader.fetch(kind_value, key)
        else:
            async with self._sessions() as session:
                params = {"kind": kind_value, "value": key}
                rows = (await session.execute(IDENTITY_LOOKUP, params)).mappings().all()
        if not rows:
            return None
        idents = [identity_view({c: r[f"i_{c}"] for c in IDENTITY_COLUMNS}) for r in rows]
        return customer_view(rows[0], idents)

    # --- update --------------------------------------------------------------------------
    async def update(
        self,
        customer_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        actor: Actor = SYSTEM,
    ) -> CustomerView:
        """Apply ``changes``; with ``expected_version`` (from If-Match) refuse a stale write."""
        valid = validate_customer(changes, default_region=self.default_region, partial=True)
        try:
            async with self._sessions.begin() as session:
                customer = await self._load(session, customer_id, follow_merge=False)
                self._check_writable(customer)
                if expected_version is not None and customer.version != expected_version:
                    raise StaleWrite(
                        "the customer was changed by someone else; reload and retry",
                        details={"expected_version": expected_version, "version": customer.version},
                    )
                changed = {k: v for k, v in valid.fields.items() if getattr(customer, k) != v}
                if not changed:
                    return (await load_views(session, [customer]))[0]
                now = utcnow()
                for name, value in changed.items():
                    session.add(
                        CustomerHistory(
                            customer_id=customer.id,
                            field=name,
                            old_value=jsonable(getattr(customer, name)),
                            new_value=jsonable(value),
                            changed_by=actor.id,
                            changed_at=now,
                            version=customer.version + 1,
                        )
                    )
                    setattr(customer, name, value)
                for name, value in name_keys(changed).items():
                    setattr(customer, name, value)
                customer.updated_at = now
                add_audit(
                    session, actor, "update", "customer", customer.id, {"fields": sorted(changed)}
                )
                await session.flush()
                return (await load_views(session, [customer]))[0]
        except StaleDataError:
            raise StaleWrite(
                "the customer was changed by someone else; reload and retry",
                details={"id": customer_id},
            ) from None

    @staticmethod
    def _check_writable(customer: Customer) -> None:
        if customer.merged_into_id:
            raise CustomerMerged(
                "the customer was merged into another",
                details={"id": customer.id, "merged_into_id": customer.merged_into_id},
            )
        if customer.erased_at is not None:
            raise CustomerNotFound("the customer was erased", details={"id": customer.id})

    async def history(self, customer_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(CustomerHistory)
                .where(CustomerHistory.customer_id == customer_id)
                .order_by(CustomerHistory.changed_at.desc(), CustomerHistory.id.desc())
                .limit(limit)
            )
            return [
                {
                    "field": r.field,
                    "old_value": r.old_value,
                    "new_value": r.new_value,
                    "changed_by": r.changed_by,
                    "changed_at": r.changed_at.isoformat(),
                    "version": r.version,
                }
                for r in rows
            ]

    # --- identities ----------------------------------------------------------------------
    async def add_identity(
        self, customer_id: str, kind: str, raw: str, *, actor: Actor = SYSTEM
    ) -> CustomerView:
        """Attach a phone/email/handle; :class:`IdentityInUse` if another customer has it."""
        value = self._normalise_or_fail(kind, raw)
        try:
            async with self._sessions.begin() as session:
                customer = await self._load(session, customer_id, follow_merge=False)
                self._check_writable(customer)
                owner = await session.scalar(
                    select(CustomerIdentity.customer_id).where(
                        CustomerIdentity.kind == kind, CustomerIdentity.value == value
                    )
                )
                if owner is None:
                    has_kind = await session.scalar(
                        select(CustomerIdentity.id).where(
                            CustomerIdentity.customer_id == customer.id,
                            CustomerIdentity.kind == kind,
                        )
                    )
                    session.add(
                        CustomerIdentity(
                            customer_id=customer.id,
                            kind=kind,
                            value=value,
                            raw_value=raw.strip(),
                            is_primary=has_kind is None,
                        )
                    )
                    self._stage_change(session, customer, actor, "identity_added", {kind: value})
                elif owner != customer.id:
                    raise IdentityInUse(
                        f"this {kind} belongs to another customer",
                        details={"existing_id": owner, "kind": kind, "value": value},
                    )
                await session.flush()
                return (await load_views(session, [customer]))[0]
        except IntegrityError:
            raise IdentityInUse(
                f"this {kind} was just added to another customer",
                details={"kind": kind, "value": value},
            ) from None

    async def remove_identity(
        self, customer_id: str, kind: str, raw: str, *, actor: Actor = SYSTEM
    ) -> CustomerView:
        value = self._normalise_or_fail(kind, raw)
        async with self._sessions.begin() as session:
            customer = await self._load(session, customer_id, follow_merge=False)
            self._check_writable(customer)
            result = await session.execute(
                delete(CustomerIdentity).where(
                    CustomerIdentity.customer_id == customer.id,
                    CustomerIdentity.kind == kind,
                    CustomerIdentity.value == value,
                )
            )
            if getattr(result, "rowcount", 0) == 0:
                raise CustomerNotFound(
                    f"the customer has no such {kind}", details={"kind": kind, "value": value}
                )
            self._stage_change(session, customer, actor, "identity_removed", {kind: value})
            await session.flush()
            return (await load_views(session, [customer]))[0]

    def _normalise_or_fail(self, kind: str, raw: str) -> str:
        try:
            return normalise_identity(kind, raw, self.default_region)
        except IdentityError as exc:
            raise ValidationFailed(
                f"not a valid {kind}", details={"fields": {kind: str(exc)}}
            ) from None

    @staticmethod
    def _stage_change(
        session: AsyncSession,
        customer: Customer,
        actor: Actor,
        change: str,
        value: dict[str, Any],
    ) -> None:
        """Record an identity change in history and audit; bump the row's version."""
        now = utcnow()
        session.add(
            CustomerHistory(
                customer_id=customer.id,
                field=change,
                old_value=None,
                new_value=value,
                changed_by=actor.id,
                changed_at=now,
                version=customer.version + 1,
            )
        )
        customer.updated_at = now  # dirty row -> version_id_col increments on flush
        add_audit(session, actor, change, "customer", customer.id, value)

    # --- search and merge (separate modules, same service) --------------------------------
    async def search(
        self,
        q: str | None = None,
        *,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        order_number: str | None = None,
        customer_number: str | None = None,
        segment: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> Page[CustomerView]:
        """Customers matching every given filter; ``q`` matches any of them (search box)."""
        async with self._sessions() as session:
            return await customer_search.search(
                session,
                self.default_region,
                customer_search.SearchFilters(
                    q=q,
                    name=name,
                    phone=phone,
                    email=email,
                    order_number=order_number,
                    customer_number=customer_number,
                    segment=segment,
                ),
                limit=limit,
                offset=offset,
            )

    async def merge(
        self, survivor_id: str, absorbed_id: str, *, actor: Actor = SYSTEM
    ) -> CustomerView:
        """Merge ``absorbed_id`` into ``survivor_id``; see :mod:`ccserver.crm.customer_merge`."""
        try:
            async with self._sessions.begin() as session:
                survivor = await self._load(session, survivor_id, follow_merge=False)
                absorbed = await self._load(session, absorbed_id, follow_merge=False)
                await customer_merge.merge(session, survivor, absorbed, actor)
                await session.flush()
                return (await load_views(session, [survivor]))[0]
        except StaleDataError:
            raise StaleWrite(
                "a customer changed during the merge; retry",
                details={"survivor_id": survivor_id, "absorbed_id": absorbed_id},
            ) from None

    # --- data-subject requests ----------------------------------------------------------
    async def export(self, customer_id: str, *, actor: Actor = SYSTEM) -> dict[str, Any]:
        """Everything held about a customer (data-subject access request); audited."""
        async with self._sessions.begin() as session:
            customer = await self._load(session, customer_id, follow_merge=False)
            add_audit(session, actor, "export", "customer", customer.id)
            return await customer_privacy.export(session, customer)

    async def erase(self, customer_id: str, *, actor: Actor = SYSTEM) -> CustomerView:
        """Anonymise a customer and its records (right to erasure); see customer_privacy."""
        async with self._sessions.begin() as session:
            customer = await self._load(session, customer_id, follow_merge=False)
            if customer.erased_at is None:
                await customer_privacy.erase(session, customer, actor)
                await session.flush()
            return (await load_views(session, [customer]))[0]
