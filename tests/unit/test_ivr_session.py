"""IvrSession, table-driven per node kind, plus the path record and the life-cycle table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_ivr_support import event, make_flow, run, run_summary, summary

from ccserver.errors import IllegalTransition
from ivr import actions as a
from ivr import events as e
from ivr.checkdigit import luhn_append, luhn_valid, mask
from ivr.loader import load_flow
from ivr.session import IvrSession, IvrState

CONFIG = Path(__file__).parents[2] / "config" / "ivr"

MENU = """
[nodes.n]
kind = "menu"
prompt = "p-menu"
invalid_prompt = "p-bad"
no_input_prompt = "p-none"
retries = 2
fallback = "agent"
choices = { 1 = { next = "agent", label = "p-agent" }, 2 = "bye" }
"""
LANGUAGE = """
[nodes.n]
kind = "language"
prompt = "p-lang"
retries = 2
choices = { 1 = "en", 2 = "ja" }
next = "hi"
[nodes.hi]
kind = "play"
prompt = "p-hi"
next = "agent"
"""
COLLECT = """
[nodes.n]
kind = "collect"
prompt = "p-card"
variable = "acct"
min_length = 4
max_length = 16
check_digit = "luhn"
pattern = "^7[0-9]+$"
invalid_prompt = "p-bad"
retries = 2
next = "agent"
fallback = "bye"
"""
IDENTIFY = """
[nodes.n]
kind = "identify"
by = "account"
prompt = "p-acct"
min_length = 3
max_length = 8
not_found_prompt = "p-nf"
retries = 2
next = "agent"
fallback = "bye"
"""


def branch(test: str, cases: str, extra: str = "") -> str:
    return f"""
[nodes.n]
kind = "branch"
test = "{test}"
cases = {{ {cases} }}
default = "agent"
{extra}
"""


ANSWER = """
[nodes.n]
kind = "answer"
lookup = "order_status"
key = "order"
select = "status"
not_found = "agent"
next = "bye"
[nodes.n.responses]
shipped = ["p-your", "digits:order", "p-shipped", "date:shipped_on"]
default = ["p-your", "digits:order", "p-busy"]
"""
COMPLAINTS = """
[nodes.n]
kind = "answer"
lookup = "open_complaints"
key = "customer.id"
not_found = "agent"
next = "bye"
responses = { found = ["p-count", "number:count"] }
"""
SET = """
[nodes.n]
kind = "set"
attributes = { priority = 7, skills = { billing = 2 }, reason = "billing", queue = "billing" }
next = "agent"
"""
RATING = """
[nodes.n]
kind = "rating"
prompt = "p-rate"
variable = "csat"
min_value = 1
max_value = 5
retries = 2
next = "bye"
"""


# What a Japanese IME types for 79927398713 (full-width digits, U+FF10 + n).
FULLWIDTH = "79927398713".translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})


def terminal(kind: str, body: str) -> str:
    return f'\n[nodes.n]\nkind = "{kind}"\n{body}\n'


CASES: list[tuple[str, str, dict[str, Any], list[str], list[str]]] = [
    # (case id, nodes, session kwargs, events, every action emitted, in order)
    ("play", '[nodes.n]\nkind = "play"\nprompt = "p-hi"\nnext = "agent"', {}, ["start"],
     ["play:p-hi@en", "route:general"]),
    ("menu key", MENU, {}, ["start", "d:2"], ["collect:n", "hangup:ivr_end"]),
    ("menu invalid then valid", MENU, {}, ["start", "d:7", "d:1"],
     ["collect:n", "play:p-bad@en", "collect:n", "route:general"]),
    ("menu two digits is invalid", MENU, {}, ["start", "d:12", "d:2"],
     ["collect:n", "play:p-bad@en", "collect:n", "hangup:ivr_end"]),
    ("menu no input to fallback", MENU, {}, ["start", "timeout", "timeout"],
     ["collect:n", "play:p-none@en", "collect:n", "route:general"]),
    ("menu chat label", MENU, {"channel": "chat"}, ["start", "t:  en P-AGENT "],
     ["collect:n", "route:general"]),
    ("menu chat unknown text", MENU, {"channel": "chat"}, ["start", "t:hello", "t:2"],
     ["collect:n", "play:p-bad@en", "collect:n", "hangup:ivr_end"]),
    ("language choice", LANGUAGE, {}, ["start", "d:2"],
     ["collect:n", "set:skills={'lang.ja': 1}", "set:language=ja", "play:p-hi@ja",
      "route:general"]),
    ("language chat name", LANGUAGE, {"channel": "chat"}, ["start", "t:日本語"],
     ["collect:n", "set:skills={'lang.ja': 1}", "set:language=ja", "play:p-hi@ja",
      "route:general"]),
    ("language default after retries", LANGUAGE, {}, ["start", "d:9", "timeout"],
     ["collect:n", "collect:n", "set:skills={'lang.en': 1}", "set:language=en",
      "play:p-hi@en", "route:general"]),
    ("language preset by variables", LANGUAGE, {"variables": {"language": "ja"}}, ["start"],
     ["collect:n"]),
    ("collect luhn ok", COLLECT, {}, ["start", "d:79927398713"],
     ["collect:n", "set:ivr.acct=79927398713", "route:general"]),
    ("collect luhn bad", COLLECT, {}, ["start", "d:79927398710", "d:79927398713"],
     ["collect:n", "play:p-bad@en", "collect:n", "set:ivr.acct=79927398713", "route:general"]),
    ("collect pattern and length", COLLECT, {}, ["start", "d:59", "d:18"],
     ["collect:n", "play:p-bad@en", "collect:n", "hangup:ivr_end"]),
    ("collect chat spaces", COLLECT, {"channel": "chat"}, ["start", "t:7992 7398 713"],
     ["collect:n", "set:ivr.acct=79927398713", "route:general"]),
    ("collect chat full-width digits", COLLECT, {"channel": "chat"}, ["start", "t:" + FULLWIDTH],
     ["collect:n", "set:ivr.acct=79927398713", "route:general"]),
    ("collect voice non-ascii digits", COLLECT, {}, ["start", "d:" + FULLWIDTH, "timeout"],
     ["collect:n", "play:p-bad@en", "collect:n", "hangup:ivr_end"]),
    ("collect letters", COLLECT, {"channel": "chat"}, ["start", "t:abc", "timeout"],
     ["collect:n", "play:p-bad@en", "collect:n", "hangup:ivr_end"]),
    ("identify by caller id", IDENTIFY, {"caller_id": "15551230000"},
     ["start", 'l:{"id": 42, "tier": "gold"}'],
     ["lookup:customer_by_phone=15551230000", "set:customer_id=42", "route:general"]),
    ("identify caller id unknown then account", IDENTIFY, {"caller_id": "15551230000"},
     ["start", "l:none", "d:12345", 'l:{"id": "c7"}'],
     ["lookup:customer_by_phone=15551230000", "collect:n", "lookup:customer_by_account=12345",
      "set:customer_id=c7", "route:general"]),
    ("identify not found twice", IDENTIFY, {}, ["start", "d:111", "l:none", "d:222", "l:none"],
     ["collect:n", "lookup:customer_by_account=111", "play:p-nf@en", "collect:n",
      "lookup:customer_by_account=222", "hangup:ivr_end"]),
    ("identify no caller id asks", IDENTIFY, {}, ["start"], ["collect:n"]),
    ("identify by order number", IDENTIFY.replace('"account"', '"order"'), {},
     ["start", "d:7777", 'l:{"id": "c3"}'],
     ["collect:n", "lookup:customer_by_order=7777", "set:customer_id=c3", "route:general"]),
    ("branch queue open lookup", branch("queue_open", 'false = "bye"', 'queue = "general"'),
     {}, ["start", 'l:{"open": false}'], ["lookup:queue_open=general", "hangup:ivr_end"]),
    ("branch queue open unknown", branch("queue_open", 'false = "bye"', 'queue = "general"'),
     {}, ["start", "l:none"], ["lookup:queue_open=general", "hangup:ivr_end"]),
    ("branch tier", branch("tier", 'gold = "bye"'), {"variables": {"customer.tier": "gold"}},
     ["start"], ["hangup:ivr_end"]),
    ("branch tier default", branch("tier", 'gold = "bye"'), {}, ["start"], ["route:general"]),
    ("branch open complaint", branch("open_complaint", 'true = "bye"'),
     {"variables": {"customer.open_complaints": 2}}, ["start"], ["hangup:ivr_end"]),
    ("branch language", branch("language", 'ja = "bye"'), {"variables": {"language": "ja"}},
     ["start"], ["hangup:ivr_end"]),
    ("branch variable", branch("variable", 'x = "bye"', 'variable = "v"'),
     {"variables": {"v": "x"}}, ["start"], ["hangup:ivr_end"]),
    ("answer shipped", ANSWER, {"variables": {"order": "12345"}},
     ["start", 'l:{"status": "shipped", "shipped_on": "2026-11-20T08:00:00"}'],
     ["lookup:order_status=12345", "play:p-your@en", "digits:12345", "play:p-shipped@en",
      "date:2026-11-20", "hangup:ivr_end"]),
    ("answer other status", ANSWER, {"variables": {"order": "12345"}},
     ["start", 'l:{"status": "packing"}'],
     ["lookup:order_status=12345", "play:p-your@en", "digits:12345", "play:p-busy@en",
      "hangup:ivr_end"]),
    ("answer not found", ANSWER, {"variables": {"order": "999"}}, ["start", "l:none"],
     ["lookup:order_status=999", "route:general"]),
    ("answer without key", ANSWER, {}, ["start"], ["route:general"]),
    ("answer number", COMPLAINTS, {"variables": {"customer.id": "c1"}},
     ["start", 'l:{"count": 2}'],
     ["lookup:open_complaints=c1", "play:p-count@en", "number:2", "hangup:ivr_end"]),
    ("answer bad number from CRM", COMPLAINTS, {"variables": {"customer.id": "c1"}},
     ["start", 'l:{"count": "many"}'],
     ["lookup:open_complaints=c1", "play:p-count@en", "hangup:ivr_end"]),
    ("branch bad complaint count", branch("open_complaint", 'true = "bye"'),
     {"variables": {"customer.open_complaints": "n/a"}}, ["start"], ["route:general"]),
    ("set", SET, {}, ["start"],
     ["set:priority=7", "set:skills={'billing': 2}", "set:reason=billing", "set:queue=billing",
      "route:general"]),
    ("rating", RATING, {}, ["start", "d:6", "d:4"],
     ["collect:n", "collect:n", "survey:{'csat': 4}", "hangup:ivr_end"]),
    ("callback", terminal("callback", 'queue = "general"\nprompt = "p-cb"'),
     {"caller_id": "15551230000"}, ["start"],
     ["play:p-cb@en", "callback:general:15551230000"]),
    ("voicemail", terminal("voicemail", 'queue = "billing"\nmax_seconds = 60'), {}, ["start"],
     ["voicemail:billing:60"]),
    ("transfer", terminal("transfer", 'number = "+3225551234"'), {}, ["start"],
     ["transfer:+3225551234"]),
    ("hangup", terminal("hangup", 'prompt = "p-bye"\nreason = "closed"'), {}, ["start"],
     ["play:p-bye@en", "hangup:closed"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("nodes", "kwargs", "specs", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_node_kinds(
    nodes: str, kwargs: dict[str, Any], specs: list[str], expected: list[str]
) -> None:
    assert run_summary(make_flow(nodes), specs, **dict(kwargs)) == expected


def test_identify_skipped_when_customer_known() -> None:
    flow = make_flow('[nodes.s]\nkind = "play"\nprompt = "p-x"\nnext = "n"\n' + IDENTIFY,
                     start="s")  # fmt: skip
    # The chat login already told us who this is: no lookup, no question.
    session = IvrSession(flow, "chat", 0.0, caller_id="555", variables={"customer.id": "c9"})
    assert [summary(x) for x in run(session, ["start"])] == ["play:p-x@en", "route:general"]
    record = session.path_record()
    assert (record["customer_id"], record["identified_by"]) == ("c9", "login")


def test_route_carries_skills_priority_language_and_attributes() -> None:
    nodes = LANGUAGE.replace('next = "agent"', 'next = "s"')
    flow = make_flow(nodes + SET.replace("[nodes.n]", "[nodes.s]"))
    session = IvrSession(flow, "voice", 0.0, caller_id="555")
    actions = run(session, ["start", "d:2"])
    route = actions[-1]
    assert isinstance(route, a.Route)
    assert route.queue == "general"
    assert route.priority == 7
    assert dict(route.skills) == {"lang.ja": 1, "billing": 2}
    assert route.reason == "billing"
    assert route.attributes["language"] == "ja"
    assert route.attributes["ivr_path_nodes"] == ["n", "hi", "s", "agent"]
    assert session.finished


def test_queue_open_predicate_is_used_instead_of_lookup() -> None:
    flow = make_flow(branch("queue_open", 'true = "bye"', 'queue = "sales"'))
    asked: list[tuple[str, float]] = []

    def is_open(queue: str, now: float) -> bool:
        asked.append((queue, now))
        return True

    session = IvrSession(flow, "voice", 0.0, queue_open=is_open)
    assert [summary(x) for x in session.handle(e.Started(5.0))] == ["hangup:ivr_end"]
    assert asked == [("sales", 5.0)]


def test_deadline_follows_collect_timeout() -> None:
    flow = make_flow(MENU.replace("retries = 2", "retries = 2\ntimeout = 4"))
    session = IvrSession(flow, "chat", 10.0)
    session.handle(e.Started(10.0))
    assert session.state is IvrState.WAITING_INPUT
    assert session.deadline == 14.0
    session.handle(e.Timeout(14.0))
    assert session.deadline == 18.0
    session.handle(e.Digits(15.0, "1"))
    assert session.deadline is None and session.finished


@pytest.mark.parametrize(
    ("specs", "bad", "state"),
    [
        ([], "d:1", "idle"),
        (["start"], "start", "waiting_input"),
        (["start"], "l:none", "waiting_input"),
        (["start", "d:2"], "d:1", "finished"),
        (["start", "d:2"], "timeout", "finished"),
    ],
)
def test_illegal_events_raise(specs: list[str], bad: str, state: str) -> None:
    session = IvrSession(make_flow(MENU), "voice", 0.0)
    run(session, specs)
    with pytest.raises(IllegalTransition) as info:
        session.handle(event(bad, 9.0))
    assert info.value.machine == "ivr_session" and info.value.state == state


def test_lookup_event_while_waiting_for_input_is_illegal_but_playdone_is_not() -> None:
    session = IvrSession(make_flow(MENU), "voice", 0.0)
    run(session, ["start", "played", "played"])
    assert session.state is IvrState.WAITING_INPUT
    run(session, ["d:2", "hangup", "played"])  # late hang-up after the end is harmless
    assert session.finished


def test_loop_guard_sends_circling_caller_to_overflow() -> None:
    nodes = MENU.replace('2 = "bye"', '2 = "again"') + (
        '\n[nodes.again]\nkind = "play"\nprompt = "p-again"\nnext = "n"\n'
    )
    flow = make_flow(nodes, head='max_visits = 9\noverflow = "agent"')
    session = IvrSession(flow, "voice", 0.0)
    actions = run(session, ["start"] + ["d:2"] * 4)
    assert summary(actions[-1]) == "collect:n"  # 9 visits: still within the budget
    actions = session.handle(e.Digits(9.0, "2"))
    assert summary(actions[-1]) == "route:general"
    assert session.finished
    assert session.path_record()["exit"]["node"] == "agent"


def test_loop_guard_without_overflow_hangs_up() -> None:
    nodes = MENU.replace('2 = "bye"', '2 = "again"') + (
        '\n[nodes.again]\nkind = "play"\nprompt = "p-again"\nnext = "n"\n'
    )
    session = IvrSession(make_flow(nodes, head="max_visits = 6"), "voice", 0.0)
    actions = run(session, ["start"] + ["d:2"] * 3)
    assert summary(actions[-1]) == "hangup:loop_guard"


def test_bad_channel_kind() -> None:
    with pytest.raises(ValueError, match="channel_kind"):
        IvrSession(make_flow(MENU), "fax", 0.0)  # type: ignore[arg-type]


# --- path record -------------------------------------------------------------------------
def test_path_record_masks_sensitive_input_and_times_nodes() -> None:
    nodes = COLLECT.replace('check_digit = "luhn"', 'check_digit = "luhn"\nsensitive = true')
    session = IvrSession(make_flow(nodes), "voice", 100.0)
    session.handle(e.Started(100.0))
    session.handle(e.Digits(103.5, "79927398710"))  # bad check digit
    actions = session.handle(e.Digits(110.0, "79927398713"))
    assert not any(isinstance(x, a.SetAttribute) for x in actions)  # never leaves in clear
    rec = session.path_record()
    json.dumps(rec)  # JSON-serialisable as is
    assert "79927398713" not in json.dumps(rec)
    assert [(i["input"], i["result"]) for i in rec["inputs"]] == [
        ("*******8710", "invalid"),
        ("*******8713", "ok"),
    ]
    assert [(n["node"], n["seconds"]) for n in rec["nodes"]] == [("n", 10.0), ("agent", 0.0)]
    assert rec["exit"] == {"node": "agent", "outcome": "route", "queue": "general"}
    assert rec["started_at"] == 100.0 and rec["ended_at"] == 110.0


def test_path_record_shows_where_caller_hung_up() -> None:
    session = IvrSession(make_flow(MENU), "voice", 0.0)
    run(session, ["start", "d:9", "hangup"])
    rec = session.path_record()
    assert rec["exit"] == {"node": "n", "outcome": "caller_hangup"}
    assert rec["inputs"][0] == {"node": "n", "input": "9", "result": "invalid", "at": 1.0}
    assert rec["self_service"] == {"answers": [], "resolved": False}


@pytest.mark.parametrize(
    ("tail", "resolved"),
    [(["hangup"], True), ([], True)],
)
def test_self_service_resolution_is_recorded(tail: list[str], resolved: bool) -> None:
    session = IvrSession(make_flow(ANSWER), "voice", 0.0, variables={"order": "1"})
    run(session, ["start", 'l:{"status": "shipped"}', *tail])
    rec = session.path_record()
    assert rec["self_service"]["answers"] == [
        {"node": "n", "lookup": "order_status", "outcome": "answered"}
    ]
    assert rec["self_service"]["resolved"] is resolved


@pytest.mark.parametrize(
    ("specs", "outcome", "path"),
    [
        (["start", "d:2", 'l:{"status": "shipped"}', "d:9"], "self_service",
         ["m", "n", "m", "bye"]),
        (["start", "d:2", "hangup"], "abandoned_ivr", ["m", "n"]),
        (["start", "d:1"], None, ["m", "agent"]),
    ],
)  # fmt: skip
def test_contact_fields_for_the_interaction_and_contact(
    specs: list[str], outcome: str | None, path: list[str]
) -> None:
    nodes = (
        '[nodes.m]\nkind = "menu"\nprompt = "p-m"\nfallback = "agent"\n'
        'choices = { 1 = "agent", 2 = "n", 9 = "bye" }\n'
        + ANSWER.replace('next = "bye"', 'next = "m"')
    )
    session = IvrSession(make_flow(nodes, start="m"), "voice", 0.0, variables={"order": "5"})
    run(session, specs)
    fields = session.contact_fields()
    assert fields["outcome"] == outcome
    assert fields["ivr_inputs"] == {"m": specs[-1][2:] if outcome != "abandoned_ivr" else "2"}
    assert [n["node"] for n in fields["ivr_path"]] == path
    assert fields["ivr_resolved"] is (outcome == "self_service")
    json.dumps(fields)


def test_answer_then_agent_is_not_resolved() -> None:
    session = IvrSession(make_flow(ANSWER.replace('next = "bye"', 'next = "agent"')), "voice",
                         0.0, variables={"order": "1"})  # fmt: skip
    run(session, ["start", 'l:{"status": "shipped"}'])
    assert session.path_record()["self_service"]["resolved"] is False


def test_mask_and_luhn() -> None:
    assert mask("1234") == "****"
    assert mask("4111111111111111") == "************1111"
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert not luhn_valid("7") and not luhn_valid("12a4")
    assert luhn_valid(luhn_append("123456789"))


# --- shipped flows, end to end -----------------------------------------------------------
CUSTOMER = '{"id": "42", "tier": "standard", "open_complaints": 0}'


@pytest.mark.parametrize(
    ("specs", "kwargs", "last"),
    [
        (["start", "d:1", CUSTOMER, "l:" + '{"open": true}', "d:2"], {"caller_id": "555"},
         ["set:reason=billing", "set:skills={'lang.en': 1, 'billing': 1}",
          "play:please-hold@en", "route:billing"]),
        (["start", "d:3", "l:none", "d:123456", CUSTOMER, 'l:{"open": true}', "d:4"],
         {"caller_id": "555"}, ["play:please-hold@th", "route:technical"]),
        (["start", "d:4", "l:" + CUSTOMER.replace("standard", "gold").replace(': 0', ': 1'),
          'l:{"open": true}', "d:3", 'l:{"count": 1}'], {"caller_id": "555"},
         ["lookup:open_complaints=42", "play:complaints-you-have@zh", "number:1",
          "play:complaints-in-progress@zh", "set:reason=complaint",
          "set:skills={'lang.zh': 1, 'complaints': 1}",
          "set:priority=5", "play:please-hold@zh", "route:complaints"]),
        (["start", "timeout", "timeout", "d:12", "timeout", 'l:{"open": false}', "d:1"], {},
         ["play:callback-confirm@en", "callback:general:None"]),
        (["start", "d:2", CUSTOMER, 'l:{"open": false}', "d:2"], {"caller_id": "555"},
         ["play:leave-message@ja", "voicemail:general:120"]),
        (["start", "d:1", CUSTOMER, 'l:{"open": true}', "d:1", "d:1", "d:98765",
          'l:{"status": "delivered", "delivered_on": "2026-11-21"}', "d:9"], {"caller_id": "5"},
         ["play:order-your-order@en", "digits:98765", "play:order-was-delivered-on@en",
          "date:2026-11-21", "collect:anything_else", "play:goodbye@en",
          "hangup:self_service"]),
    ],
)  # fmt: skip
def test_main_flow_end_to_end(specs: list[str], kwargs: dict[str, Any], last: list[str]) -> None:
    flow = load_flow(CONFIG / "main.toml")
    specs = [s if s.split(":")[0] in ("start", "d", "t", "timeout", "l", "hangup") else "l:" + s
             for s in specs]  # fmt: skip
    got = run_summary(flow, specs, **kwargs)
    assert got[-len(last) :] == last


def test_main_flow_vip_gets_priority_and_language_skill() -> None:
    flow = load_flow(CONFIG / "main.toml")
    session = IvrSession(flow, "voice", 0.0, caller_id="555")
    actions = run(session, ["start", "d:2", 'l:{"id": "7", "tier": "platinum"}',
                            'l:{"open": true}', "d:0"])  # fmt: skip
    route = actions[-1]
    assert isinstance(route, a.Route)
    assert (route.queue, route.priority, route.reason) == ("general", 10, "agent")
    assert dict(route.skills) == {"lang.ja": 1}
    rec = session.path_record()
    assert rec["customer_id"] == "7" and rec["identified_by"] == "caller_id"
    assert rec["language"] == "ja"


@pytest.mark.parametrize(
    ("specs", "scores", "end"),
    [
        (["start", "d:5", "d:10"], {"csat": 5, "nps": 10}, "hangup:survey_done"),
        (["start", "d:0", "d:3", "d:11", "d:7#"], {"csat": 3}, "hangup:survey_done"),
        (["start", "d:4", "hangup"], {"csat": 4}, None),
        (["start", "timeout", "timeout", "d:8"], {"nps": 8}, "hangup:survey_done"),
    ],
)
def test_survey_flow(specs: list[str], scores: dict[str, int], end: str | None) -> None:
    flow = load_flow(CONFIG / "survey.toml")
    session = IvrSession(flow, "voice", 0.0)
    actions = run(session, specs)
    results = [x for x in actions if isinstance(x, a.SurveyResult)]
    assert [dict(r.scores) for r in results] == [scores]
    if end is not None:
        assert summary(actions[-1]) == end
    assert session.path_record()["survey"] == scores
