"""Stateful Hypothesis test: any sequence of operations on a complaint keeps its invariants
(state follows the table, history tells the whole story, close implies a full review)."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ccserver.crm.rules import complaint_lifecycle as cl
from ccserver.crm.rules.complaint_lifecycle import (
    COMPLAINT_TRANSITIONS,
    ComplaintEvent,
    ComplaintState,
    PdcaReview,
)
from ccserver.crm.rules.complaint_taxonomy import ComplaintTaxonomy
from ccserver.errors import CcserverError, IllegalTransition

TAX = ComplaintTaxonomy()
T0 = 1_700_000_000.0
reviews = st.builds(
    PdcaReview,
    st.sampled_from(["", "cause"]),
    st.sampled_from(["", "fix"]),
    st.sampled_from(["", "prevent"]),
    st.sampled_from([None, True, False]),
    st.sampled_from([None, 0, 1, 3, 5, 6]),
)


class ComplaintMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.c = cl.open_complaint(
            TAX,
            id="c",
            customer_id="k",
            category="product",
            subcategory="quality",
            severity="normal",
            owner="o",
            now=T0,
        )
        self.expected = ComplaintState.RECEIVED
        self.transitions = 0

    def _try(self, event: ComplaintEvent, action: object) -> None:
        self.now += 60
        legal = (self.expected, event) in COMPLAINT_TRANSITIONS
        try:
            action()  # type: ignore[operator]
        except IllegalTransition:
            assert not legal
            return
        except CcserverError:
            return  # refused for content (e.g. incomplete review): nothing changes
        assert legal
        self.expected = COMPLAINT_TRANSITIONS[(self.expected, event)]
        self.transitions += 1

    @rule()
    def acknowledge(self) -> None:
        self._try(ComplaintEvent.ACKNOWLEDGE, lambda: cl.acknowledge(self.c, "o", self.now))

    @rule()
    def investigate(self) -> None:
        self._try(ComplaintEvent.INVESTIGATE, lambda: cl.start_investigation(self.c, "o", self.now))

    @rule(text=st.sampled_from(["", "refund"]))
    def resolve(self, text: str) -> None:
        self._try(ComplaintEvent.RESOLVE, lambda: cl.resolve(self.c, text, "o", self.now))

    @rule()
    def request_feedback(self) -> None:
        self._try(
            ComplaintEvent.REQUEST_FEEDBACK, lambda: cl.request_feedback(self.c, "o", self.now)
        )

    @rule(review=reviews)
    def close(self, review: PdcaReview) -> None:
        self._try(ComplaintEvent.CLOSE, lambda: cl.close(self.c, review, "o", self.now))

    @rule()
    def reopen(self) -> None:
        self._try(ComplaintEvent.REOPEN, lambda: cl.reopen(self.c, "o", self.now))

    @rule(validity=st.sampled_from(["basically_true", "nonsense"]))
    def assess(self, validity: str) -> None:
        before = self.c.validity
        try:
            cl.assess_validity(self.c, validity, TAX, "o", self.now)
        except CcserverError:
            assert self.c.validity == before
        else:
            assert self.expected is ComplaintState.INVESTIGATING

    @invariant()
    def consistent(self) -> None:
        c = self.c
        assert c.state is self.expected
        moves = [h for h in c.history if h.from_state != h.to_state and h.from_state]
        assert len(moves) == self.transitions
        assert c.history[-1].to_state == c.state.value
        times = [h.at for h in c.history]
        assert times == sorted(times)
        if c.state is ComplaintState.CLOSED:
            assert c.review is not None and c.review.problems() == []
            assert c.closed_at is not None
        if c.state in cl.UNRESOLVED_STATES:
            assert c.resolved_at is None
        if c.first_resolved_at is not None and c.resolved_at is not None:
            assert c.first_resolved_at <= c.resolved_at


ComplaintMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=30, deadline=None
)
TestComplaintMachine = ComplaintMachine.TestCase
