"""The complaint life cycle as a table, with history, SLA, escalation and the PDCA review.

received ─▶ acknowledged ─▶ investigating ─▶ resolved ─▶ customer_feedback ─▶ closed
                                 ▲               │               │              │
                                 └──── reopen ───┴───────────────┴──────────────┘

Every step records who did it, when and a note. The SLA clock runs from receipt to the
*first* resolution (a reopen does not restart it: the customer has waited all along); a
complaint past its due time that is still unresolved is due for escalation once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ccserver.crm.rules import config_values as cv
from ccserver.crm.rules.complaint_taxonomy import ComplaintTaxonomy
from ccserver.crm.rules.consent import may_contact
from ccserver.crm.rules.errors import ResolutionMissing, ReviewIncomplete, ValidityNotAllowed
from ccserver.crm.rules.followup_lifecycle import (
    FollowUp,
    FollowUpChannel,
    FollowUpTemplate,
    Question,
    QuestionKind,
    parse_outline,
    plan_followup,
)
from ccserver.domain import DomainEvent
from ccserver.errors import IllegalTransition


class ComplaintState(enum.StrEnum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"
    CUSTOMER_FEEDBACK = "customer_feedback"
    CLOSED = "closed"


class ComplaintEvent(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    INVESTIGATE = "investigate"
    RESOLVE = "resolve"
    REQUEST_FEEDBACK = "request_feedback"
    CLOSE = "close"
    REOPEN = "reopen"


_S = ComplaintState
_E = ComplaintEvent

COMPLAINT_TRANSITIONS: dict[tuple[ComplaintState, ComplaintEvent], ComplaintState] = {
    (_S.RECEIVED, _E.ACKNOWLEDGE): _S.ACKNOWLEDGED,
    (_S.ACKNOWLEDGED, _E.INVESTIGATE): _S.INVESTIGATING,
    (_S.INVESTIGATING, _E.RESOLVE): _S.RESOLVED,
    (_S.RESOLVED, _E.REQUEST_FEEDBACK): _S.CUSTOMER_FEEDBACK,
    (_S.CUSTOMER_FEEDBACK, _E.CLOSE): _S.CLOSED,
    (_S.RESOLVED, _E.REOPEN): _S.INVESTIGATING,
    (_S.CUSTOMER_FEEDBACK, _E.REOPEN): _S.INVESTIGATING,
    (_S.CLOSED, _E.REOPEN): _S.INVESTIGATING,
}

# States in which the complaint still waits for a resolution (the SLA clock is running).
UNRESOLVED_STATES = frozenset({_S.RECEIVED, _S.ACKNOWLEDGED, _S.INVESTIGATING})


def next_complaint_state(state: ComplaintState, event: ComplaintEvent) -> ComplaintState:
    try:
        return COMPLAINT_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition("complaint", state.value, event.value) from None


@dataclass(frozen=True, slots=True)
class ComplaintStep:
    """One line of a complaint's history; escalations are steps that keep the state."""

    event: str
    from_state: str
    to_state: str
    owner: str
    at: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class PdcaReview:
    """Plan-do-check-act review recorded on close."""

    root_cause: str
    corrective_action: str
    preventive_action: str
    customer_accepted: bool | None
    customer_rating: int | None  # the customer's 1-5 rating of the resolution

    def problems(self) -> list[str]:
        missing = [
            name
            for name in ("root_cause", "corrective_action", "preventive_action")
            if not str(getattr(self, name) or "").strip()
        ]
        if not isinstance(self.customer_accepted, bool):
            missing.append("customer_accepted")
        rating = self.customer_rating
        if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
            missing.append("customer_rating")
        return missing


@dataclass
class ComplaintRecord:
    id: str
    customer_id: str
    category: str
    subcategory: str
    severity: str
    received_at: float
    sla_due_at: float
    owner: str
    channel: str = "voice"
    description: str = ""
    product_ref: str | None = None
    order_ref: str | None = None
    attachments: tuple[str, ...] = ()
    state: ComplaintState = ComplaintState.RECEIVED
    validity: str | None = None
    resolution: str | None = None
    first_resolved_at: float | None = None
    resolved_at: float | None = None
    closed_at: float | None = None
    review: PdcaReview | None = None
    escalated_at: float | None = None
    escalated_to: str | None = None
    reopen_count: int = 0
    history: list[ComplaintStep] = field(default_factory=list)

    def _step(self, event: ComplaintEvent, owner: str, now: float, note: str) -> None:
        new = next_complaint_state(self.state, event)
        self.history.append(
            ComplaintStep(event.value, self.state.value, new.value, owner, now, note)
        )
        self.state = new
        self.owner = owner

    def is_breached(self, now: float) -> bool:
        """Past the SLA due time without a first resolution (or resolved late)."""
        if self.first_resolved_at is not None:
            return self.first_resolved_at > self.sla_due_at
        return now > self.sla_due_at

    def met_sla(self) -> bool | None:
        """Whether the first resolution came in time; None while unresolved."""
        if self.first_resolved_at is None:
            return None
        return self.first_resolved_at <= self.sla_due_at


def open_complaint(
    taxonomy: ComplaintTaxonomy,
    *,
    id: str,
    customer_id: str,
    category: str,
    subcategory: str,
    severity: str,
    owner: str,
    now: float,
    channel: str = "voice",
    description: str = "",
    product_ref: str | None = None,
    order_ref: str | None = None,
    attachments: Iterable[str] = (),
    note: str = "",
) -> ComplaintRecord:
    """A new complaint in ``received`` with its SLA due time from the severity."""
    taxonomy.check_category(category, subcategory)
    sev = taxonomy.severity(severity)
    record = ComplaintRecord(
        id=id,
        customer_id=customer_id,
        category=category,
        subcategory=subcategory,
        severity=severity,
        received_at=now,
        sla_due_at=now + sev.sla_hours * 3600.0,
        owner=owner,
        channel=channel,
        description=description,
        product_ref=product_ref,
        order_ref=order_ref,
        attachments=tuple(attachments),
    )
    record.history.append(ComplaintStep("receive", "", _S.RECEIVED.value, owner, now, note))
    return record


def assign(record: ComplaintRecord, owner: str, by: str, now: float, note: str = "") -> None:
    """Hand the complaint to another owner without changing its state (recorded)."""
    state = record.state.value
    record.history.append(ComplaintStep("assign", state, state, by, now, note or owner))
    record.owner = owner


def acknowledge(record: ComplaintRecord, owner: str, now: float, note: str = "") -> None:
    record._step(_E.ACKNOWLEDGE, owner, now, note)


def start_investigation(record: ComplaintRecord, owner: str, now: float, note: str = "") -> None:
    record._step(_E.INVESTIGATE, owner, now, note)


def assess_validity(
    record: ComplaintRecord,
    validity: str,
    taxonomy: ComplaintTaxonomy,
    owner: str,
    now: float,
    note: str = "",
) -> None:
    """Record how the investigation judged the complaint; only while investigating."""
    if record.state is not _S.INVESTIGATING:
        raise ValidityNotAllowed(
            f"complaint {record.id}: validity can only be assessed while investigating",
            details={"state": record.state.value},
        )
    taxonomy.check_validity(validity)
    record.validity = validity
    state = record.state.value
    record.history.append(ComplaintStep("assess_validity", state, state, owner, now, note))


def resolve(
    record: ComplaintRecord, resolution: str, owner: str, now: float, note: str = ""
) -> None:
    if not resolution.strip():
        raise ResolutionMissing(f"complaint {record.id}: a resolution text is required")
    record._step(_E.RESOLVE, owner, now, note)
    record.resolution = resolution
    record.resolved_at = now
    if record.first_resolved_at is None:
        record.first_resolved_at = now


def request_feedback(record: ComplaintRecord, owner: str, now: float, note: str = "") -> None:
    record._step(_E.REQUEST_FEEDBACK, owner, now, note)


def close(
    record: ComplaintRecord, review: PdcaReview, owner: str, now: float, note: str = ""
) -> None:
    """Close after customer feedback; the PDCA review must be complete."""
    next_complaint_state(record.state, _E.CLOSE)  # wrong state beats missing review
    problems = review.problems()
    if problems:
        raise ReviewIncomplete(
            f"complaint {record.id}: the PDCA review is incomplete: {', '.join(problems)}",
            details={"fields": problems},
        )
    record._step(_E.CLOSE, owner, now, note)
    record.review = review
    record.closed_at = now


def reopen(record: ComplaintRecord, owner: str, now: float, note: str = "") -> None:
    record._step(_E.REOPEN, owner, now, note)
    record.reopen_count += 1
    record.resolved_at = None
    record.closed_at = None


@dataclass(frozen=True, slots=True)
class Escalation:
    complaint_id: str
    to: str
    due_at: float
    overdue_s: float

    def to_event(self, now: float) -> DomainEvent:
        """The supervisor alert the runtime publishes on the bus."""
        return DomainEvent(
            topic=ESCALATION_TOPIC,
            data={
                "complaint_id": self.complaint_id,
                "to": self.to,
                "due_at": self.due_at,
                "overdue_s": self.overdue_s,
            },
            at=now,
        )


ESCALATION_TOPIC = "complaints.escalated"


def escalations_due(
    complaints: Iterable[ComplaintRecord], now: float, taxonomy: ComplaintTaxonomy | None = None
) -> list[Escalation]:
    """Unresolved complaints past their SLA due time that were not escalated yet, most
    overdue first. ``taxonomy`` names who each severity escalates to (default supervisor)."""
    due = []
    for c in complaints:
        if c.escalated_at is not None or c.state not in UNRESOLVED_STATES:
            continue
        if now <= c.sla_due_at:
            continue
        to = "supervisor"
        if taxonomy is not None and c.severity in taxonomy.severities:
            to = taxonomy.severities[c.severity].escalate_to
        due.append(Escalation(c.id, to, c.sla_due_at, now - c.sla_due_at))
    return sorted(due, key=lambda e: (-e.overdue_s, e.complaint_id))


def mark_escalated(record: ComplaintRecord, to: str, now: float, note: str = "") -> None:
    record.escalated_at = now
    record.escalated_to = to
    state = record.state.value
    record.history.append(ComplaintStep("escalate", state, state, "system", now, note or to))


DEFAULT_RESOLUTION_OUTLINE: tuple[Question, ...] = (
    Question("solved", "Is the problem solved for you?", QuestionKind.YES_NO),
    Question(
        "satisfaction", "How satisfied are you with the resolution (1-5)?", QuestionKind.SCALE
    ),
    Question("comments", "Anything else we should know?", required=False),
)


@dataclass(frozen=True, slots=True)
class ResolutionFollowUpPolicy:
    """The follow-up visit a resolution schedules automatically (``[complaints.follow_up]``)."""

    enabled: bool = True
    delay_hours: float = 48.0
    channel: FollowUpChannel = FollowUpChannel.PHONE
    purpose: str = "complaint_resolution_check"
    window_hours: float | None = 8.0
    outline: tuple[Question, ...] = DEFAULT_RESOLUTION_OUTLINE


def followup_after_resolution(
    record: ComplaintRecord,
    policy: ResolutionFollowUpPolicy,
    now: float,
    customer_consents: Mapping[str, bool | None] | None = None,
) -> FollowUp | None:
    """The follow-up a resolution schedules, or None when disabled, not resolved yet, or the
    customer's consent does not allow the policy's channel (the caller may then pick another)."""
    if not policy.enabled or record.state is not _S.RESOLVED:
        return None
    if not may_contact(customer_consents, policy.channel.value, "follow_up"):
        return None
    template = FollowUpTemplate(
        purpose=policy.purpose,
        channel=policy.channel,
        outline=policy.outline,
        delay_hours=policy.delay_hours,
        window_hours=policy.window_hours,
        questioner=record.owner,
    )
    return plan_followup(template, record.customer_id, now, complaint_id=record.id)


def parse_resolution_followup(
    data: Mapping[str, Any], source: str = "crm.toml"
) -> ResolutionFollowUpPolicy:
    """``[complaints.follow_up]``: enabled, delay_hours, channel, purpose, window_hours,
    ``[[complaints.follow_up.outline]]``."""
    path = "complaints.follow_up"
    channel_text = cv.text(data, "channel", source, path, "phone")
    try:
        channel = FollowUpChannel(channel_text)
    except ValueError:
        raise cv.fail(source, f"{path}.channel", f"unknown channel {channel_text!r}") from None
    raw_outline = data.get("outline")
    if raw_outline is None:
        outline = DEFAULT_RESOLUTION_OUTLINE
    elif isinstance(raw_outline, list):
        outline = parse_outline(raw_outline, source, f"{path}.outline")
    else:
        raise cv.fail(source, f"{path}.outline", "must be an array of tables")
    # TOML has no null: window_hours = 0 means "no time window".
    window = cv.number(data, "window_hours", source, path, 8.0, minimum=0)
    return ResolutionFollowUpPolicy(
        enabled=cv.boolean(data, "enabled", source, path, True),
        delay_hours=cv.number(data, "delay_hours", source, path, 48.0, minimum=0),
        channel=channel,
        purpose=cv.text(data, "purpose", source, path, "complaint_resolution_check"),
        window_hours=window or None,
        outline=outline,
    )
