"""Follow-up life cycle: table, retries, due selection, outline answers, bulk planning."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ccserver.crm.rules import followup_lifecycle as fl
from ccserver.crm.rules.errors import InvalidAnswer, MissingAnswers
from ccserver.crm.rules.followup_lifecycle import (
    FOLLOWUP_TRANSITIONS,
    FollowUp,
    FollowUpChannel,
    FollowUpEvent,
    FollowUpState,
    FollowUpTemplate,
    Question,
    QuestionKind,
    RetryPolicy,
)
from ccserver.errors import ConfigError, IllegalTransition

T0 = 1_700_000_000.0
H = 3600.0
OUTLINE = (
    Question("solved", "Solved?", QuestionKind.YES_NO),
    Question("score", "Score 1-5", QuestionKind.SCALE),
    Question("via", "Preferred channel", QuestionKind.CHOICE, options=("phone", "email")),
    Question("note", "Anything else?", required=False),
)


def make(at: float = T0, fid: str = "f1") -> FollowUp:
    return FollowUp(fid, "cust-1", "check", FollowUpChannel.PHONE, at, OUTLINE)


@pytest.mark.parametrize(("pair", "target"), list(FOLLOWUP_TRANSITIONS.items()))
def test_table_transitions(
    pair: tuple[FollowUpState, FollowUpEvent], target: FollowUpState
) -> None:
    assert fl.next_followup_state(*pair) is target


def test_pairs_outside_table_raise_and_terminal_states_only_cancel() -> None:
    for s, e in itertools.product(FollowUpState, FollowUpEvent):
        if (s, e) in FOLLOWUP_TRANSITIONS:
            continue
        with pytest.raises(IllegalTransition):
            fl.next_followup_state(s, e)
    for s in (FollowUpState.DONE, FollowUpState.CANCELLED):
        assert not [e for e in FollowUpEvent if (s, e) in FOLLOWUP_TRANSITIONS]


def test_answers_are_checked_against_their_question() -> None:
    fu = make()
    fu.record_answer("solved", True)
    fu.record_answer("score", 5)
    fu.record_answer("via", "email")
    assert fu.answers == {"solved": True, "score": 5, "via": "email"}
    for key, bad in [
        ("solved", "yes"),
        ("score", 6),
        ("score", True),
        ("via", "fax"),
        ("note", "  "),
        ("nope", 1),
    ]:
        with pytest.raises(InvalidAnswer):
            fu.record_answer(key, bad)
    assert fu.answers == {"solved": True, "score": 5, "via": "email"}


def test_complete_requires_required_answers_and_outcome() -> None:
    fu = make()
    fl.start(fu, T0, "agent-1")
    fu.record_answer("solved", False)
    with pytest.raises(MissingAnswers) as info:
        fl.complete(fu, "talked", T0 + 60)
    assert info.value.details["missing"] == ["score", "via"]
    fu.record_answer("score", 2)
    fu.record_answer("via", "phone")
    with pytest.raises(MissingAnswers):
        fl.complete(fu, " ", T0 + 60)
    fl.complete(fu, "still unhappy; escalated", T0 + 60, "agent-1")
    assert fu.state is FollowUpState.DONE and fu.outcome == "still unhappy; escalated"
    assert [a.result for a in fu.attempts] == ["answered"]
    assert [(h.event, h.to_state) for h in fu.history] == [
        ("start", "in_progress"),
        ("complete", "done"),
    ]


def test_no_answer_retries_with_backoff_then_unreachable() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_hours=(2.0, 24.0))
    fu = make()
    fl.start(fu, T0, "a")
    assert fl.record_no_answer(fu, T0 + 60, policy) is FollowUpState.PLANNED
    assert fu.scheduled_at == T0 + 60 + 2 * H
    fl.start(fu, T0 + 3 * H, "a")
    assert fl.record_no_answer(fu, T0 + 3 * H, policy) is FollowUpState.PLANNED
    assert fu.scheduled_at == T0 + 27 * H
    fl.start(fu, T0 + 28 * H, "a")
    assert fl.record_no_answer(fu, T0 + 28 * H, policy) is FollowUpState.UNREACHABLE
    assert fu.failed_attempts == 3
    with pytest.raises(IllegalTransition):
        fl.start(fu, T0 + 30 * H)


def test_no_answer_outside_progress_is_illegal() -> None:
    with pytest.raises(IllegalTransition):
        fl.record_no_answer(make(), T0, RetryPolicy())


def test_due_followups_selects_planned_and_due_in_time_order() -> None:
    late, early, future = make(T0 + 10, "late"), make(T0 - 10, "early"), make(T0 + H, "future")
    done = make(T0 - 100, "done")
    fl.start(done, T0)
    cancelled = make(T0 - 50, "cancelled")
    cancelled.apply(FollowUpEvent.CANCEL, T0)
    items = [future, late, done, cancelled, early]
    assert [f.id for f in fl.due_followups(items, T0 + 10)] == ["early", "late"]
    moved = fl.mark_due(items, T0 + 10)
    assert [f.id for f in moved] == ["early", "late"]
    assert early.state is FollowUpState.DUE
    assert [f.id for f in fl.due_followups(items, T0 + 10)] == ["early", "late"]
    assert fl.mark_due(items, T0 + 10) == []


def test_bulk_plan_from_segment_respects_predicate_dedup_and_consent() -> None:
    customers: list[dict[str, Any]] = [
        {"id": "a", "delivered_days_ago": 3, "consents": {"phone": True}},
        {"id": "b", "delivered_days_ago": 30, "consents": {"phone": True}},
        {"id": "c", "delivered_days_ago": 5, "consents": {"phone": False}},
        {"id": "d", "delivered_days_ago": 6, "consents": {}},
        {"id": "a", "delivered_days_ago": 2, "consents": {"phone": True}},
        {"id": "e", "delivered_days_ago": 1, "consents": {"do_not_contact": True}},
    ]
    template = FollowUpTemplate(
        "delivery_check",
        FollowUpChannel.PHONE,
        OUTLINE,
        delay_hours=1,
        window_hours=4,
        queue="followups",
    )
    plan = fl.plan_bulk(customers, lambda r: r["delivered_days_ago"] <= 7, template, T0)
    assert [f.customer_id for f in plan.planned] == ["a", "d"]
    assert plan.skipped == [("c", "no_consent"), ("e", "no_consent")]
    first = plan.planned[0]
    assert first.scheduled_at == T0 + H and first.window_end == T0 + 5 * H
    assert first.queue == "followups" and first.outline == OUTLINE
    assert len({f.id for f in plan.planned}) == 2


def test_parse_outline_names_bad_keys() -> None:
    with pytest.raises(ConfigError) as info:
        fl.parse_outline([{"key": "a", "text": "A", "kind": "dance"}], "x.toml", "o")
    assert info.value.details == {"file": "x.toml", "key": "o[0].kind"}
    with pytest.raises(ConfigError) as info:
        fl.parse_outline([{"key": "a", "text": "A", "kind": "choice"}], "x.toml", "o")
    assert info.value.details["key"] == "o[0].options"
    with pytest.raises(ConfigError) as info:
        fl.parse_outline([{"key": "a", "text": "A"}, {"key": "a", "text": "B"}], "x.toml", "o")
    assert info.value.details["key"] == "o"
    with pytest.raises(ConfigError) as info:
        fl.parse_outline([{"text": "A"}], "x.toml", "o")
    assert info.value.details["key"] == "o[0].key"


def test_due_phone_followup_becomes_outbound_interaction() -> None:
    from ccserver.domain import Channel, Direction

    fu = make()
    fu.questioner, fu.queue, fu.complaint_id = "agent-3", "followups", "cmp-1"
    interaction = fl.as_interaction(fu, T0, priority=5)
    assert interaction is not None
    assert (interaction.channel, interaction.direction) == (Channel.FOLLOW_UP, Direction.OUTBOUND)
    assert (interaction.customer_id, interaction.queue, interaction.priority) == (
        "cust-1",
        "followups",
        5,
    )
    assert interaction.attributes["follow_up_id"] == "f1"
    assert interaction.attributes["preferred_agent"] == "agent-3"
    assert interaction.attributes["complaint_id"] == "cmp-1"
    email = FollowUp("e", "cust-1", "survey", FollowUpChannel.EMAIL, T0)
    assert fl.as_interaction(email, T0) is None
    fl.start(fu, T0)
    with pytest.raises(IllegalTransition):
        fl.as_interaction(fu, T0)


def test_followup_channel_aliases() -> None:
    from ccserver.crm.rules.errors import UnknownChannel

    assert fl.followup_channel("voice") is FollowUpChannel.PHONE
    assert fl.followup_channel("email") is FollowUpChannel.EMAIL
    assert fl.followup_channel("visit") is FollowUpChannel.VISIT
    with pytest.raises(UnknownChannel):
        fl.followup_channel("carrier_pigeon")


def test_bulk_plan_reads_customer_table_consent_columns() -> None:
    rows = [{"id": "a", "consent_phone": True}, {"id": "b", "consent_phone": False}]
    template = FollowUpTemplate("check", FollowUpChannel.PHONE)
    plan = fl.plan_bulk(rows, lambda r: True, template, T0)
    assert [f.customer_id for f in plan.planned] == ["a"] and plan.skipped == [("b", "no_consent")]
