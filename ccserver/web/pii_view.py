"""PII masked by role in API answers (DESIGN.md §10): the one place customer, contact,
message and complaint records are masked before they leave the server.

What is masked, and how much each role sees, is the PII policy of ``crm.toml``
(``[pii.<kind>.<role>]``, :mod:`ccserver.crm.rules.pii`; by default agents see the last 4
of card and ID numbers, supervisors a little more, admins everything, unknown roles
nothing). Two places in a record hold such numbers:

- structured fields: a key of an ``attributes`` dict (at any depth) named like a policy
  kind (``card_number``, ``id_number``, ...) is masked with :func:`mask_record`;
- free text (notes, descriptions, message bodies): card numbers (13-19 digits, spaces or
  dashes allowed, Luhn-valid) and ID numbers written after a label ("ID", "passport",
  "SSN", "national ID") are masked where they stand, the rest of the text unchanged.

Records are masked on the way out only: the store keeps the full values (admins and the
data-subject export see them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from ccserver.crm.rules.pii import MaskRule, mask_record, mask_value, rule_for
from ccserver.web.auth import current

Policy = Mapping[str, Mapping[str, MaskRule]]

# Free-text fields and structured (dict) fields of each record kind; nested records by
# field name (a contact's messages, a complaint's steps with their notes).
TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "customer": ("notes",),
    "contact": ("notes",),
    "message": ("body_text", "body_html", "subject"),
    "complaint": (
        "description",
        "resolution",
        "root_cause",
        "corrective_action",
        "preventive_action",
    ),
    "complaint_step": ("note",),
}
DICT_FIELDS: dict[str, tuple[str, ...]] = {"contact": ("attributes",), "message": ("headers",)}
NESTED: dict[str, dict[str, str]] = {
    "contact": {"messages": "message"},
    "complaint": {"history": "complaint_step"},
}

_CARD = re.compile(r"(?<![\w])\d(?:[ -]?\d){12,18}(?![\w])")
_ID = re.compile(
    r"(?i)\b(?:national\s+id|passport|ssn|id)(?:\s*(?:number|no\.?|nr\.?|#))?\s*[:#]?\s*"
    r"(?P<value>[A-Z0-9](?:[A-Z0-9-]{3,30}[A-Z0-9]))\b"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_text(text: str, role: str, policy: Policy) -> str:
    """``text`` with card and labelled ID numbers masked for ``role``."""
    card = rule_for("card_number", role, policy)
    ident = rule_for("id_number", role, policy)

    def card_sub(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return mask_value(m.group(0), card) if luhn_ok(digits) else m.group(0)

    def id_sub(m: re.Match[str]) -> str:
        start, end = m.span("value")
        whole = m.group(0)
        offset = m.start()
        value = mask_value(whole[start - offset : end - offset], ident)
        return whole[: start - offset] + value + whole[end - offset :]

    if card.keep_first is not None:
        text = _CARD.sub(card_sub, text)
    if ident.keep_first is not None:
        text = _ID.sub(id_sub, text)
    return text


def _mask_dict(data: Mapping[str, Any], role: str, policy: Policy) -> dict[str, Any]:
    """Keys named like a policy kind masked by its rule; nested dicts alike, other strings
    as free text."""
    kinds = {k: k for k in data if k in policy and not isinstance(data[k], dict | list)}
    out = mask_record(data, kinds, role, policy)
    for key, value in out.items():
        if key in kinds:
            continue
        if isinstance(value, Mapping):
            out[key] = _mask_dict(value, role, policy)
        elif isinstance(value, str):
            out[key] = mask_text(value, role, policy)
    return out


def mask_for_role(
    kind: str, record: Mapping[str, Any], role: str, policy: Policy
) -> dict[str, Any]:
    """A copy of one ``kind`` record (customer, contact, message, complaint) as ``role``
    may see it."""
    out = dict(record)
    if kind == "history":
        # A change of a customer's free-text field shows the old and new text.
        if out.get("field") in TEXT_FIELDS["customer"]:
            for name in ("old_value", "new_value"):
                if isinstance(out.get(name), str):
                    out[name] = mask_text(out[name], role, policy)
        return out
    for name in TEXT_FIELDS.get(kind, ()):
        value = out.get(name)
        if isinstance(value, str):
            out[name] = mask_text(value, role, policy)
    for name in DICT_FIELDS.get(kind, ()):
        value = out.get(name)
        if isinstance(value, Mapping):
            out[name] = _mask_dict(value, role, policy)
    for name, inner in NESTED.get(kind, {}).items():
        value = out.get(name)
        if isinstance(value, list):
            out[name] = [mask_for_role(inner, v, role, policy) for v in value]
    return out


def _policy(request: web.Request) -> Policy:
    from ccserver.app import SERVICES
    from ccserver.runtime.scheduler import workflows_of

    return workflows_of(request.app[SERVICES]).rules.pii


def _role(request: web.Request) -> str:
    principal = current(request)
    # No principal cannot happen behind require(); fail closed all the same.
    return principal.role if principal is not None else ""


def masker(request: web.Request, kind: str) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function masking ``kind`` records for the caller of ``request``."""
    role, policy = _role(request), _policy(request)
    return lambda record: mask_for_role(kind, record, role, policy)


def masked_response(
    request: web.Request,
    kind: str,
    body: Mapping[str, Any],
    *,
    page: bool = False,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """The JSON answer of one ``kind`` record, or with ``page`` of a page of them
    (``{"items": [...], ...}``), masked for the caller's role."""
    mask = masker(request, kind)
    if page:
        out = dict(body)
        out["items"] = [mask(item) for item in body["items"]]
    else:
        out = mask(body)
    return web.json_response(out, status=status, headers=headers)
