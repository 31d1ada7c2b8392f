"""All CRM practice rules from ``config/crm.toml`` in one typed object.

Every section is optional: an absent section keeps the built-in defaults (which equal the
shipped file). Errors are :class:`ccserver.errors.ConfigError` naming file and dotted key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccserver.crm.rules import config_values as cv
from ccserver.crm.rules.complaint_lifecycle import (
    ResolutionFollowUpPolicy,
    parse_resolution_followup,
)
from ccserver.crm.rules.complaint_taxonomy import ComplaintTaxonomy, parse_taxonomy
from ccserver.crm.rules.followup_lifecycle import RetryPolicy, parse_retry_policy
from ccserver.crm.rules.pii import DEFAULT_POLICY, MaskRule, parse_pii_policy
from ccserver.crm.rules.retention import DEFAULT_RULES, RetentionRule, parse_retention
from ccserver.crm.rules.segmentation import SegmentationConfig, parse_segmentation
from ccserver.crm.rules.surveys import CsiConfig, parse_csi

_SECTIONS = (
    "complaints",
    "followups",
    "surveys",
    "segmentation",
    "pii",
    "reports",
    "retention",
)


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """Defaults of the KPI definitions (see ccserver.reports.kpis)."""

    service_level_seconds: float = 20.0
    short_abandon_seconds: float = 5.0
    fcr_window_days: float = 7.0


@dataclass(frozen=True, slots=True)
class CrmRules:
    taxonomy: ComplaintTaxonomy = field(default_factory=ComplaintTaxonomy)
    resolution_followup: ResolutionFollowUpPolicy = field(default_factory=ResolutionFollowUpPolicy)
    followup_retry: RetryPolicy = field(default_factory=RetryPolicy)
    csi: CsiConfig = field(default_factory=CsiConfig)
    detractor_channel: str = "phone"
    segmentation: SegmentationConfig = field(default_factory=SegmentationConfig)
    pii: Mapping[str, Mapping[str, MaskRule]] = field(default_factory=lambda: DEFAULT_POLICY)
    reports: ReportSettings = field(default_factory=ReportSettings)
    retention: tuple[RetentionRule, ...] = DEFAULT_RULES


def parse_crm_rules(data: Mapping[str, Any], source: str = "crm.toml") -> CrmRules:
    for key in data:
        if key not in _SECTIONS:
            raise cv.fail(source, key, f"unknown section (known: {', '.join(_SECTIONS)})")
    complaints = cv.table(data, "complaints", source, "")
    followups = cv.table(data, "followups", source, "")
    surveys = cv.table(data, "surveys", source, "")
    reports = cv.table(data, "reports", source, "")
    detractor = cv.table(surveys, "detractor", source, "surveys")
    channel = cv.text(detractor, "channel", source, "surveys.detractor", "phone")
    if channel not in ("phone", "email", "visit"):
        raise cv.fail(source, "surveys.detractor.channel", f"unknown channel {channel!r}")
    return CrmRules(
        taxonomy=parse_taxonomy(complaints, source),
        resolution_followup=parse_resolution_followup(
            cv.table(complaints, "follow_up", source, "complaints"), source
        ),
        followup_retry=parse_retry_policy(
            cv.table(followups, "retry", source, "followups"), source, "followups.retry"
        ),
        csi=parse_csi(cv.table(surveys, "csi", source, "surveys"), source),
        detractor_channel=channel,
        segmentation=parse_segmentation(cv.table(data, "segmentation", source, ""), source),
        pii=parse_pii_policy(cv.table(data, "pii", source, ""), source),
        retention=parse_retention(cv.table(data, "retention", source, ""), source),
        reports=ReportSettings(
            service_level_seconds=cv.number(
                reports, "service_level_seconds", source, "reports", 20.0, minimum=1
            ),
            short_abandon_seconds=cv.number(
                reports, "short_abandon_seconds", source, "reports", 5.0, minimum=0
            ),
            fcr_window_days=cv.number(
                reports, "fcr_window_days", source, "reports", 7.0, minimum=0.01
            ),
        ),
    )


def load_crm_rules(path: str | Path) -> CrmRules:
    """Read and parse a crm.toml file (the one I/O of this package, at start-up)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise cv.fail(source, "", f"cannot read: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise cv.fail(source, "", f"not valid TOML: {exc}") from exc
    return parse_crm_rules(data, source)
