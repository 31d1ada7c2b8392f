"""Complaint taxonomy, severities with SLA hours and validity assessments, from config.

The default is the customer-service practice in DESIGN.md §7: product complaints (function,
safety, quality, transaction, delivery) and service complaints (capability, attitude,
quality, etiquette). ``[complaints]`` in ``config/crm.toml`` may replace any part.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccserver.crm.rules import config_values as cv
from ccserver.crm.rules.errors import InvalidValidity, UnknownCategory, UnknownSeverity


class Validity(enum.StrEnum):
    """How the investigation judged the customer's account of the problem."""

    MISUNDERSTANDING = "misunderstanding"
    MORE_SERIOUS_THAN_REPORTED = "more_serious_than_reported"
    BASICALLY_TRUE = "basically_true"
    EXCEEDS_FACTS = "exceeds_facts"


@dataclass(frozen=True, slots=True)
class Severity:
    name: str
    sla_hours: float  # time from receipt to resolution before the complaint escalates
    escalate_to: str = "supervisor"


DEFAULT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "product": ("function", "safety", "quality", "transaction", "delivery"),
    "service": ("capability", "attitude", "quality", "etiquette"),
}

DEFAULT_SEVERITIES: dict[str, Severity] = {
    "critical": Severity("critical", 4.0),
    "high": Severity("high", 24.0),
    "normal": Severity("normal", 72.0),  # the complaints table default
    "low": Severity("low", 168.0),
}


@dataclass(frozen=True, slots=True)
class ComplaintTaxonomy:
    categories: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_CATEGORIES)
    )
    severities: Mapping[str, Severity] = field(default_factory=lambda: dict(DEFAULT_SEVERITIES))
    validity: tuple[str, ...] = tuple(v.value for v in Validity)

    def check_category(self, category: str, subcategory: str) -> None:
        subs = self.categories.get(category)
        if subs is None:
            raise UnknownCategory(
                f"unknown complaint category {category!r}",
                details={"category": category, "allowed": sorted(self.categories)},
            )
        if subcategory not in subs:
            raise UnknownCategory(
                f"unknown {category} complaint subcategory {subcategory!r}",
                details={"category": category, "subcategory": subcategory, "allowed": list(subs)},
            )

    def severity(self, name: str) -> Severity:
        try:
            return self.severities[name]
        except KeyError:
            raise UnknownSeverity(
                f"unknown complaint severity {name!r}",
                details={"severity": name, "allowed": sorted(self.severities)},
            ) from None

    def check_validity(self, value: str) -> None:
        if value not in self.validity:
            raise InvalidValidity(
                f"unknown validity assessment {value!r}",
                details={"validity": value, "allowed": list(self.validity)},
            )


def parse_taxonomy(data: Mapping[str, Any], source: str = "crm.toml") -> ComplaintTaxonomy:
    """Build the taxonomy from the ``[complaints]`` table; absent parts keep the defaults."""
    path = "complaints"
    categories: dict[str, tuple[str, ...]] = dict(DEFAULT_CATEGORIES)
    if "categories" in data:
        raw = cv.table(data, "categories", source, path)
        if not raw:
            raise cv.fail(source, f"{path}.categories", "must name at least one category")
        categories = {name: cv.strings(raw, name, source, f"{path}.categories") for name in raw}
    severities = dict(DEFAULT_SEVERITIES)
    if "severities" in data:
        raw = cv.table(data, "severities", source, path)
        if not raw:
            raise cv.fail(source, f"{path}.severities", "must name at least one severity")
        severities = {}
        for name in raw:
            sev_path = f"{path}.severities.{name}"
            sev = cv.table(raw, name, source, f"{path}.severities")
            severities[name] = Severity(
                name=name,
                sla_hours=cv.number(sev, "sla_hours", source, sev_path, minimum=0.01),
                escalate_to=cv.text(sev, "escalate_to", source, sev_path, "supervisor"),
            )
    validity = cv.strings(data, "validity", source, path, tuple(v.value for v in Validity))
    return ComplaintTaxonomy(categories=categories, severities=severities, validity=validity)
