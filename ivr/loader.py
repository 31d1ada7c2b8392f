"""Read a flow from TOML into :class:`ivr.model.Flow`, rejecting anything it cannot run.

Shape of a flow file (see ``config/ivr/main.toml`` for a complete one)::

    [flow]
    name = "main"
    start = "welcome"
    languages = ["en", "ja"]
    default_language = "en"

    [prompts.welcome]            # the id is also the audio file: <lang>/welcome
    en = "Welcome."
    ja = "お電話ありがとうございます。"

    [nodes.welcome]
    kind = "play"
    prompt = "welcome"
    next = "menu"

Field checks live here; graph checks (unknown / unreachable nodes, loops with no exit,
prompts missing a language) live in :mod:`ivr.validate`, which :func:`load_flow` runs.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ivr.errors import IvrConfigError
from ivr.model import (
    ANSWER_LOOKUPS,
    BRANCH_TESTS,
    CHECK_DIGITS,
    DIGITS,
    IDENTIFY_BY,
    SETTABLE,
    Choice,
    Flow,
    Node,
    NodeKind,
    Prompt,
    SayItem,
)
from ivr.validate import validate_flow

_INPUT = {"timeout", "retries", "invalid_prompt", "no_input_prompt"}
# kind -> (required keys, optional keys); "kind" itself is always allowed.
_KEYS: dict[NodeKind, tuple[set[str], set[str]]] = {
    NodeKind.PLAY: ({"prompt", "next"}, set()),
    NodeKind.MENU: ({"prompt", "choices", "fallback"}, set(_INPUT)),
    NodeKind.LANGUAGE: ({"prompt", "choices", "next"}, set(_INPUT)),
    NodeKind.COLLECT: (
        {"prompt", "variable", "next", "fallback"},
        _INPUT | {"min_length", "max_length", "pattern", "check_digit", "sensitive"},
    ),
    NodeKind.IDENTIFY: (
        {"prompt", "by", "next", "fallback"},
        _INPUT | {"min_length", "max_length", "check_digit", "sensitive", "not_found_prompt"},
    ),
    NodeKind.BRANCH: ({"test", "cases", "default"}, {"queue", "variable"}),
    NodeKind.ANSWER: ({"lookup", "key", "responses", "next", "not_found"}, {"select"}),
    NodeKind.SET: ({"attributes", "next"}, set()),
    NodeKind.RATING: ({"prompt", "variable", "next"}, _INPUT | {"min_value", "max_value"}),
    NodeKind.ROUTE: ({"queue"}, {"prompt", "reason"}),
    NodeKind.CALLBACK: ({"queue"}, {"prompt"}),
    NodeKind.VOICEMAIL: ({"queue"}, {"prompt", "max_seconds"}),
    NodeKind.TRANSFER: ({"number"}, {"prompt"}),
    NodeKind.HANGUP: (set(), {"prompt", "reason"}),
}
_NODE_REF = re.compile(r"^[A-Za-z0-9_.-]+$")
_EXTERNAL_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_FLOW_KEYS = {"name", "start", "languages", "default_language", "max_visits", "overflow"}


def load_flow(path: str | Path) -> Flow:
    """Load and validate one flow file; any problem raises :class:`IvrConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise IvrConfigError(p.name, None, None, f"cannot read file: {exc.strerror}") from None
    return loads_flow(text, p.name)


def loads_flow(text: str, file: str = "<string>") -> Flow:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise IvrConfigError(file, None, None, f"not valid TOML: {exc}") from None
    flow = parse_flow(data, file)
    validate_flow(flow)
    return flow


class _Reader:
    """Typed access to one TOML table, raising errors that name file, node and key."""

    def __init__(self, file: str, node: str | None, table: Mapping[str, Any]) -> None:
        self.file, self.node, self.table = file, node, table

    def fail(self, key: str | None, problem: str) -> IvrConfigError:
        return IvrConfigError(self.file, self.node, key, problem)

    def str_(self, key: str, default: str | None = None) -> str | None:
        value = self.table.get(key, default)
        if value is not None and (not isinstance(value, str) or not value):
            raise self.fail(key, "must be a non-empty string")
        return value

    def int_(self, key: str, default: int, lo: int, hi: int) -> int:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(key, f"must be an integer from {lo} to {hi}")
        return value

    def num(self, key: str, default: float, lo: float, hi: float) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise self.fail(key, f"must be a number from {lo} to {hi}")
        return float(value)

    def table_(self, key: str) -> Mapping[str, Any]:
        value = self.table.get(key)
        if not isinstance(value, dict) or not value:
            raise self.fail(key, "must be a non-empty table")
        return value


def parse_flow(data: Mapping[str, Any], file: str) -> Flow:
    for top in data:
        if top not in ("flow", "prompts", "nodes"):
            raise IvrConfigError(file, None, top, "unknown section (use flow, prompts, nodes)")
    head = data.get("flow")
    if not isinstance(head, dict):
        raise IvrConfigError(file, None, "flow", "missing [flow] table")
    r = _Reader(file, None, head)
    for key in head:
        if key not in _FLOW_KEYS:
            raise r.fail(key, "unknown key")
    languages = head.get("languages", ["en"])
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(x, str) and re.fullmatch(r"[a-z]{2,3}", x) for x in languages)
        or len(set(languages)) != len(languages)
    ):
        raise r.fail("languages", "must be a list of distinct language codes like 'en'")
    default_language = r.str_("default_language", languages[0])
    assert default_language is not None
    if default_language not in languages:
        raise r.fail("default_language", f"{default_language!r} is not in languages")
    start = r.str_("start")
    if start is None:
        raise r.fail("start", "missing")
    prompts = _parse_prompts(data.get("prompts", {}), file)
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        raise IvrConfigError(file, None, "nodes", "missing [nodes.*] tables")
    nodes: dict[str, Node] = {}
    for node_id, table in raw_nodes.items():
        if not _NODE_REF.match(node_id):
            raise IvrConfigError(file, node_id, None, "node id must match [A-Za-z0-9_.-]+")
        if not isinstance(table, dict):
            raise IvrConfigError(file, node_id, None, "must be a table")
        nodes[node_id] = _parse_node(node_id, table, file, tuple(languages))
    return Flow(
        name=r.str_("name", Path(file).stem) or Path(file).stem,
        file=file,
        start=start,
        languages=tuple(languages),
        default_language=default_language,
        prompts=prompts,
        nodes=nodes,
        max_visits=r.int_("max_visits", 60, 5, 1000),
        overflow=r.str_("overflow"),
    )


def _parse_prompts(raw: Any, file: str) -> dict[str, Prompt]:
    """``[prompts.<id>]``: language -> text, plus an optional ``chat`` table of the same shape
    for wording that suits a screen better than a phone ("choose" rather than "press 1")."""
    if not isinstance(raw, dict):
        raise IvrConfigError(file, None, "prompts", "must be a table of prompts")
    prompts: dict[str, Prompt] = {}
    for pid, table in raw.items():
        key = f"prompts.{pid}"
        if not isinstance(table, dict):
            raise IvrConfigError(file, None, key, "must map language codes to non-empty text")
        texts = {k: v for k, v in table.items() if k != "chat"}
        chat = table.get("chat", {})
        for where, mapping in ((key, texts), (f"{key}.chat", chat)):
            if not isinstance(mapping, dict) or not all(
                isinstance(v, str) and v for v in mapping.values()
            ):
                raise IvrConfigError(file, None, where, "must map language codes to non-empty text")
        prompts[pid] = Prompt(pid, texts, dict(chat))
    return prompts


def _parse_node(node_id: str, t: Mapping[str, Any], file: str, langs: tuple[str, ...]) -> Node:
    r = _Reader(file, node_id, t)
    kind_name = t.get("kind")
    try:
        kind = NodeKind(str(kind_name))
    except ValueError:
        kinds = ", ".join(k.value for k in NodeKind)
        raise r.fail("kind", f"unknown kind {kind_name!r} (one of {kinds})") from None
    required, optional = _KEYS[kind]
    for key in sorted(required):
        if key not in t:
            raise r.fail(key, f"missing (required for a {kind.value} node)")
    for key in t:
        if key != "kind" and key not in required and key not in optional:
            raise r.fail(key, f"unknown key for a {kind.value} node")
    fields: dict[str, Any] = {
        name: r.str_(name)
        for name in (
            "prompt", "next", "fallback", "invalid_prompt", "no_input_prompt",
            "not_found", "not_found_prompt", "default", "queue", "reason",
        )
    }  # fmt: skip
    fields["timeout"] = r.num("timeout", 5.0, 0.5, 120.0)
    fields["retries"] = r.int_("retries", 3, 1, 10)
    if kind in (NodeKind.MENU, NodeKind.LANGUAGE):
        fields["choices"] = _parse_choices(r, kind, langs)
    elif kind in (NodeKind.COLLECT, NodeKind.IDENTIFY):
        fields.update(_parse_collect(r, kind))
    elif kind is NodeKind.RATING:
        fields["variable"] = r.str_("variable")
        fields["min_value"] = r.int_("min_value", 1, 0, 99)
        fields["max_value"] = r.int_("max_value", 5, 0, 99)
        if fields["min_value"] >= fields["max_value"]:
            raise r.fail("max_value", "must be greater than min_value")
    elif kind is NodeKind.BRANCH:
        fields.update(_parse_branch(r, langs))
    elif kind is NodeKind.ANSWER:
        fields.update(_parse_answer(r))
    elif kind is NodeKind.SET:
        fields["attributes"] = _parse_attributes(r, langs)
    elif kind is NodeKind.VOICEMAIL:
        fields["max_seconds"] = r.int_("max_seconds", 120, 5, 600)
    elif kind is NodeKind.TRANSFER:
        number = r.str_("number")
        if number is None or not _EXTERNAL_NUMBER.match(number):
            raise r.fail("number", "must be a phone number of digits, optionally with '+'")
        fields["number"] = number
    return Node(id=node_id, kind=kind, **fields)


def _parse_choices(r: _Reader, kind: NodeKind, langs: tuple[str, ...]) -> tuple[Choice, ...]:
    raw = r.table_("choices")
    choices: list[Choice] = []
    for digit, spec in raw.items():
        key = f"choices.{digit}"
        if len(digit) != 1 or digit not in DIGITS:
            raise r.fail(key, f"bad digit {digit!r} (one of 0-9, * or #)")
        if kind is NodeKind.LANGUAGE:
            if spec not in langs:
                raise r.fail(key, f"{spec!r} is not one of the flow's languages {list(langs)}")
            choices.append(Choice(digit, spec))
            continue
        if isinstance(spec, str):
            target, label = spec, None
        elif isinstance(spec, dict) and set(spec) <= {"next", "label"} and "next" in spec:
            target, label = spec["next"], spec.get("label")
        else:
            raise r.fail(key, "must be a node id or a table { next = ..., label = ... }")
        if not isinstance(target, str) or not (label is None or isinstance(label, str)):
            raise r.fail(key, "next and label must be strings")
        choices.append(Choice(digit, target, label))
    return tuple(choices)


def _parse_collect(r: _Reader, kind: NodeKind) -> dict[str, Any]:
    out: dict[str, Any] = {
        "min_length": r.int_("min_length", 1, 1, 32),
        "max_length": r.int_("max_length", 16, 1, 32),
        "check_digit": r.str_("check_digit"),
        "sensitive": bool(r.table.get("sensitive", False)),
    }
    if not isinstance(r.table.get("sensitive", False), bool):
        raise r.fail("sensitive", "must be true or false")
    if out["min_length"] > out["max_length"]:
        raise r.fail("min_length", "is greater than max_length")
    if out["check_digit"] is not None and out["check_digit"] not in CHECK_DIGITS:
        raise r.fail("check_digit", f"unknown check digit {out['check_digit']!r} (luhn)")
    if kind is NodeKind.COLLECT:
        out["variable"] = r.str_("variable")
        pattern = r.str_("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise r.fail("pattern", f"bad regular expression: {exc}") from None
        out["pattern"] = pattern
    else:
        by = r.str_("by")
        if by not in IDENTIFY_BY:
            raise r.fail("by", f"must be one of {sorted(IDENTIFY_BY)}")
        out["by"] = by
    return out


def _parse_branch(r: _Reader, langs: tuple[str, ...]) -> dict[str, Any]:
    test = r.str_("test")
    if test not in BRANCH_TESTS:
        raise r.fail("test", f"unknown test {test!r} (one of {sorted(BRANCH_TESTS)})")
    if test == "queue_open" and "queue" not in r.table:
        raise r.fail("queue", "missing (required for test 'queue_open')")
    if test == "variable" and "variable" not in r.table:
        raise r.fail("variable", "missing (required for test 'variable')")
    cases = r.table_("cases")
    for value, target in cases.items():
        if not isinstance(target, str):
            raise r.fail(f"cases.{value}", "must be a node id")
        if test in ("queue_open", "open_complaint") and value not in ("true", "false"):
            raise r.fail(f"cases.{value}", "must be 'true' or 'false' for this test")
        if test == "language" and value not in langs:
            raise r.fail(f"cases.{value}", f"{value!r} is not one of the flow's languages")
    return {"test": test, "cases": dict(cases), "variable": r.str_("variable")}


def _parse_answer(r: _Reader) -> dict[str, Any]:
    lookup = r.str_("lookup")
    if lookup not in ANSWER_LOOKUPS:
        raise r.fail("lookup", f"unknown lookup {lookup!r} (one of {sorted(ANSWER_LOOKUPS)})")
    responses: dict[str, tuple[SayItem, ...]] = {}
    for status, items in r.table_("responses").items():
        key = f"responses.{status}"
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise r.fail(key, "must be a non-empty list of prompt ids and 'digits:field' items")
        parsed: list[SayItem] = []
        for item in items:
            how, sep, ref = item.partition(":")
            if sep and how in ("digits", "number", "date") and ref:
                parsed.append(SayItem(how, ref))
            elif sep:
                raise r.fail(key, f"bad item {item!r} (digits:, number: or date: + field)")
            else:
                parsed.append(SayItem("prompt", item))
        responses[status] = tuple(parsed)
    return {"lookup": lookup, "key": r.str_("key"), "select": r.str_("select"),
            "responses": responses}  # fmt: skip


def _parse_attributes(r: _Reader, langs: tuple[str, ...]) -> dict[str, Any]:
    attrs = dict(r.table_("attributes"))
    for name, value in attrs.items():
        key = f"attributes.{name}"
        if name not in SETTABLE:
            raise r.fail(key, f"cannot be set (one of {sorted(SETTABLE)})")
        ok = {
            "queue": isinstance(value, str) and bool(value),
            "reason": isinstance(value, str) and bool(value),
            "language": value in langs,
            "priority": isinstance(value, int) and not isinstance(value, bool) and value >= 0,
            "skills": isinstance(value, dict)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()),
        }[name]
        if not ok:
            raise r.fail(key, f"bad value {value!r}")
    return attrs
