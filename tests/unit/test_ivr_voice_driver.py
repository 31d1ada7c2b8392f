"""AsyncAGI driver: IVR actions to AGI commands, real Asterisk results back to events."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from test_ivr_support import make_flow

from ccserver.channels.voice.ivr_driver import (
    AgiCommand,
    AgiResult,
    AgiResultError,
    VoiceIvrDriver,
    agi_commands,
    event_for,
    parse_agi_result,
)
from ivr import actions as a
from ivr import events as e
from ivr.loader import load_flow
from ivr.session import IvrSession

AMI = Path("/work/shared/fixtures/ami")
CONFIG = Path(__file__).parents[2] / "config" / "ivr"


@pytest.mark.parametrize(
    ("action", "lines"),
    [
        (a.Play("welcome", "ja", "…"), ['STREAM FILE ja/welcome ""']),
        (a.Play("menu", "en", "…", interruptible=True), ['STREAM FILE en/menu "0123456789*#"']),
        (a.Collect("n", "main-menu", "th", "…", 6.0, 1, 1), ["GET DATA th/main-menu 6000 1"]),
        (a.Collect("n", "enter-order", "en", "…", 8.5, 5, 10), ["GET DATA en/enter-order 8500 10"]),
        (a.SayDigits("12345", "en"), ['SAY DIGITS 12345 ""']),
        (a.SayNumber(42, "en"), ['SAY NUMBER 42 ""']),
        (a.SayDate("2026-11-20", "en"), ['SAY DATE 1795176000 ""']),
        (a.SetAttribute("language", "zh"), ["SET VARIABLE CHANNEL(language) zh"]),
        (a.Hangup(), ["HANGUP"]),
        (a.SetAttribute("reason", "billing"), []),
        (a.Route("general"), []),
        (a.Lookup("order_status", "1"), []),
    ],
)  # fmt: skip
def test_agi_commands(action: a.IvrAction, lines: list[str]) -> None:
    assert [c.text for c in agi_commands(action)] == lines


def test_say_date_epoch_is_noon_utc_of_that_day() -> None:
    epoch = int(agi_commands(a.SayDate("2026-11-20", "en"))[0].text.split()[2])
    assert dt.datetime.fromtimestamp(epoch, dt.UTC) == dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("200 result=53 (timeout)", AgiResult(200, "53", "timeout")),
        ("200 result= (timeout)", AgiResult(200, "", "timeout")),
        ("200 result=-1 endpos=0", AgiResult(200, "-1", None, 0)),
        ("200 result=0 endpos=2000\n", AgiResult(200, "0", None, 2000)),
        ("200 result=1 (42)", AgiResult(200, "1", "42")),
        ("200%20result%3D5%0A", AgiResult(200, "5")),
        ("510 Invalid or unknown command", AgiResult(510, message="Invalid or unknown command")),
        ("520-Invalid command syntax.  Proper usage follows:", AgiResult(520, message=
         "Invalid command syntax.  Proper usage follows:")),
    ],
)  # fmt: skip
def test_parse_agi_result(text: str, parsed: AgiResult) -> None:
    assert parse_agi_result(text) == parsed


@pytest.mark.parametrize("text", ["", "hello", "20 result=1", "OK"])
def test_parse_agi_result_rejects_garbage(text: str) -> None:
    with pytest.raises(AgiResultError):
        parse_agi_result(text)


def _fixture_pairs(name: str) -> list[tuple[str, str]]:
    """(command, raw Result) for every AGI action of a recorded Asterisk session."""
    commands: dict[str, str] = {}
    for line in (AMI / f"{name}.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["dir"] == "out" and "Action: AGI" in rec["data"]:
            fields = dict(x.split(": ", 1) for x in rec["data"].split("\r\n") if ": " in x)
            commands[fields["CommandID"]] = fields["Command"]
    pairs = []
    for msg in (AMI / f"{name}.in.txt").read_bytes().decode().split("\r\n\r\n"):
        fields = dict(x.split(": ", 1) for x in msg.split("\r\n") if ": " in x)
        if fields.get("Event") == "AsyncAGIExec":
            pairs.append((commands[fields["CommandId"]], fields["Result"]))
    return pairs


def _kind(command: str) -> AgiCommand:
    if command.startswith("STREAM FILE"):
        return AgiCommand(command, "stream", interruptible='""' not in command)
    if command.startswith("GET DATA"):
        return AgiCommand(command, "getdata")
    if command.startswith("SAY"):
        return AgiCommand(command, "say")
    return AgiCommand(command, "set")


@pytest.mark.skipif(not AMI.exists(), reason="recorded AMI fixtures not present")
def test_real_asterisk_results_map_to_events() -> None:
    got = [
        (cmd, type(event_for(_kind(cmd), parse_agi_result(raw), 1.0)).__name__)
        for name in ("b1_asyncagi_ivr_then_queue", "b3_asyncagi_missing_file_ends_agi")
        for cmd, raw in _fixture_pairs(name)
    ]
    assert got == [
        ("ANSWER", "NoneType"),
        ("GET VARIABLE CUSTOMER_ID", "NoneType"),
        ("SET VARIABLE IVR_STEP menu", "NoneType"),
        ('STREAM FILE beep "#"', "PlayDone"),
        ('SAY DIGITS 123 ""', "PlayDone"),
        ("GET DATA beep 3000 1", "Digits"),
        ("NOT A REAL COMMAND", "NoneType"),
        ("ANSWER", "NoneType"),
        ('STREAM FILE no-such-file ""', "Hangup"),
    ]
    getdata = _fixture_pairs("b1_asyncagi_ivr_then_queue")[5]
    assert event_for(_kind(getdata[0]), parse_agi_result(getdata[1]), 2.0) == e.Digits(2.0, "5")


@pytest.mark.parametrize(
    ("kind", "result", "expected"),
    [
        ("getdata", "200 result=53 (timeout)", e.Digits(1.0, "53")),
        ("getdata", "200 result=4111#", e.Digits(1.0, "4111")),
        ("getdata", "200 result= (timeout)", e.Timeout(1.0)),
        ("getdata", "200 result=", e.Timeout(1.0)),
        ("getdata", "200 result=-1", e.Hangup(1.0)),
        ("getdata", "510 Invalid or unknown command", e.Timeout(1.0)),
        ("getdata", "511 Command Not Permitted on a dead channel", e.Hangup(1.0)),
        ("stream", "200 result=0 endpos=8000", e.PlayDone(1.0)),
        ("stream", "200 result=-1 endpos=0", e.Hangup(1.0)),
        ("say", "200 result=0", e.PlayDone(1.0)),
        ("say", "520 Invalid command syntax", e.PlayDone(1.0)),
    ],
)
def test_event_for(kind: Any, result: str, expected: e.IvrEvent) -> None:
    assert event_for(AgiCommand("X", kind), parse_agi_result(result), 1.0) == expected


def test_interruptible_stream_turns_ascii_code_into_digit() -> None:
    cmd = AgiCommand('STREAM FILE en/m "0123456789*#"', "stream", interruptible=True)
    assert event_for(cmd, parse_agi_result("200 result=35 endpos=100"), 1.0) == e.Digits(1.0, "#")
    assert event_for(cmd, parse_agi_result("200 result=50 endpos=100"), 1.0) == e.Digits(1.0, "2")


# --- the driver, one command in flight -----------------------------------------------------
Responder = Callable[[str], str]


def drive(
    driver: VoiceIvrDriver,
    answer: Responder,
    crm: Callable[[a.Lookup], Mapping[str, Any] | None] = lambda _: None,
) -> tuple[list[str], list[a.IvrAction]]:
    """A fake PBX + CRM: returns the AGI lines sent and the actions left to the runtime."""
    sent: list[str] = []
    runtime: list[a.IvrAction] = []
    now = 0.0
    driver.start(now)
    for _ in range(200):
        step = driver.next_step()
        if step is None:
            break
        now += 1
        if isinstance(step, AgiCommand):
            sent.append(step.text)
            driver.on_result(answer(step.text), now)
        elif isinstance(step, a.Lookup):
            runtime.append(step)
            driver.lookup_result(crm(step), now)
        else:
            runtime.append(step)
    return sent, runtime


MENU = make_flow(
    """
[nodes.n]
kind = "play"
prompt = "p-hi"
next = "m"
[nodes.m]
kind = "menu"
prompt = "p-menu"
no_input_prompt = "p-none"
fallback = "agent"
choices = { 1 = "agent", 2 = "bye" }
"""
)


def test_driver_answers_plays_collects_and_hangs_up() -> None:
    replies = iter(["200 result=0", "200 result=0 endpos=1", "200 result= (timeout)",
                    "200 result=0 endpos=1", "200 result=2", "200 result=1"])  # fmt: skip
    driver = VoiceIvrDriver(IvrSession(MENU, "voice", 0.0))
    sent, runtime = drive(driver, lambda _: next(replies))
    assert sent == [
        "ANSWER",
        'STREAM FILE en/p-hi "0123456789*#"',
        "GET DATA en/p-menu 5000 1",
        'STREAM FILE en/p-none "0123456789*#"',
        "GET DATA en/p-menu 5000 1",
        "HANGUP",
    ]
    assert runtime == [a.Hangup("ivr_end")]
    assert driver.finished and driver.errors == 0


def test_barge_in_during_prompt_skips_the_menu_prompt() -> None:
    replies = iter(["200 result=0", "200 result=49 endpos=300"])  # caller presses 1
    driver = VoiceIvrDriver(IvrSession(MENU, "voice", 0.0))
    sent, runtime = drive(driver, lambda _: next(replies))
    assert sent == ["ANSWER", 'STREAM FILE en/p-hi "0123456789*#"']
    assert [type(x) for x in runtime] == [a.Route]
    assert driver.session.path_record()["inputs"][0]["input"] == "1"


def test_caller_gone_mid_prompt_ends_session_as_abandoned() -> None:
    replies = iter(["200 result=0", "200 result=-1 endpos=0"])
    driver = VoiceIvrDriver(IvrSession(MENU, "voice", 0.0))
    sent, runtime = drive(driver, lambda _: next(replies))
    assert sent == ["ANSWER", 'STREAM FILE en/p-hi "0123456789*#"']
    assert runtime == [] and driver.finished
    assert driver.session.path_record()["exit"] == {"node": "m", "outcome": "caller_hangup"}


def test_agi_errors_are_counted_not_fatal() -> None:
    replies = iter(["200 result=0", "510 Invalid or unknown command", "garbage",
                    "200 result=1 endpos=5", "200 result=1"])  # fmt: skip
    driver = VoiceIvrDriver(IvrSession(MENU, "voice", 0.0))
    sent, runtime = drive(driver, lambda _: next(replies))
    assert driver.errors == 2  # the failed prompt was skipped; the garbage counted as no input
    assert sent[-2:] == ['STREAM FILE en/p-none "0123456789*#"', "GET DATA en/p-menu 5000 1"]
    assert [type(x) for x in runtime] == [a.Route]
    driver.on_result("200 result=0", 99.0)  # nobody asked: counted, ignored
    assert driver.errors == 3


def test_external_hangup_keeps_survey_result_for_runtime() -> None:
    flow = load_flow(CONFIG / "survey.toml")
    driver = VoiceIvrDriver(IvrSession(flow, "voice", 0.0), answer=False)
    driver.start(0.0)
    assert driver.next_step() == AgiCommand('STREAM FILE en/survey-intro ""', "stream")
    driver.on_result("200 result=0 endpos=10", 1.0)
    assert driver.next_step() == AgiCommand("GET DATA en/survey-csat 6000 1", "getdata")
    driver.on_result("200 result=4", 2.0)
    assert driver.next_step() == AgiCommand("GET DATA en/survey-nps 8000 2", "getdata")
    driver.hangup(3.0)  # AsyncAGIEnd: the caller hung up before the NPS question
    assert driver.next_step() == a.SurveyResult({"csat": 4})
    assert driver.next_step() is None and driver.finished


def test_main_flow_by_phone_order_status_self_service() -> None:
    """A Japanese caller checks an order: the default flow over AsyncAGI, end to end."""
    presses = {"choose-language": "2", "main-menu": "1", "orders-menu": "1",
               "enter-order": "98765", "anything-else": "9"}  # fmt: skip

    def pbx(line: str) -> str:
        if line.startswith("GET DATA"):
            prompt = line.split()[2].split("/")[1]
            return f"200 result={presses[prompt]}"
        return "200 result=0"

    def crm(lookup: a.Lookup) -> Mapping[str, Any] | None:
        answers: dict[str, Mapping[str, Any]] = {
            "customer_by_phone": {"id": "42", "tier": "standard"},
            "queue_open": {"open": True},
            "order_status": {"status": "shipped", "shipped_on": "2026-11-20"},
        }
        return answers[lookup.kind]

    session = IvrSession(load_flow(CONFIG / "main.toml"), "voice", 0.0, caller_id="15551230000")
    driver = VoiceIvrDriver(session)
    sent, runtime = drive(driver, pbx, crm)
    assert sent == [
        "ANSWER",
        "GET DATA en/choose-language 5000 1",
        "SET VARIABLE CHANNEL(language) ja",
        'STREAM FILE ja/welcome ""',
        "GET DATA ja/main-menu 6000 1",
        "GET DATA ja/orders-menu 5000 1",
        "GET DATA ja/enter-order 8000 10",
        'STREAM FILE ja/order-your-order ""',
        'SAY DIGITS 98765 ""',
        'STREAM FILE ja/order-was-shipped-on ""',
        'SAY DATE 1795176000 ""',
        "GET DATA ja/anything-else 5000 1",
        'STREAM FILE ja/goodbye ""',
        "HANGUP",
    ]
    assert [x.kind for x in runtime if isinstance(x, a.Lookup)] == [
        "customer_by_phone", "queue_open", "order_status",
    ]  # fmt: skip
    assert runtime[-1] == a.Hangup("self_service")
    record = session.path_record()
    assert record["self_service"]["resolved"] is True
    assert record["language"] == "ja" and record["customer_id"] == "42"
