"""Survey answers and the satisfaction figures computed from them.

* CSAT: 1-5. ``csat_percent`` is the share of 4s and 5s (0..1); ``csat_mean`` the average.
* NPS: 0-10. Promoters 9-10, passives 7-8, detractors 0-6; NPS = %promoters - %detractors,
  an integer-valued-ish figure in [-100, 100].
* CES: 1-7 (customer effort; lower is easier). ``ces_mean`` the average.
* CSI: a weighted index over configurable attributes rated 1-5, each attribute's mean mapped
  to 0..100 by (mean - 1) / 4 * 100 and combined with weights normalised to sum 1. Attributes
  nobody rated are left out and the remaining weights re-normalised.

Every function returns None when it has no data rather than inventing a zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ccserver.crm.rules import config_values as cv
from ccserver.crm.rules.consent import may_contact
from ccserver.crm.rules.errors import InvalidSurveyAnswer
from ccserver.crm.rules.followup_lifecycle import (
    FollowUp,
    FollowUpChannel,
    FollowUpTemplate,
    Question,
    QuestionKind,
    plan_followup,
)

SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
CSI_SCALE = (1, 5)
MAX_TEXT = 4000  # free text longer than this is refused, not truncated silently


@dataclass(frozen=True, slots=True)
class SurveyResponse:
    csat: int | None = None
    nps: int | None = None
    ces: int | None = None
    text: str | None = None
    ratings: Mapping[str, int] = field(default_factory=dict)  # CSI attribute -> 1..5
    customer_id: str | None = None
    contact_id: str | None = None
    agent_id: str | None = None
    queue: str | None = None
    complaint_id: str | None = None
    follow_up_id: str | None = None


def check_score(kind: str, value: Any) -> int:
    """The score when ``value`` is an integer on ``kind``'s scale, else InvalidSurveyAnswer."""
    if kind not in SCALES:
        raise InvalidSurveyAnswer(f"unknown survey question kind {kind!r}", details={"kind": kind})
    low, high = SCALES[kind]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidSurveyAnswer(
            f"{kind} must be an integer from {low} to {high}, got {value!r}",
            details={"kind": kind, "value": repr(value), "low": low, "high": high},
        )
    return value


def validate_response(
    response: SurveyResponse, csi_attributes: Iterable[str] | None = None
) -> SurveyResponse:
    """Check every answered field; an all-empty response is refused too."""
    for kind in SCALES:
        value = getattr(response, kind)
        if value is not None:
            check_score(kind, value)
    if response.text is not None and len(response.text) > MAX_TEXT:
        raise InvalidSurveyAnswer(
            f"free text longer than {MAX_TEXT} characters", details={"kind": "text"}
        )
    allowed = None if csi_attributes is None else set(csi_attributes)
    for name, value in response.ratings.items():
        if allowed is not None and name not in allowed:
            raise InvalidSurveyAnswer(
                f"unknown rated attribute {name!r}", details={"attribute": name}
            )
        low, high = CSI_SCALE
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidSurveyAnswer(
                f"rating of {name!r} must be an integer from {low} to {high}",
                details={"attribute": name, "value": repr(value)},
            )
    answered = any(getattr(response, k) is not None for k in SCALES)
    if not answered and not (response.text or "").strip() and not response.ratings:
        raise InvalidSurveyAnswer("the response answers nothing", details={})
    return response


def _scores(values: Iterable[int | None]) -> list[int]:
    return [v for v in values if v is not None]


@dataclass(frozen=True, slots=True)
class NpsBreakdown:
    promoters: int
    passives: int
    detractors: int

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> float | None:
        if not self.total:
            return None
        return 100.0 * (self.promoters - self.detractors) / self.total


def nps_breakdown(scores: Iterable[int | None]) -> NpsBreakdown:
    values = _scores(scores)
    return NpsBreakdown(
        promoters=sum(1 for v in values if v >= 9),
        passives=sum(1 for v in values if 7 <= v <= 8),
        detractors=sum(1 for v in values if v <= 6),
    )


def nps(scores: Iterable[int | None]) -> float | None:
    return nps_breakdown(scores).score


def csat_percent(scores: Iterable[int | None]) -> float | None:
    values = _scores(scores)
    return sum(1 for v in values if v >= 4) / len(values) if values else None


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def csat_mean(scores: Iterable[int | None]) -> float | None:
    return _mean(_scores(scores))


def ces_mean(scores: Iterable[int | None]) -> float | None:
    return _mean(_scores(scores))


@dataclass(frozen=True, slots=True)
class CsiConfig:
    """Attribute weights for the CSI; any positive numbers, normalised when used."""

    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "resolution": 0.35,
            "speed": 0.25,
            "courtesy": 0.2,
            "knowledge": 0.2,
        }
    )

    def normalised(self, present: Iterable[str] | None = None) -> dict[str, float]:
        names = set(self.weights) if present is None else set(present) & set(self.weights)
        total = sum(self.weights[n] for n in names)
        return {n: self.weights[n] / total for n in sorted(names)} if total > 0 else {}


def csi(ratings: Iterable[Mapping[str, int]], config: CsiConfig) -> float | None:
    """Weighted satisfaction index 0..100 over the configured attributes (see module doc)."""
    sums: dict[str, int] = {}
    counts: dict[str, int] = {}
    for rating in ratings:
        for name, value in rating.items():
            if name in config.weights and value is not None:
                sums[name] = sums.get(name, 0) + value
                counts[name] = counts.get(name, 0) + 1
    weights = config.normalised(counts)
    if not weights:
        return None
    low, high = CSI_SCALE
    return sum(w * (sums[n] / counts[n] - low) / (high - low) * 100.0 for n, w in weights.items())


def is_detractor(response: SurveyResponse) -> bool:
    """NPS 0-6 or CSAT 1-2: the customer is unhappy enough to call back."""
    return (response.nps is not None and response.nps <= 6) or (
        response.csat is not None and response.csat <= 2
    )


def detractor_followup_needed(
    response: SurveyResponse,
    customer_consents: Mapping[str, bool | None] | None,
    channel: str = "phone",
) -> bool:
    """A detractor answer creates a follow-up, if the customer may be reached on ``channel``."""
    return is_detractor(response) and may_contact(customer_consents, channel, "follow_up")


DETRACTOR_OUTLINE: tuple[Question, ...] = (
    Question("reason", "What disappointed you most?"),
    Question("fixed", "Could we put it right during this call?", QuestionKind.YES_NO),
    Question("comments", "Anything else?", required=False),
)


def followup_for_detractor(
    response: SurveyResponse,
    customer_consents: Mapping[str, bool | None] | None,
    now: float,
    *,
    channel: str = "phone",
    delay_hours: float = 24.0,
    questioner: str | None = None,
) -> FollowUp | None:
    """The follow-up a detractor answer creates, or None (not a detractor, no customer, or no
    consent). The agent the survey rated is the default questioner."""
    if response.customer_id is None or not detractor_followup_needed(
        response, customer_consents, channel
    ):
        return None
    template = FollowUpTemplate(
        purpose="detractor_recovery",
        channel=FollowUpChannel(channel),
        outline=DETRACTOR_OUTLINE,
        delay_hours=delay_hours,
        questioner=questioner or response.agent_id,
        queue=response.queue,
    )
    return plan_followup(
        template,
        response.customer_id,
        now,
        complaint_id=response.complaint_id,
        contact_id=response.contact_id,
    )


def parse_csi(data: Mapping[str, Any], source: str = "crm.toml") -> CsiConfig:
    """``[surveys.csi.weights]``: attribute = weight (> 0)."""
    path = "surveys.csi"
    if "weights" not in data:
        return CsiConfig()
    raw = cv.table(data, "weights", source, path)
    if not raw:
        raise cv.fail(source, f"{path}.weights", "must name at least one attribute")
    weights = {name: cv.number(raw, name, source, f"{path}.weights", minimum=0) for name in raw}
    if sum(weights.values()) <= 0:
        raise cv.fail(source, f"{path}.weights", "weights must not all be zero")
    return CsiConfig(weights=weights)
