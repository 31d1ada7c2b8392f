"""Masking personal data by role: each role sees only as much of a field as it needs.

A rule keeps the first ``keep_first`` and last ``keep_last`` letters/digits of a value and
replaces the others with ``*``; separators (spaces, dashes, dots, ``@``) stay so the shape
remains readable. ``keep_first=None`` means show everything. When a rule would reveal the
whole value (a value too short for the kept part), the value is masked completely: showing
"the last 4" of a 4-digit number would show all of it.

Default policy: agents see the last 4 of card and ID numbers, supervisors the first 6 and
last 4 of cards (the PCI DSS maximum) and the first 2 and last 4 of IDs, admins everything.
An unknown role sees nothing (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ccserver.crm.rules import config_values as cv

MASK = "*"


@dataclass(frozen=True, slots=True)
class MaskRule:
    keep_first: int | None = 0  # None: reveal all
    keep_last: int = 0


REVEAL = MaskRule(None, 0)
HIDE = MaskRule(0, 0)

DEFAULT_POLICY: dict[str, dict[str, MaskRule]] = {
    "card_number": {
        "agent": MaskRule(0, 4),
        "supervisor": MaskRule(6, 4),
        "admin": REVEAL,
    },
    "id_number": {
        "agent": MaskRule(0, 4),
        "supervisor": MaskRule(2, 4),
        "admin": REVEAL,
    },
    "phone": {"agent": REVEAL, "supervisor": REVEAL, "admin": REVEAL},
    "email": {"agent": REVEAL, "supervisor": REVEAL, "admin": REVEAL},
}

ROLES = ("agent", "supervisor", "admin")


def mask_value(value: str, rule: MaskRule) -> str:
    if rule.keep_first is None:
        return value
    positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    kept = rule.keep_first + rule.keep_last
    if kept >= len(positions):
        keep: set[int] = set()
    else:
        keep = set(positions[: rule.keep_first])
        keep |= set(positions[len(positions) - rule.keep_last :]) if rule.keep_last else set()
    hidden = set(positions) - keep
    return "".join(MASK if i in hidden else ch for i, ch in enumerate(value))


def rule_for(kind: str, role: str, policy: Mapping[str, Mapping[str, MaskRule]]) -> MaskRule:
    """The rule for a field kind and role; unknown kinds are shown, unknown roles see nothing."""
    by_role = policy.get(kind)
    if by_role is None:
        return REVEAL
    return by_role.get(role, HIDE)


def mask_record(
    record: Mapping[str, Any],
    fields: Mapping[str, str],
    role: str,
    policy: Mapping[str, Mapping[str, MaskRule]] = DEFAULT_POLICY,
) -> dict[str, Any]:
    """A copy of ``record`` with each ``fields`` entry (field name -> kind) masked for ``role``.

    Non-string values of masked fields are masked as their text; None stays None.
    """
    out = dict(record)
    for name, kind in fields.items():
        value = out.get(name)
        if value is None:
            continue
        out[name] = mask_value(str(value), rule_for(kind, role, policy))
    return out


def parse_pii_policy(
    data: Mapping[str, Any], source: str = "crm.toml"
) -> dict[str, dict[str, MaskRule]]:
    """``[pii.<kind>.<role>]`` tables with ``keep_first`` / ``keep_last`` or ``reveal = true``;
    kinds not named keep their defaults."""
    policy = {kind: dict(rules) for kind, rules in DEFAULT_POLICY.items()}
    for kind in data:
        kind_table = cv.table(data, kind, source, "pii")
        rules = policy.setdefault(kind, {})
        for role in kind_table:
            path = f"pii.{kind}.{role}"
            if role not in ROLES:
                raise cv.fail(source, path, f"unknown role (known: {', '.join(ROLES)})")
            spec = cv.table(kind_table, role, source, f"pii.{kind}")
            if cv.boolean(spec, "reveal", source, path, False):
                rules[role] = REVEAL
            else:
                rules[role] = MaskRule(
                    cv.integer(spec, "keep_first", source, path, 0, minimum=0),
                    cv.integer(spec, "keep_last", source, path, 0, minimum=0),
                )
    return policy
