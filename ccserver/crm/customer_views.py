"""Read-only views of customers handed to the rest of the server (API, screen pop, rules).

Views are plain frozen dataclasses, built from rows, so callers never hold an ORM object
that could lazy-load (which fails under asyncio) or be written back by accident.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from ccserver.crm.models import Customer, CustomerIdentity
from ccserver.errors import BadRequest, StaleWrite


@dataclass(frozen=True)
class IdentityView:
    kind: str
    value: str
    raw_value: str | None
    is_primary: bool
    verified: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "value": self.value,
            "raw_value": self.raw_value,
            "is_primary": self.is_primary,
            "verified": self.verified,
        }


@dataclass(frozen=True)
class CustomerView:
    id: str
    customer_number: str
    display_name: str
    first_name: str | None
    last_name: str | None
    company: str | None
    segment: str | None
    tier: str | None
    lifecycle_stage: str | None
    lifetime_value: Decimal
    preferred_language: str | None
    consent_phone: bool
    consent_email: bool
    consent_sms: bool
    consent_survey: bool
    consent_marketing: bool
    owner_agent_id: str | None
    tags: tuple[str, ...]
    notes: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    merged_into_id: str | None
    erased_at: dt.datetime | None
    identities: tuple[IdentityView, ...] = ()

    @property
    def etag(self) -> str:
        """Strong ETag for If-Match: changes whenever the row changes."""
        return f'"{self.id}.{self.version}"'

    def identity_values(self, kind: str) -> list[str]:
        return [i.value for i in self.identities if i.kind == kind]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dt.datetime):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            elif f.name == "tags":
                value = list(value)
            elif f.name == "identities":
                value = [i.to_json() for i in value]
            out[f.name] = value
        return out


def version_from_etag(if_match: str, customer_id: str) -> int | None:
    """The version named by an If-Match header (``W/`` prefix allowed) for ``customer_id``;
    None for ``*`` (any version, RFC 9110), which skips the check.

    A tag for another customer can never match (:class:`StaleWrite`); a tag that is not
    one of ours is a client error (:class:`BadRequest`).
    """
    if if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    ident, _, version = tag.rpartition(".")
    if not ident or not version.isdigit():
        raise BadRequest("If-Match is not an ETag of this API", details={"if_match": if_match})
    if ident != customer_id:
        raise StaleWrite("If-Match names another record", details={"if_match": if_match})
    return int(version)


CUSTOMER_COLUMNS = tuple(c.key for c in Customer.__table__.columns)
IDENTITY_COLUMNS = ("kind", "value", "raw_value", "is_primary", "verified")


def _getter(row: object) -> Callable[[str], Any]:
    if isinstance(row, Mapping):
        return row.__getitem__
    return lambda name: getattr(row, name)


def identity_view(row: CustomerIdentity | Mapping[str, Any]) -> IdentityView:
    get = _getter(row)
    return IdentityView(
        kind=get("kind"),
        value=get("value"),
        raw_value=get("raw_value"),
        is_primary=bool(get("is_primary")),
        verified=bool(get("verified")),
    )


def customer_view(row: Customer | Any, identities: Iterable[IdentityView] = ()) -> CustomerView:
    """A view from an ORM object or a Core row mapping (the caller-ID path uses Core)."""
    get = _getter(row)
    values: dict[str, Any] = {
        name: get(name) for name in CUSTOMER_COLUMNS if name not in ("name_key", "last_name_key")
    }
    values["tags"] = tuple(values["tags"] or ())
    values["lifetime_value"] = Decimal(values["lifetime_value"] or 0)
    ordered = sorted(identities, key=lambda i: (i.kind, not i.is_primary, i.value))
    return CustomerView(**values, identities=tuple(ordered))
