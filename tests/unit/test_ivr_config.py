"""Flow files: every validation error has a broken file and an exact message; the shipped
flows validate; the registry keeps a running flow when a reload is bad; ivr check."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ccserver.errors import ConfigError
from ivr.check import check_flow_file, main, to_dot
from ivr.errors import IvrConfigError
from ivr.loader import load_flow, loads_flow
from ivr.model import NodeKind
from ivr.registry import FlowRegistry

FLOWS = Path(__file__).parent / "ivr_flows"
CONFIG = Path(__file__).parents[2] / "config" / "ivr"

BROKEN = {
    "unknown_node.toml": "unknown_node.toml: node 'menu': key 'choices.2': unknown node 'nowhere'",
    "unknown_start.toml": "unknown_start.toml: [flow]: key 'start': unknown node 'welcome'",
    "unreachable_node.toml": (
        "unreachable_node.toml: node 'orphan': unreachable from the start node 'menu'"
    ),
    "loop_no_exit.toml": (
        "loop_no_exit.toml: node 'b': key 'cases.en': loop with no exit: a -> b -> a"
    ),
    "missing_prompt_language.toml": (
        "missing_prompt_language.toml: node 'menu': key 'prompt': prompt 'menu' has no 'ja' text"
    ),
    "unknown_prompt.toml": (
        "unknown_prompt.toml: node 'menu': key 'invalid_prompt': unknown prompt 'oops'"
    ),
    "bad_digit.toml": (
        "bad_digit.toml: node 'menu': key 'choices.12': bad digit '12' (one of 0-9, * or #)"
    ),
    "bad_digit_letter.toml": (
        "bad_digit_letter.toml: node 'menu': key 'choices.a': bad digit 'a' (one of 0-9, * or #)"
    ),
    "bad_language_choice.toml": (
        "bad_language_choice.toml: node 'lang': key 'choices.3': "
        "'fr' is not one of the flow's languages ['en', 'ja']"
    ),
    "unknown_kind.toml": (
        "unknown_kind.toml: node 'menu': key 'kind': unknown kind 'menuu' (one of play, menu, "
        "language, collect, identify, branch, answer, set, rating, route, callback, voicemail, "
        "transfer, hangup)"
    ),
    "missing_key.toml": (
        "missing_key.toml: node 'menu': key 'fallback': missing (required for a menu node)"
    ),
    "unknown_key.toml": "unknown_key.toml: node 'menu': key 'timeuot': unknown key for a menu node",
    "bad_pattern.toml": (
        "bad_pattern.toml: node 'menu': key 'pattern': "
        "bad regular expression: unterminated character set at position 0"
    ),
    "overflow_not_terminal.toml": (
        "overflow_not_terminal.toml: [flow]: key 'overflow': node 'menu' must be a terminal node"
    ),
    "not_toml.toml": (
        "not_toml.toml: not valid TOML: Expected ']' at the end of a table declaration "
        "(at line 1, column 6)"
    ),
}


@pytest.mark.parametrize(("name", "message"), sorted(BROKEN.items()))
def test_broken_flow_is_rejected_with_exact_message(name: str, message: str) -> None:
    with pytest.raises(IvrConfigError) as info:
        load_flow(FLOWS / name)
    assert info.value.message == message
    assert isinstance(info.value, ConfigError)
    assert info.value.code == "ivr_config_invalid"
    assert info.value.details["file"] == name


def test_every_broken_file_has_an_expected_message() -> None:
    on_disk = {p.name for p in FLOWS.glob("*.toml")} - {"valid_tiny.toml"}
    assert on_disk == set(BROKEN)


def test_error_names_node_and_key_in_details() -> None:
    with pytest.raises(IvrConfigError) as info:
        load_flow(FLOWS / "bad_digit.toml")
    assert (info.value.node, info.value.key) == ("menu", "choices.12")


def test_valid_tiny_flow_loads() -> None:
    flow = load_flow(FLOWS / "valid_tiny.toml")
    assert flow.name == "tiny"
    assert flow.nodes["menu"].kind is NodeKind.MENU
    assert [c.digit for c in flow.nodes["menu"].choices] == ["1", "2"]


@pytest.mark.parametrize("name", ["main.toml", "survey.toml"])
def test_shipped_flows_validate(name: str) -> None:
    flow = load_flow(CONFIG / name)
    assert set(flow.languages) == {"en", "ja", "th", "zh"}
    for prompt in flow.prompts.values():  # real text in every language, not a copy of English
        assert set(prompt.texts) == set(flow.languages)


def test_main_flow_covers_the_service_desk() -> None:
    flow = load_flow(CONFIG / "main.toml")
    kinds = {n.kind for n in flow.nodes.values()}
    assert {NodeKind.LANGUAGE, NodeKind.IDENTIFY, NodeKind.MENU, NodeKind.ANSWER,
            NodeKind.CALLBACK, NodeKind.VOICEMAIL, NodeKind.ROUTE} <= kinds  # fmt: skip
    queues = {n.queue for n in flow.nodes.values() if n.kind is NodeKind.ROUTE}
    assert queues == {"general", "orders", "billing", "complaints", "technical"}
    main_menu = flow.nodes["main_menu"]
    assert {c.digit for c in main_menu.choices} == {"0", "1", "2", "3", "4"}
    # Translations differ from English (a prompt copied across languages is not translated).
    texts = flow.prompts["main-menu"].texts
    assert len(set(texts.values())) == 4


def test_chat_wording_must_cover_every_language() -> None:
    text = _tiny().replace('ja = "担当者は1', 'chat.en = "Pick one."\nja = "担当者は1')
    with pytest.raises(IvrConfigError) as info:
        loads_flow(text, "x.toml")
    assert (
        info.value.message
        == "x.toml: node 'menu': key 'prompt': prompt 'menu' has no 'ja' chat text"
    )
    flow = loads_flow(text.replace('chat.en = "Pick one."', 'chat = { en = "Pick", ja = "選択" }'))
    assert flow.text("menu", "ja", "chat") == "選択"
    assert flow.text("menu", "ja", "voice") == "担当者は1、終了は2を押してください。"


def _tiny(extra: str = "") -> str:
    return (FLOWS / "valid_tiny.toml").read_text(encoding="utf-8") + extra


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('\n[nodes.t]\nkind = "transfer"\nnumber = "12ab"\n',
         "x.toml: node 't': key 'number': must be a phone number of digits, optionally with '+'"),
        ('\n[nodes.c]\nkind = "collect"\nprompt = "menu"\nvariable = "v"\nnext = "bye"\n'
         'fallback = "bye"\nmin_length = 9\nmax_length = 4\n',
         "x.toml: node 'c': key 'min_length': is greater than max_length"),
        ('\n[nodes.c]\nkind = "collect"\nprompt = "menu"\nvariable = "v"\nnext = "bye"\n'
         'fallback = "bye"\ncheck_digit = "mod97"\n',
         "x.toml: node 'c': key 'check_digit': unknown check digit 'mod97' (luhn)"),
        ('\n[nodes.s]\nkind = "set"\nnext = "bye"\nattributes = { colour = "red" }\n',
         "x.toml: node 's': key 'attributes.colour': cannot be set "
         "(one of ['language', 'priority', 'queue', 'reason', 'skills'])"),
        ('\n[nodes.b]\nkind = "branch"\ntest = "queue_open"\ncases = { true = "bye" }\n'
         'default = "bye"\n',
         "x.toml: node 'b': key 'queue': missing (required for test 'queue_open')"),
        ('\n[nodes.m]\nkind = "menu"\nprompt = "menu"\nfallback = "bye"\ntimeout = 0\n'
         'choices = { 1 = "bye" }\n',
         "x.toml: node 'm': key 'timeout': must be a number from 0.5 to 120.0"),
    ],
)  # fmt: skip
def test_field_errors_name_node_and_key(extra: str, message: str) -> None:
    with pytest.raises(IvrConfigError) as info:
        loads_flow(_tiny(extra), "x.toml")
    assert info.value.message == message


# --- registry ----------------------------------------------------------------------------
def test_registry_loads_directory_and_keeps_running_flow_on_bad_reload(tmp_path: Path) -> None:
    shutil.copy(CONFIG / "main.toml", tmp_path / "main.toml")
    shutil.copy(CONFIG / "survey.toml", tmp_path / "survey.toml")
    reg = FlowRegistry(tmp_path)
    reg.load()
    assert reg.names() == ["main", "survey"]
    running = reg.get("main")

    (tmp_path / "main.toml").write_text(
        (CONFIG / "main.toml")
        .read_text(encoding="utf-8")
        .replace('4 = { next = "technical"', '44 = { next = "technical"'),
        encoding="utf-8",
    )
    report = reg.reload()
    assert not report.ok
    assert report.kept == ("main",)
    assert [e.message for e in report.errors] == [
        "main.toml: node 'main_menu': key 'choices.44': bad digit '44' (one of 0-9, * or #)"
    ]
    assert reg.get("main") is running  # the good old flow stays in force

    shutil.copy(CONFIG / "main.toml", tmp_path / "main.toml")
    report = reg.reload()
    assert report.ok and set(report.loaded) == {"main", "survey"}
    assert reg.get("main") is not running


def test_registry_strict_load_raises_and_reports_removed(tmp_path: Path) -> None:
    shutil.copy(FLOWS / "valid_tiny.toml", tmp_path / "tiny.toml")
    reg = FlowRegistry(tmp_path)
    reg.load()
    (tmp_path / "tiny.toml").unlink()
    assert reg.reload().removed == ("tiny",)
    assert "tiny" not in reg
    with pytest.raises(IvrConfigError, match="no flow named 'tiny'"):
        reg.get("tiny")
    shutil.copy(FLOWS / "bad_digit.toml", tmp_path / "bad.toml")
    with pytest.raises(IvrConfigError, match="bad digit '12'"):
        reg.load()


def test_registry_rejects_duplicate_flow_names(tmp_path: Path) -> None:
    shutil.copy(FLOWS / "valid_tiny.toml", tmp_path / "a.toml")
    shutil.copy(FLOWS / "valid_tiny.toml", tmp_path / "b.toml")
    with pytest.raises(IvrConfigError) as info:
        FlowRegistry(tmp_path).load()
    assert info.value.message == (
        "b.toml: [flow]: key 'name': flow name 'tiny' is already used by a.toml"
    )


# --- ivr check ---------------------------------------------------------------------------
def test_check_prints_text_graph_and_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FLOWS / "valid_tiny.toml")]) == 0
    out = capsys.readouterr().out
    assert out == check_flow_file(FLOWS / "valid_tiny.toml")
    assert out.splitlines() == [
        "flow tiny (valid_tiny.toml): 3 nodes, languages en, ja, start menu",
        "  menu (menu)",
        "    choices.1 -> agent",
        "    choices.2 -> bye",
        "    fallback -> agent",
        "  agent (route queue=general)  [end]",
        "  bye (hangup)  [end]",
    ]


def test_check_dot_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(CONFIG / "main.toml"), "--dot"]) == 0
    out = capsys.readouterr().out
    assert out == to_dot(load_flow(CONFIG / "main.toml"))
    assert out.startswith('digraph "main" {')
    assert '"main_menu" -> "orders_menu" [label="choices.1"];' in out
    assert '"main_menu" -> "agent" [label="fallback", style=dashed];' in out
    assert '"agent" [shape=doublecircle' in out
    assert out.rstrip().endswith("}")


def test_check_invalid_exit_1_with_exact_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(FLOWS / "unknown_node.toml")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == BROKEN["unknown_node.toml"] + "\n"


def test_check_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main([str(tmp_path / "nope.toml")]) == 1
    assert capsys.readouterr().err.startswith("nope.toml: cannot read file:")
