"""Complaint taxonomy and life cycle: table tests, history, SLA, escalation, PDCA close."""

from __future__ import annotations

import itertools

import pytest

from ccserver.crm.rules import complaint_lifecycle as cl
from ccserver.crm.rules.complaint_lifecycle import (
    COMPLAINT_TRANSITIONS,
    ComplaintEvent,
    ComplaintRecord,
    ComplaintState,
    PdcaReview,
    ResolutionFollowUpPolicy,
    next_complaint_state,
)
from ccserver.crm.rules.complaint_taxonomy import ComplaintTaxonomy, Severity
from ccserver.crm.rules.errors import (
    InvalidValidity,
    ResolutionMissing,
    ReviewIncomplete,
    UnknownCategory,
    UnknownSeverity,
    ValidityNotAllowed,
)
from ccserver.crm.rules.followup_lifecycle import FollowUpChannel, FollowUpState
from ccserver.errors import IllegalTransition

T0 = 1_700_000_000.0
H = 3600.0
TAX = ComplaintTaxonomy()
GOOD_REVIEW = PdcaReview("label misprint", "reprinted labels", "proof-read step added", True, 4)


def new(severity: str = "high", now: float = T0, cid: str = "c1") -> ComplaintRecord:
    return cl.open_complaint(
        TAX,
        id=cid,
        customer_id="cust-1",
        category="product",
        subcategory="delivery",
        severity=severity,
        owner="agent-7",
        now=now,
        description="parcel arrived broken",
    )


def to_feedback(c: ComplaintRecord) -> None:
    cl.acknowledge(c, "agent-7", T0 + 60)
    cl.start_investigation(c, "sup-1", T0 + 120)
    cl.resolve(c, "replacement sent", "sup-1", T0 + 2 * H)
    cl.request_feedback(c, "sup-1", T0 + 3 * H)


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        ("received", "acknowledge", "acknowledged"),
        ("acknowledged", "investigate", "investigating"),
        ("investigating", "resolve", "resolved"),
        ("resolved", "request_feedback", "customer_feedback"),
        ("customer_feedback", "close", "closed"),
        ("resolved", "reopen", "investigating"),
        ("customer_feedback", "reopen", "investigating"),
        ("closed", "reopen", "investigating"),
    ],
)
def test_legal_transitions(state: str, event: str, expected: str) -> None:
    assert next_complaint_state(ComplaintState(state), ComplaintEvent(event)) == expected


def test_every_pair_outside_the_table_is_illegal() -> None:
    illegal = [
        (s, e)
        for s, e in itertools.product(ComplaintState, ComplaintEvent)
        if (s, e) not in COMPLAINT_TRANSITIONS
    ]
    assert len(illegal) == len(ComplaintState) * len(ComplaintEvent) - 8
    for s, e in illegal:
        with pytest.raises(IllegalTransition) as info:
            next_complaint_state(s, e)
        assert info.value.details == {"machine": "complaint", "state": s.value, "event": e.value}


def test_open_sets_sla_from_severity_and_records_receipt() -> None:
    c = new("critical")
    assert c.state is ComplaintState.RECEIVED
    assert c.sla_due_at == T0 + 4 * H
    assert [(s.event, s.to_state, s.owner, s.at) for s in c.history] == [
        ("receive", "received", "agent-7", T0)
    ]


def test_open_rejects_unknown_category_subcategory_and_severity() -> None:
    with pytest.raises(UnknownCategory):
        cl.open_complaint(
            TAX,
            id="x",
            customer_id="c",
            category="weather",
            subcategory="rain",
            severity="low",
            owner="a",
            now=T0,
        )
    with pytest.raises(UnknownCategory) as info:
        cl.open_complaint(
            TAX,
            id="x",
            customer_id="c",
            category="service",
            subcategory="safety",
            severity="low",
            owner="a",
            now=T0,
        )
    assert "etiquette" in info.value.details["allowed"]
    with pytest.raises(UnknownSeverity):
        cl.open_complaint(
            TAX,
            id="x",
            customer_id="c",
            category="service",
            subcategory="attitude",
            severity="apocalyptic",
            owner="a",
            now=T0,
        )


def test_full_life_cycle_records_owner_time_and_note_per_step() -> None:
    c = new()
    cl.acknowledge(c, "agent-7", T0 + 60, "called back")
    cl.start_investigation(c, "sup-1", T0 + 120)
    cl.assess_validity(c, "basically_true", TAX, "sup-1", T0 + 130, "photos checked")
    cl.resolve(c, "replacement sent", "sup-1", T0 + 2 * H)
    cl.request_feedback(c, "sup-1", T0 + 3 * H)
    cl.close(c, GOOD_REVIEW, "sup-1", T0 + 5 * H, "customer happy")
    assert c.state is ComplaintState.CLOSED
    assert c.validity == "basically_true"
    assert c.review == GOOD_REVIEW
    assert c.closed_at == T0 + 5 * H
    assert [s.event for s in c.history] == [
        "receive",
        "acknowledge",
        "investigate",
        "assess_validity",
        "resolve",
        "request_feedback",
        "close",
    ]
    assert c.history[1].note == "called back"
    assert c.history[-1].owner == "sup-1" and c.history[-1].at == T0 + 5 * H
    assert c.met_sla() is True


def test_validity_only_while_investigating_and_only_known_values() -> None:
    c = new()
    with pytest.raises(ValidityNotAllowed):
        cl.assess_validity(c, "misunderstanding", TAX, "sup", T0)
    cl.acknowledge(c, "a", T0)
    cl.start_investigation(c, "a", T0)
    with pytest.raises(InvalidValidity):
        cl.assess_validity(c, "probably_lying", TAX, "sup", T0)
    assert c.validity is None


def test_resolve_requires_text() -> None:
    c = new()
    cl.acknowledge(c, "a", T0)
    cl.start_investigation(c, "a", T0)
    with pytest.raises(ResolutionMissing):
        cl.resolve(c, "   ", "a", T0)
    assert c.state is ComplaintState.INVESTIGATING


@pytest.mark.parametrize(
    ("review", "missing"),
    [
        (PdcaReview("", "x", "y", True, 3), ["root_cause"]),
        (PdcaReview("r", " ", "y", True, 3), ["corrective_action"]),
        (PdcaReview("r", "c", "", True, 3), ["preventive_action"]),
        (PdcaReview("r", "c", "p", None, 3), ["customer_accepted"]),
        (PdcaReview("r", "c", "p", False, 0), ["customer_rating"]),
        (PdcaReview("r", "c", "p", False, 6), ["customer_rating"]),
        (PdcaReview("r", "c", "p", True, None), ["customer_rating"]),
        (
            PdcaReview("", "", "", None, None),
            [
                "root_cause",
                "corrective_action",
                "preventive_action",
                "customer_accepted",
                "customer_rating",
            ],
        ),
    ],
)
def test_close_requires_complete_pdca_review(review: PdcaReview, missing: list[str]) -> None:
    c = new()
    to_feedback(c)
    with pytest.raises(ReviewIncomplete) as info:
        cl.close(c, review, "sup", T0 + 4 * H)
    assert info.value.details["fields"] == missing
    assert c.state is ComplaintState.CUSTOMER_FEEDBACK


def test_close_from_wrong_state_is_illegal_even_with_bad_review() -> None:
    c = new()
    with pytest.raises(IllegalTransition):
        cl.close(c, PdcaReview("", "", "", None, None), "sup", T0)


def test_reopen_goes_back_to_investigating_and_keeps_first_resolution() -> None:
    c = new()
    to_feedback(c)
    cl.close(c, GOOD_REVIEW, "sup", T0 + 4 * H)
    cl.reopen(c, "sup", T0 + 30 * H, "broke again")
    assert c.state is ComplaintState.INVESTIGATING
    assert c.reopen_count == 1 and c.closed_at is None and c.resolved_at is None
    assert c.first_resolved_at == T0 + 2 * H
    cl.resolve(c, "refund", "sup", T0 + 40 * H)
    assert c.first_resolved_at == T0 + 2 * H and c.resolved_at == T0 + 40 * H


def test_sla_breach_and_escalations_due_once_most_overdue_first() -> None:
    tax = ComplaintTaxonomy(
        severities={"high": Severity("high", 24, "duty_manager"), "low": Severity("low", 168)}
    )
    a = cl.open_complaint(
        tax,
        id="a",
        customer_id="c",
        category="product",
        subcategory="quality",
        severity="high",
        owner="x",
        now=T0,
    )
    b = cl.open_complaint(
        tax,
        id="b",
        customer_id="c",
        category="product",
        subcategory="quality",
        severity="high",
        owner="x",
        now=T0 + H,
    )
    low = cl.open_complaint(
        tax,
        id="low",
        customer_id="c",
        category="product",
        subcategory="quality",
        severity="low",
        owner="x",
        now=T0,
    )
    done = cl.open_complaint(
        tax,
        id="done",
        customer_id="c",
        category="product",
        subcategory="quality",
        severity="high",
        owner="x",
        now=T0,
    )
    cl.acknowledge(done, "x", T0)
    cl.start_investigation(done, "x", T0)
    cl.resolve(done, "fixed", "x", T0 + 2 * H)
    items = [low, b, a, done]
    assert cl.escalations_due(items, T0 + 24 * H, tax) == []  # due exactly now: not breached
    due = cl.escalations_due(items, T0 + 30 * H, tax)
    assert [(e.complaint_id, e.to, e.overdue_s) for e in due] == [
        ("a", "duty_manager", 6 * H),
        ("b", "duty_manager", 5 * H),
    ]
    assert a.is_breached(T0 + 30 * H) and not done.is_breached(T0 + 30 * H)
    event = due[0].to_event(T0 + 30 * H)
    assert event.topic == "complaints.escalated" and event.at == T0 + 30 * H
    assert event.data == {
        "complaint_id": "a",
        "to": "duty_manager",
        "due_at": T0 + 24 * H,
        "overdue_s": 6 * H,
    }
    cl.mark_escalated(a, "duty_manager", T0 + 30 * H)
    assert [e.complaint_id for e in cl.escalations_due(items, T0 + 31 * H, tax)] == ["b"]
    assert a.history[-1].event == "escalate" and a.state is ComplaintState.RECEIVED


def test_late_resolution_misses_sla() -> None:
    c = new("critical")
    cl.acknowledge(c, "a", T0)
    cl.start_investigation(c, "a", T0)
    cl.resolve(c, "done", "a", T0 + 5 * H)
    assert c.met_sla() is False and c.is_breached(T0 + 5 * H)


def test_resolution_schedules_followup_per_policy_and_consent() -> None:
    c = new()
    policy = ResolutionFollowUpPolicy(delay_hours=24, channel=FollowUpChannel.PHONE)
    assert cl.followup_after_resolution(c, policy, T0) is None  # not resolved yet
    cl.acknowledge(c, "a", T0)
    cl.start_investigation(c, "a", T0)
    cl.resolve(c, "done", "sup-1", T0 + H)
    fu = cl.followup_after_resolution(c, policy, T0 + H, {"phone": True})
    assert fu is not None
    assert fu.state is FollowUpState.PLANNED
    assert fu.scheduled_at == T0 + 25 * H
    assert fu.complaint_id == "c1" and fu.customer_id == "cust-1"
    assert fu.questioner == "sup-1"
    assert [q.key for q in fu.outline] == ["solved", "satisfaction", "comments"]
    assert cl.followup_after_resolution(c, policy, T0 + H, {"phone": False}) is None
    off = ResolutionFollowUpPolicy(enabled=False)
    assert cl.followup_after_resolution(c, off, T0 + H) is None


def test_assign_changes_owner_and_is_recorded() -> None:
    c = new()
    cl.assign(c, "sup-2", "sup-1", T0 + 5, "specialist")
    assert c.owner == "sup-2" and c.state is ComplaintState.RECEIVED
    step = c.history[-1]
    assert (step.event, step.owner, step.note, step.at) == ("assign", "sup-1", "specialist", T0 + 5)
