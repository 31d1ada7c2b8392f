"""Hypothesis: whatever a caller presses or types, and whatever the CRM answers, a session
ends in Route / Hangup / OfferCallback / Voicemail / Transfer within a bounded number of
steps, every batch has the documented shape, and the path record stays JSON."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_ivr_support import make_flow

from ivr import actions as a
from ivr import events as e
from ivr.errors import IvrConfigError
from ivr.loader import load_flow, parse_flow
from ivr.model import Flow
from ivr.session import IvrSession, IvrState
from ivr.validate import validate_flow

CONFIG = Path(__file__).parents[2] / "config" / "ivr"
LOOPY = make_flow(
    """
[nodes.n]
kind = "menu"
prompt = "p-menu"
fallback = "agent"
choices = { 1 = "again", 2 = "c", 3 = "bye" }
[nodes.again]
kind = "play"
prompt = "p-again"
next = "n"
[nodes.c]
kind = "collect"
prompt = "p-c"
variable = "card"
min_length = 4
max_length = 8
check_digit = "luhn"
sensitive = true
next = "n"
fallback = "n"
""",
    head='max_visits = 20\noverflow = "agent"',
)
FLOWS: list[Flow] = [load_flow(CONFIG / "main.toml"), load_flow(CONFIG / "survey.toml"), LOOPY]
WAITS = (a.Collect, a.Lookup)
TERMINAL = a.TERMINAL_ACTIONS

lookup_data = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "id": st.text("abc123", min_size=1, max_size=4),
            "tier": st.sampled_from(["gold", "platinum", "standard", ""]),
            "open_complaints": st.integers(0, 3),
            "open": st.booleans(),
            "status": st.sampled_from(["shipped", "delivered", "processing", "lost"]),
            "shipped_on": st.just("2026-11-20"),
            "delivered_on": st.just("2026-11-21"),
            "count": st.integers(0, 9),
        },
    ),
)
caller_input = st.one_of(
    st.builds(lambda d: ("d", d), st.text("0123456789*#", max_size=12)),
    st.builds(lambda t: ("t", t), st.text(max_size=20)),
    st.just(("timeout", "")),
    st.just(("played", "")),
)


def _check_batch(batch: list[a.IvrAction]) -> None:
    """Output actions, then at most one Collect / Lookup / terminal action, last."""
    enders = [i for i, x in enumerate(batch) if isinstance(x, WAITS + TERMINAL)]
    assert enders in ([], [len(batch) - 1]), batch


@settings(max_examples=150, deadline=None)
@given(
    flow=st.sampled_from(FLOWS),
    channel=st.sampled_from(["voice", "chat"]),
    caller_id=st.sampled_from([None, "15551230000"]),
    data=st.data(),
)
def test_random_inputs_always_end_within_bounded_steps(
    flow: Flow, channel: Any, caller_id: str | None, data: st.DataObject
) -> None:
    session = IvrSession(flow, channel, 0.0, caller_id=caller_id)
    batch = session.handle(e.Started(0.0))
    _check_batch(batch)
    # Each node visit costs at most (retries + 2 lookups) events; visits are capped.
    bound = (flow.max_visits + 2) * 12
    steps, now = 0, 0.0
    while not session.finished:
        assert steps < bound, session.path_record()
        now += 1.0
        if session.state is IvrState.WAITING_LOOKUP:
            batch = session.handle(e.LookupResult(now, data.draw(lookup_data)))
        else:
            kind, value = data.draw(caller_input)
            ev: e.IvrEvent
            if kind == "d":
                ev = e.Digits(now, value)
            elif kind == "t":
                ev = e.Text(now, value)
            elif kind == "timeout":
                ev = e.Timeout(now)
            else:
                session.handle(e.PlayDone(now))  # never progress: not a step
                continue
            batch = session.handle(ev)
        _check_batch(batch)
        steps += 1
    assert isinstance(batch[-1], TERMINAL)
    record = session.path_record()
    json.dumps(record)
    assert record["exit"]["outcome"] != "caller_hangup"


@settings(max_examples=100, deadline=None)
@given(
    flow=st.sampled_from(FLOWS),
    digits=st.lists(st.text("0123456789#", min_size=1, max_size=10), max_size=15),
)
def test_hangup_at_any_point_records_where_the_caller_left(flow: Flow, digits: list[str]) -> None:
    session = IvrSession(flow, "voice", 0.0)
    session.handle(e.Started(0.0))
    t = 0.0
    for d in digits:
        if session.state is not IvrState.WAITING_INPUT:
            break
        t += 1
        session.handle(e.Digits(t, d))
    was_finished = session.finished
    after = session.handle(e.Hangup(t + 1))
    assert session.finished
    assert all(isinstance(x, a.SurveyResult) for x in after)
    exit_ = session.path_record()["exit"]
    if not was_finished:
        assert exit_["outcome"] == "caller_hangup"
        assert exit_["node"] == session.node


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text("0123456789", min_size=1, max_size=9), min_size=1, max_size=10))
def test_sensitive_digits_never_appear_in_the_record(entries: list[str]) -> None:
    session = IvrSession(LOOPY, "voice", 0.0)
    session.handle(e.Started(0.0))
    session.handle(e.Digits(1.0, "2"))  # into the sensitive collect node
    t = 1.0
    entered: list[str] = []
    for d in entries:
        if session.state is not IvrState.WAITING_INPUT or session.node != "c":
            break
        t += 1
        session.handle(e.Digits(t, d))
        entered.append(d)
    record = json.dumps(session.path_record())
    for d in entered:
        if len(d) >= 5:  # short strings may legitimately occur elsewhere (times, digits)
            assert d not in record


# --- the loader never fails with anything but IvrConfigError ------------------------------
MAIN_DATA = tomllib.loads((CONFIG / "main.toml").read_text(encoding="utf-8"))
toml_scalars = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["menu", "agent", "en", "1", "luhn", "queue_open", "digits:x", ""]),
    st.integers(-5, 200),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    section=st.sampled_from(["flow", "nodes", "prompts"]),
    data=st.data(),
    value=st.one_of(toml_values, st.just("<delete>")),
)
def test_mutated_flow_is_either_valid_or_rejected_with_ivr_config_error(
    section: str, data: st.DataObject, value: Any
) -> None:
    doc = copy.deepcopy(MAIN_DATA)
    table: dict[str, Any] = doc[section]
    if section != "flow":
        table = table[data.draw(st.sampled_from(sorted(table)))]
    key = data.draw(st.sampled_from([*sorted(table), "kind", "next", "choices", "extra"]))
    if value == "<delete>":
        table.pop(key, None)
    else:
        table[key] = value
    try:
        validate_flow(parse_flow(doc, "main.toml"))
    except IvrConfigError as exc:
        assert exc.message.startswith("main.toml: ")
