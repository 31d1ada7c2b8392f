"""Chat driver: the same flows as the phone, as text and buttons in the session's language."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccserver.channels.chat.ivr_driver import (
    ChatIvrDriver,
    format_date,
    input_event,
    render_actions,
)
from ivr import actions as a
from ivr import events as e
from ivr.loader import load_flow
from ivr.session import IvrSession

CONFIG = Path(__file__).parents[2] / "config" / "ivr"
MAIN = load_flow(CONFIG / "main.toml")


def _driver(**kwargs: Any) -> ChatIvrDriver:
    return ChatIvrDriver(IvrSession(MAIN, "chat", 0.0, **kwargs))


def test_language_menu_is_buttons_with_native_names() -> None:
    turn = _driver().start(0.0)
    assert turn.actions == []
    [msg] = turn.messages
    assert msg["kind"] == "buttons"
    # chat wording, not "press 1": the prompt's chat text is used on this channel
    assert (
        msg["text"]
        == "Please choose your language · 言語を選択してください · กรุณาเลือกภาษา · 请选择语言"
    )
    assert msg["buttons"] == [
        {"label": "English", "value": "1"},
        {"label": "日本語", "value": "2"},
        {"label": "ภาษาไทย", "value": "3"},
        {"label": "中文", "value": "4"},
    ]
    json.dumps(turn.messages)


def test_choosing_thai_then_account_prompt_is_a_numeric_text_field() -> None:
    driver = _driver()
    driver.start(0.0)
    turn = driver.on_message({"value": "3"}, 1.0)
    assert turn.actions == [
        a.SetAttribute("skills", {"lang.th": 1}),
        a.SetAttribute("language", "th"),
    ]
    assert turn.messages == [
        {"kind": "text", "text": "ขอบคุณที่โทรติดต่อศูนย์บริการของเรา", "buttons": [],
         "lang": "th"},
        {"kind": "text", "text": "กรุณาพิมพ์หมายเลขบัญชีของท่าน",
         "buttons": [], "lang": "th",
         "input": {"min_length": 6, "max_length": 10, "sensitive": False}},
    ]  # fmt: skip


def test_typed_label_picks_the_menu_entry_and_routes() -> None:
    driver = _driver()
    driver.start(0.0)
    driver.on_message({"text": "English"}, 1.0)
    turn = driver.on_message({"text": "123 456"}, 2.0)
    assert turn.actions == [a.Lookup("customer_by_account", "123456")]
    turn = driver.lookup_result({"id": "c1", "tier": "standard"}, 3.0)
    assert turn.actions[-1] == a.Lookup("queue_open", "general")
    turn = driver.lookup_result({"open": True}, 4.0)
    [menu] = turn.messages
    assert menu["kind"] == "buttons"
    assert [b["label"] for b in menu["buttons"]] == [
        "Orders and delivery", "Billing", "Complaints", "Technical support", "Talk to an agent",
    ]  # fmt: skip
    turn = driver.on_message({"text": "billing"}, 5.0)
    route = turn.actions[-1]
    assert isinstance(route, a.Route) and route.queue == "billing"
    assert (
        turn.messages[-1]["text"] == "Please hold while we connect you to the next available agent."
    )
    assert driver.finished


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "Your order 98765 was shipped on 20 November 2026"),
        ("ja", "ご注文番号98765は、次の日付に発送済みです：2026年11月20日"),  # noqa: RUF001
        ("zh", "您的订单98765已于以下日期发货：2026年11月20日"),  # noqa: RUF001
        ("th", "คำสั่งซื้อหมายเลข 98765 ได้จัดส่งแล้วเมื่อวันที่ 20 พฤศจิกายน 2569"),
    ],
)
def test_self_service_answer_reads_naturally_in_each_language(lang: str, text: str) -> None:
    digit = {"en": "1", "ja": "2", "th": "3", "zh": "4"}[lang]
    driver = _driver(caller_id="5551234")
    driver.start(0.0)
    driver.on_message({"value": digit}, 1.0)
    driver.lookup_result({"id": "42"}, 2.0)
    driver.lookup_result({"open": True}, 3.0)
    driver.on_message({"value": "1"}, 4.0)
    driver.on_message({"value": "1"}, 5.0)
    driver.on_message({"text": "98765"}, 6.0)
    turn = driver.lookup_result({"status": "shipped", "shipped_on": "2026-11-20"}, 7.0)
    assert turn.messages[0] == {"kind": "text", "text": text, "buttons": [], "lang": lang}
    assert turn.messages[1]["kind"] == "buttons"  # "anything else?" menu
    turn = driver.on_message({"value": "9"}, 8.0)
    assert turn.actions == [a.Hangup("self_service")]
    assert driver.session.path_record()["self_service"]["resolved"] is True


def test_render_actions_merges_prompts_and_drops_runtime_actions() -> None:
    msgs = render_actions([
        a.Play("x", "en", "You have"), a.SayNumber(2, "en"), a.Play("y", "en", "open complaints."),
        a.SetAttribute("reason", "r"), a.Route("general"),
    ])  # fmt: skip
    assert msgs == [
        {"kind": "text", "text": "You have 2 open complaints.", "buttons": [], "lang": "en"}
    ]
    assert render_actions([a.SayDigits("12", "en"), a.Hangup()]) == [
        {"kind": "text", "text": "12", "buttons": [], "lang": "en"}
    ]
    assert render_actions([a.Lookup("queue_open", "general")]) == []


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"value": "2"}, e.Digits(1.0, "2")),
        ({"text": " billing "}, e.Text(1.0, " billing ")),
        ({"text": "x" * 900}, e.Text(1.0, "x" * 500)),
        ({"value": 2}, None),
        ({"value": ""}, None),
        ({"value": "1" * 40}, None),
        ({"text": "   "}, None),
        ({"text": ["a"]}, None),
        ({}, None),
    ],
)
def test_input_event(message: dict[str, Any], expected: e.IvrEvent | None) -> None:
    assert input_event(message, 1.0) == expected


def test_unexpected_or_garbage_input_is_ignored_and_counted() -> None:
    driver = _driver(caller_id="555")
    driver.start(0.0)
    driver.on_message({"value": "2"}, 1.0)  # now waiting for the CRM, not the customer
    assert driver.on_message({"value": "1"}, 2.0).messages == []
    assert driver.on_message({"bogus": True}, 2.5).messages == []
    assert driver.ignored == 2
    assert driver.on_timeout(3.0).messages == []  # no question pending: nothing happens


def test_timeout_and_leave() -> None:
    driver = _driver()
    driver.start(0.0)
    turn = driver.on_timeout(5.0)
    assert [m["kind"] for m in turn.messages] == ["buttons"]  # asked again
    turn = driver.leave(6.0)
    assert turn.messages == [] and turn.actions == []
    assert driver.session.path_record()["exit"] == {"node": "language", "outcome": "caller_hangup"}
    assert driver.leave(7.0).actions == []


def test_same_flow_same_path_by_phone_and_by_chat() -> None:
    """One engine for both channels: the same choices walk the same nodes."""
    paths = []  # Thai, identified by caller ID, open, "talk to an agent"
    for kind in ("voice", "chat"):
        session = IvrSession(MAIN, kind, 0.0, caller_id="555")
        session.handle(e.Started(0.0))
        session.handle(e.Digits(1.0, "3"))
        session.handle(e.LookupResult(2.0, {"id": "9"}))
        session.handle(e.LookupResult(3.0, {"open": True}))
        session.handle(e.Digits(4.0, "0"))
        rec = session.path_record()
        paths.append([n["node"] for n in rec["nodes"]])
        assert rec["channel"] == kind
    assert paths[0] == paths[1]
    assert paths[0][-1] == "agent"


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "1 March 2027"),
        ("ja", "2027年3月1日"),
        ("th", "1 มีนาคม 2570"),
        ("xx", "1 March 2027"),
    ],
)
def test_format_date(lang: str, text: str) -> None:
    assert format_date("2027-03-01", lang) == text
    assert format_date("not a date", lang) == "not a date"
