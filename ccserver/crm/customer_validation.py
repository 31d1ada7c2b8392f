"""Entry validation of customer data from any channel (API, import, forms, agent console).

All problems of one payload are reported together, per field, in one
:class:`~ccserver.errors.ValidationFailed` whose ``details["fields"]`` maps a field name
(``phones[1]`` for list items) to a human-readable reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from ccserver.crm.identities import IdentityError, IdentityKind, normalise_identity
from ccserver.errors import ValidationFailed

# Maximum lengths follow the column sizes in models.Customer.
TEXT_FIELDS: dict[str, int] = {
    "display_name": 200,
    "first_name": 100,
    "last_name": 100,
    "company": 200,
    "segment": 40,
    "tier": 40,
    "preferred_language": 16,
    "owner_agent_id": 64,
    "notes": 10_000,
}
CONSENT_FIELDS = (
    "consent_phone",
    "consent_email",
    "consent_sms",
    "consent_survey",
    "consent_marketing",
)
LIFECYCLE_STAGES = frozenset(
    {"lead", "prospect", "new", "active", "loyal", "at_risk", "churned", "inactive"}
)
MAX_TAGS = 50
MAX_TAG_LENGTH = 40
MAX_IDENTITIES = 20
# Identity shorthands accepted in a payload: key -> kind.
IDENTITY_KEYS: dict[str, IdentityKind] = {
    "phone": IdentityKind.PHONE,
    "phones": IdentityKind.PHONE,
    "email": IdentityKind.EMAIL,
    "emails": IdentityKind.EMAIL,
}
CUSTOMER_FIELDS = frozenset(
    {*TEXT_FIELDS, *CONSENT_FIELDS, "lifecycle_stage", "lifetime_value", "tags"}
)


@dataclass(frozen=True)
class IdentityInput:
    kind: IdentityKind
    value: str  # normalised key
    raw_value: str


@dataclass
class ValidatedCustomer:
    fields: dict[str, Any] = field(default_factory=dict)
    identities: list[IdentityInput] = field(default_factory=list)


def _clean_text(name: str, value: Any, errors: dict[str, str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return None
    text = value.strip()
    if len(text) > TEXT_FIELDS[name]:
        errors[name] = f"longer than {TEXT_FIELDS[name]} characters"
        return None
    return text or None


def _clean_identities(
    data: Mapping[str, Any], default_region: str, errors: dict[str, str]
) -> list[IdentityInput]:
    found: list[IdentityInput] = []
    raw_items: list[tuple[str, IdentityKind | str, Any]] = []
    for key, kind in IDENTITY_KEYS.items():
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            raw_items.append((key, kind, value))
        elif isinstance(value, list):
            raw_items.extend((f"{key}[{i}]", kind, v) for i, v in enumerate(value))
        else:
            errors[key] = "must be a string or a list of strings"
    extra = data.get("identities")
    if extra is not None:
        if not isinstance(extra, list):
            errors["identities"] = "must be a list of {kind, value} objects"
        else:
            for i, item in enumerate(extra):
                if not isinstance(item, Mapping) or not isinstance(item.get("kind"), str):
                    errors[f"identities[{i}]"] = "must be an object with kind and value"
                    continue
                raw_items.append((f"identities[{i}]", item["kind"], item.get("value")))
    for name, item_kind, raw in raw_items:
        if not isinstance(raw, str):
            errors[name] = "must be a string"
            continue
        try:
            value = normalise_identity(item_kind, raw, default_region)
        except IdentityError as exc:
            errors[name] = str(exc)
            continue
        item = IdentityInput(IdentityKind(item_kind), value, raw.strip())
        if all((f.kind, f.value) != (item.kind, item.value) for f in found):
            found.append(item)
    if len(found) > MAX_IDENTITIES:
        errors["identities"] = f"at most {MAX_IDENTITIES} identities per customer"
    return found


def validate_customer(
    data: Mapping[str, Any], *, default_region: str, partial: bool = False
) -> ValidatedCustomer:
    """Check and normalise a customer payload.

    ``partial=True`` validates an update: only the given fields, identities not allowed
    (they change through the identity operations, which check ownership).
    """
    errors: dict[str, str] = {}
    allowed = CUSTOMER_FIELDS if partial else CUSTOMER_FIELDS | {*IDENTITY_KEYS, "identities"}
    for key in data:
        if key not in allowed:
            errors[key] = (
                "identities change through the identity operations"
                if key in IDENTITY_KEYS or key == "identities"
                else "unknown field"
            )
    out = ValidatedCustomer()
    for name in TEXT_FIELDS:
        if name in data:
            out.fields[name] = _clean_text(name, data[name], errors)
    for name in CONSENT_FIELDS:
        if name in data:
            if isinstance(data[name], bool):
                out.fields[name] = data[name]
            else:
                errors[name] = "must be true or false"
    if "lifecycle_stage" in data:
        stage = data["lifecycle_stage"]
        if stage is None or stage in LIFECYCLE_STAGES:
            out.fields["lifecycle_stage"] = stage
        else:
            errors["lifecycle_stage"] = f"must be one of {', '.join(sorted(LIFECYCLE_STAGES))}"
    if "lifetime_value" in data:
        raw = data["lifetime_value"]
        try:
            if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
                raise InvalidOperation
            value = Decimal(str(raw)).quantize(Decimal("0.01"))
            if not value.is_finite() or abs(value) >= Decimal("1e12"):
                raise InvalidOperation
            out.fields["lifetime_value"] = value
        except InvalidOperation:
            errors["lifetime_value"] = "must be a number below 10^12"
    if "tags" in data:
        tags = data["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            errors["tags"] = "must be a list of strings"
        elif len(tags) > MAX_TAGS or any(len(t) > MAX_TAG_LENGTH for t in tags):
            errors["tags"] = f"at most {MAX_TAGS} tags of {MAX_TAG_LENGTH} characters"
        else:
            # Tags are a set kept in first-seen order; case-insensitive like most CRMs.
            out.fields["tags"] = list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
    if not partial:
        out.identities = _clean_identities(data, default_region, errors)
        if not out.fields.get("display_name"):
            derived = " ".join(
                p for p in (out.fields.get("first_name"), out.fields.get("last_name")) if p
            ) or out.fields.get("company")
            if derived:
                out.fields["display_name"] = derived[: TEXT_FIELDS["display_name"]]
            elif "display_name" not in errors:
                errors["display_name"] = "required (or first_name / last_name / company)"
    elif "display_name" in out.fields and out.fields["display_name"] is None:
        errors.setdefault("display_name", "cannot be empty")
    if errors:
        raise ValidationFailed("customer data is not valid", details={"fields": errors})
    return out
