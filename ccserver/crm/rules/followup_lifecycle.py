"""Follow-up visits (return calls, emails, visits in person) as a table-driven life cycle.

planned ─▶ due ─▶ in_progress ─▶ done
   ▲                  │ no answer, attempts left: back to planned at now + back-off
   └──────────────────┤ no answer, attempts used up: unreachable
planned / due / in_progress / unreachable ─▶ cancelled

A follow-up carries an outline (questions) and the recorded answers; completing it checks
that every required question was answered.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ccserver.crm.rules import config_values as cv
from ccserver.crm.rules.consent import consents_of, may_contact
from ccserver.crm.rules.errors import InvalidAnswer, MissingAnswers, UnknownChannel
from ccserver.crm.rules.rows import get
from ccserver.domain import Channel, Direction, Interaction, new_id
from ccserver.errors import IllegalTransition


class FollowUpState(enum.StrEnum):
    PLANNED = "planned"
    DUE = "due"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class FollowUpEvent(enum.StrEnum):
    BECOME_DUE = "become_due"
    START = "start"
    COMPLETE = "complete"
    RETRY_LATER = "retry_later"  # no answer, attempts left
    GIVE_UP = "give_up"  # no answer, attempts used up
    CANCEL = "cancel"


class FollowUpChannel(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    VISIT = "visit"


# Names other parts use for a phone follow-up (the follow_ups table defaults to "voice").
_CHANNEL_ALIASES = {"voice": "phone", "callback": "phone", "follow_up": "phone", "call": "phone"}


def followup_channel(value: str) -> FollowUpChannel:
    """A follow-up channel from a stored or configured name, accepting call aliases."""
    try:
        return FollowUpChannel(_CHANNEL_ALIASES.get(value, value))
    except ValueError:
        raise UnknownChannel(
            f"unknown follow-up channel {value!r}", details={"channel": value}
        ) from None


_S = FollowUpState
_E = FollowUpEvent

FOLLOWUP_TRANSITIONS: dict[tuple[FollowUpState, FollowUpEvent], FollowUpState] = {
    (_S.PLANNED, _E.BECOME_DUE): _S.DUE,
    (_S.PLANNED, _E.START): _S.IN_PROGRESS,  # an agent may call ahead of schedule
    (_S.PLANNED, _E.CANCEL): _S.CANCELLED,
    (_S.DUE, _E.START): _S.IN_PROGRESS,
    (_S.DUE, _E.CANCEL): _S.CANCELLED,
    (_S.IN_PROGRESS, _E.COMPLETE): _S.DONE,
    (_S.IN_PROGRESS, _E.RETRY_LATER): _S.PLANNED,
    (_S.IN_PROGRESS, _E.GIVE_UP): _S.UNREACHABLE,
    (_S.IN_PROGRESS, _E.CANCEL): _S.CANCELLED,
    (_S.UNREACHABLE, _E.CANCEL): _S.CANCELLED,
}

TERMINAL_FOLLOWUP_STATES = frozenset({_S.DONE, _S.UNREACHABLE, _S.CANCELLED})


def next_followup_state(state: FollowUpState, event: FollowUpEvent) -> FollowUpState:
    try:
        return FOLLOWUP_TRANSITIONS[(state, event)]
    except KeyError:
        raise IllegalTransition("follow_up", state.value, event.value) from None


class QuestionKind(enum.StrEnum):
    TEXT = "text"
    YES_NO = "yes_no"
    SCALE = "scale"  # integer between low and high inclusive
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    text: str
    kind: QuestionKind = QuestionKind.TEXT
    required: bool = True
    low: int = 1
    high: int = 5
    options: tuple[str, ...] = ()

    def check(self, value: Any) -> None:
        ok: bool
        if self.kind is QuestionKind.TEXT:
            ok = isinstance(value, str) and bool(value.strip())
        elif self.kind is QuestionKind.YES_NO:
            ok = isinstance(value, bool)
        elif self.kind is QuestionKind.SCALE:
            ok = (
                isinstance(value, int)
                and not isinstance(value, bool)
                and self.low <= value <= self.high
            )
        else:
            ok = value in self.options
        if not ok:
            raise InvalidAnswer(
                f"answer {value!r} does not fit question {self.key!r} ({self.kind.value})",
                details={"question": self.key, "kind": self.kind.value},
            )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often an unanswered follow-up is tried again, and after how long."""

    max_attempts: int = 3
    backoff_hours: tuple[float, ...] = (2.0, 24.0)  # the last value repeats

    def delay_after(self, failed_attempts: int) -> float:
        """Seconds to wait after the ``failed_attempts``-th failed attempt (1-based)."""
        if not self.backoff_hours:
            return 0.0
        index = min(failed_attempts - 1, len(self.backoff_hours) - 1)
        return self.backoff_hours[max(index, 0)] * 3600.0


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float
    result: str  # "answered" | "no_answer"
    by: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class FollowUpStep:
    event: str
    from_state: str
    to_state: str
    by: str | None
    at: float
    note: str = ""


@dataclass
class FollowUp:
    id: str
    customer_id: str
    purpose: str
    channel: FollowUpChannel
    scheduled_at: float
    outline: tuple[Question, ...] = ()
    window_end: float | None = None
    questioner: str | None = None
    recorder: str | None = None
    queue: str | None = None
    complaint_id: str | None = None
    contact_id: str | None = None
    state: FollowUpState = FollowUpState.PLANNED
    answers: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    history: list[FollowUpStep] = field(default_factory=list)

    def apply(
        self, event: FollowUpEvent, now: float, by: str | None = None, note: str = ""
    ) -> FollowUpState:
        new = next_followup_state(self.state, event)
        self.history.append(FollowUpStep(event.value, self.state.value, new.value, by, now, note))
        self.state = new
        return new

    @property
    def failed_attempts(self) -> int:
        return sum(1 for a in self.attempts if a.result == "no_answer")

    def record_answer(self, key: str, value: Any) -> None:
        for question in self.outline:
            if question.key == key:
                question.check(value)
                self.answers[key] = value
                return
        raise InvalidAnswer(f"no question {key!r} in the outline", details={"question": key})

    def missing_answers(self) -> list[str]:
        return [q.key for q in self.outline if q.required and q.key not in self.answers]


def start(fu: FollowUp, now: float, by: str | None = None) -> None:
    fu.apply(FollowUpEvent.START, now, by)


def complete(fu: FollowUp, outcome: str, now: float, by: str | None = None) -> None:
    """Finish with an outcome; every required question must have an answer."""
    missing = fu.missing_answers()
    if missing:
        raise MissingAnswers(
            f"follow-up {fu.id}: unanswered required questions {missing}",
            details={"missing": missing},
        )
    if not outcome.strip():
        raise MissingAnswers("a completed follow-up needs an outcome", details={"missing": []})
    fu.apply(FollowUpEvent.COMPLETE, now, by)
    fu.attempts.append(Attempt(now, "answered", by))
    fu.outcome = outcome


def record_no_answer(
    fu: FollowUp, now: float, policy: RetryPolicy, by: str | None = None, note: str = ""
) -> FollowUpState:
    """An attempt failed: plan the next one per ``policy`` or mark the customer unreachable."""
    if fu.state is not FollowUpState.IN_PROGRESS:
        raise IllegalTransition("follow_up", fu.state.value, FollowUpEvent.RETRY_LATER.value)
    fu.attempts.append(Attempt(now, "no_answer", by, note))
    failed = fu.failed_attempts
    if failed >= policy.max_attempts:
        return fu.apply(FollowUpEvent.GIVE_UP, now, by, note)
    fu.scheduled_at = now + policy.delay_after(failed)
    if fu.window_end is not None and fu.window_end < fu.scheduled_at:
        fu.window_end = None  # the original window has passed; the retry has no window
    return fu.apply(FollowUpEvent.RETRY_LATER, now, by, note)


def due_followups(items: Iterable[FollowUp], now: float) -> list[FollowUp]:
    """Planned or due follow-ups whose scheduled time has come, earliest first."""
    ready = [
        fu
        for fu in items
        if fu.state in (FollowUpState.PLANNED, FollowUpState.DUE) and fu.scheduled_at <= now
    ]
    return sorted(ready, key=lambda fu: (fu.scheduled_at, fu.id))


def mark_due(items: Iterable[FollowUp], now: float) -> list[FollowUp]:
    """Move planned follow-ups whose time has come to ``due``; returns the ones moved."""
    moved = []
    for fu in due_followups(items, now):
        if fu.state is FollowUpState.PLANNED:
            fu.apply(FollowUpEvent.BECOME_DUE, now)
            moved.append(fu)
    return moved


def as_interaction(fu: FollowUp, now: float, priority: int = 0) -> Interaction | None:
    """The outbound interaction a due *phone* follow-up becomes (routed to the assigned
    questioner when set, else to the follow-up's queue); None for email and visits, which the
    runtime handles by sending the survey link or listing the visit."""
    if fu.channel is not FollowUpChannel.PHONE:
        return None
    if fu.state not in (FollowUpState.PLANNED, FollowUpState.DUE):
        raise IllegalTransition("follow_up", fu.state.value, FollowUpEvent.START.value)
    return Interaction(
        id=new_id(now),
        channel=Channel.FOLLOW_UP,
        direction=Direction.OUTBOUND,
        customer_id=fu.customer_id,
        queue=fu.queue,
        priority=priority,
        attributes={
            "follow_up_id": fu.id,
            "purpose": fu.purpose,
            "preferred_agent": fu.questioner,
            "complaint_id": fu.complaint_id,
            "window_end": fu.window_end,
        },
        timestamps={"created": now},
    )


@dataclass(frozen=True, slots=True)
class FollowUpTemplate:
    """What bulk planning gives every follow-up it creates."""

    purpose: str
    channel: FollowUpChannel
    outline: tuple[Question, ...] = ()
    delay_hours: float = 0.0
    window_hours: float | None = None
    questioner: str | None = None
    recorder: str | None = None
    queue: str | None = None


@dataclass(frozen=True, slots=True)
class BulkPlan:
    planned: list[FollowUp]
    skipped: list[tuple[str, str]]  # (customer id, reason)


def plan_followup(
    template: FollowUpTemplate,
    customer_id: str,
    now: float,
    *,
    complaint_id: str | None = None,
    contact_id: str | None = None,
) -> FollowUp:
    at = now + template.delay_hours * 3600.0
    return FollowUp(
        id=new_id(now),
        customer_id=customer_id,
        purpose=template.purpose,
        channel=template.channel,
        scheduled_at=at,
        outline=template.outline,
        window_end=None if template.window_hours is None else at + template.window_hours * 3600,
        questioner=template.questioner,
        recorder=template.recorder,
        queue=template.queue,
        complaint_id=complaint_id,
        contact_id=contact_id,
    )


def plan_bulk(
    customers: Iterable[Any],
    predicate: Callable[[Any], bool],
    template: FollowUpTemplate,
    now: float,
    *,
    id_field: str = "id",
) -> BulkPlan:
    """One follow-up per distinct customer row matching ``predicate`` whose consent allows it.

    Customer rows are mappings or objects with an id and consent flags (a ``consents``
    mapping or the ``consent_<flag>`` columns, see :func:`consents_of`); rows that match but
    may not be contacted on the template's channel are listed in ``skipped``.
    """
    planned: list[FollowUp] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    for row in customers:
        if not predicate(row):
            continue
        customer_id = str(get(row, id_field))
        if customer_id in seen:
            continue
        seen.add(customer_id)
        if not may_contact(consents_of(row), template.channel.value, "follow_up"):
            skipped.append((customer_id, "no_consent"))
            continue
        planned.append(plan_followup(template, customer_id, now))
    return BulkPlan(planned, skipped)


def parse_outline(raw: Sequence[Any], source: str, path: str) -> tuple[Question, ...]:
    """Questions from a TOML array of tables (``key``, ``text``, ``kind``, ``required``...)."""
    questions: list[Question] = []
    for i, item in enumerate(raw):
        q_path = f"{path}[{i}]"
        if not isinstance(item, Mapping):
            raise cv.fail(source, q_path, "must be a table")
        kind_text = cv.text(item, "kind", source, q_path, "text")
        try:
            kind = QuestionKind(kind_text)
        except ValueError:
            raise cv.fail(source, f"{q_path}.kind", f"unknown kind {kind_text!r}") from None
        options = cv.strings(item, "options", source, q_path, (), allow_empty=True)
        if kind is QuestionKind.CHOICE and not options:
            raise cv.fail(source, f"{q_path}.options", "a choice question needs options")
        low = cv.integer(item, "low", source, q_path, 1)
        high = cv.integer(item, "high", source, q_path, 5)
        if high <= low:
            raise cv.fail(source, f"{q_path}.high", "must be greater than low")
        questions.append(
            Question(
                key=cv.text(item, "key", source, q_path),
                text=cv.text(item, "text", source, q_path),
                kind=kind,
                required=cv.boolean(item, "required", source, q_path, True),
                low=low,
                high=high,
                options=options,
            )
        )
    keys = [q.key for q in questions]
    if len(set(keys)) != len(keys):
        raise cv.fail(source, path, "question keys must be unique")
    return tuple(questions)


def parse_retry_policy(data: Mapping[str, Any], source: str, path: str) -> RetryPolicy:
    backoff = data.get("backoff_hours", [2.0, 24.0])
    if not isinstance(backoff, list) or not all(
        isinstance(h, int | float) and not isinstance(h, bool) and h >= 0 for h in backoff
    ):
        raise cv.fail(source, f"{path}.backoff_hours", "must be a list of hours >= 0")
    return RetryPolicy(
        max_attempts=cv.integer(data, "max_attempts", source, path, 3, minimum=1),
        backoff_hours=tuple(float(h) for h in backoff),
    )
