"""Hypothesis: any split of the input, any line-ending mix, gives the same messages."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ccserver.ami.protocol import AmiProtocol, Event, Item, ProtocolError, encode_message

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"
SAMPLES = [
    (FIXTURES / name).read_bytes()
    for name in ("a1_login_ping_logoff.in.txt", "c1_lists_idle.in.txt", "c4_command_misc.in.txt")
]


def parse_split(data: bytes, cuts: list[int]) -> list[Item]:
    proto = AmiProtocol()
    items: list[Item] = []
    last = 0
    for cut in sorted(set(cuts)):
        proto.receive_data(data[last:cut])
        items.extend(proto.events_received())
        last = cut
    proto.receive_data(data[last:])
    items.extend(proto.events_received())
    return items


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(SAMPLES), st.lists(st.integers(min_value=0, max_value=20000), max_size=40))
def test_split_anywhere_same_result(data: bytes, cuts: list[int]) -> None:
    assert parse_split(data, [c % (len(data) + 1) for c in cuts]) == parse_split(data, [])


header_key = st.text(
    alphabet=st.characters(min_codepoint=0x41, max_codepoint=0x7A, categories=["Lu", "Ll"]),
    min_size=1,
    max_size=12,
)
header_value = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=40
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(header_key, header_value), max_size=10),
    st.booleans(),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=10),
)
def test_encode_then_parse_round_trips(
    pairs: list[tuple[str, str]], bare_lf: bool, cuts: list[int]
) -> None:
    pairs = [(k, v) for k, v in pairs if k not in ("Event", "Response", "Action")]
    headers = [("Event", "Custom"), *pairs]
    data = encode_message(headers) * 2
    if bare_lf:
        data = data.replace(b"\r\n", b"\n")
    proto = AmiProtocol(expect_banner=False)
    proto.receive_data(data)
    items = proto.events_received()
    split_items = parse_split(data, [c % (len(data) + 1) for c in cuts])
    # parse_split expects a banner; a header line never looks like one (it has ': ').
    assert split_items == items
    assert len(items) == 2
    for item in items:
        assert isinstance(item, Event)
        # A value starting with a space loses exactly one (the separator), as on the wire.
        assert item.headers == headers


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(min_value=0, max_value=3000), max_size=8))
def test_random_bytes_never_raise_and_resync(garbage: bytes, cuts: list[int]) -> None:
    proto = AmiProtocol(max_line=512, max_message=2048)
    data = garbage + b"\r\n\r\nEvent: Sentinel\r\nSeq: 1\r\n\r\n"
    last = 0
    items: list[Item] = []
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        proto.receive_data(data[last:cut])
        last = cut
    proto.receive_data(data[last:])
    items = proto.events_received()
    assert isinstance(items[-1], Event) and items[-1].name == "Sentinel"
    assert proto.errors == len([i for i in items if isinstance(i, ProtocolError)])


def test_fixture_order_matches_jsonl() -> None:
    # Sanity on the fixture copies this suite relies on.
    lines = (FIXTURES / "a1_login_ping_logoff.jsonl").read_text().splitlines()
    joined = "".join(json.loads(x)["data"] for x in lines if json.loads(x)["dir"] == "in")
    assert joined.encode() == SAMPLES[0]


def test_fuzz_target_runs_clean() -> None:
    import importlib.util

    path = Path(__file__).parent.parent / "fuzz" / "ami_fuzz.py"
    spec = importlib.util.spec_from_file_location("ami_fuzz", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.run(300, seed=7) > 0  # mutations do produce (and count) protocol errors
