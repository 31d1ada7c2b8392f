"""The AMI codec against real Asterisk 22 transcripts, replayed chunk by chunk as recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccserver.ami.errors import AmiEncodeError
from ccserver.ami.protocol import (
    Action,
    AmiProtocol,
    Banner,
    Event,
    EventList,
    Item,
    ProtocolError,
    Response,
    encode_action,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"
TRANSCRIPTS = sorted(p.name.removesuffix(".jsonl") for p in FIXTURES.glob("*.jsonl"))


def recorded_chunks(name: str) -> list[bytes]:
    chunks = []
    for line in (FIXTURES / f"{name}.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["dir"] == "in":
            chunks.append(record["data"].encode())
    return chunks


def parse(chunks: list[bytes], **kwargs: object) -> list[Item]:
    proto = AmiProtocol(**kwargs)  # type: ignore[arg-type]
    items: list[Item] = []
    for chunk in chunks:
        proto.receive_data(chunk)
        items.extend(proto.events_received())
    return items


def count_messages(raw: bytes) -> int:
    """Independent count: blank-line separated blocks minus the banner line."""
    text = raw.decode().replace("\r\n", "\n")
    return len([b for b in text.split("\n\n") if b.strip()])


def test_every_transcript_is_present() -> None:
    assert len(TRANSCRIPTS) >= 16


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_transcript_parses_without_errors(name: str) -> None:
    chunks = recorded_chunks(name)
    assert b"".join(chunks) == (FIXTURES / f"{name}.in.txt").read_bytes()
    items = parse(chunks)
    assert not [i for i in items if isinstance(i, ProtocolError)]
    assert isinstance(items[0], Banner)
    assert items[0].text == "Asterisk Call Manager/11.0.0"
    assert items[0].version == "11.0.0"
    # Every message is accounted for, either alone or inside an event list.
    flat = 0
    for item in items[1:]:
        if isinstance(item, EventList):
            flat += 2 + len(item.events)
        else:
            flat += 1
    first_block_has_banner = 1  # the banner shares the first block with the first message
    assert flat + 1 == count_messages(b"".join(chunks)) + first_block_has_banner


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_transcript_byte_by_byte_equals_recorded_chunks(name: str) -> None:
    chunks = recorded_chunks(name)
    whole = b"".join(chunks)
    assert parse([whole[i : i + 1] for i in range(len(whole))]) == parse(chunks)


def test_originate_response_is_an_event_even_with_a_response_header() -> None:
    items = parse(recorded_chunks("c5_originate_variants"))
    originate = [i for i in items if isinstance(i, Event) and i.name == "OriginateResponse"]
    assert len(originate) == 3
    assert {o["Response"] for o in originate} == {"Success", "Failure"}
    failed = [o for o in originate if o["Response"] == "Failure"]
    assert all(o["Uniqueid"] == "<unknown>" for o in failed)


def test_ping_response_fields() -> None:
    items = parse(recorded_chunks("a1_login_ping_logoff"))
    responses = [i for i in items if isinstance(i, Response)]
    assert [r.status for r in responses] == ["Success", "Success", "Success", "Goodbye"]
    assert responses[1]["Ping"] == "Pong"
    assert responses[1].action_id == "a1_login_ping_logoff-2"
    assert responses[2].action_id is None
    assert responses[3].ok


def test_modern_command_output_lines_are_kept_with_colons_and_blanks() -> None:
    items = parse(recorded_chunks("c4_command_misc"))
    commands = [i for i in items if isinstance(i, Response) and i.output]
    version = commands[0]
    assert version.output[0].startswith("Asterisk 22.10.1 built by root @ vm")
    queue_show = commands[1]
    assert "   Members: " in queue_show.output
    assert queue_show.output[-1] == ""
    unknown = [c for c in commands if c.status == "Error"]
    assert unknown and unknown[0].output[0].startswith("No such command")


def test_legacy_follows_command_output() -> None:
    raw = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: x-1\r\n"
        b"Name: value: with colons\n\nsecond paragraph\n--END COMMAND--\r\n\r\n"
        b"Event: After\r\n\r\n"
    )
    items = parse([raw], expect_banner=False)
    assert len(items) == 2
    response, event = items
    assert isinstance(response, Response) and isinstance(event, Event)
    assert response.status == "Follows" and response.ok
    assert response.action_id == "x-1"
    assert response.output == ["Name: value: with colons", "", "second paragraph"]
    assert event.name == "After"


def test_legacy_follows_with_marker_glued_to_last_line() -> None:
    raw = b"Response: Follows\r\nActionID: 7\r\nuptime 5s--END COMMAND--\r\n\r\n"
    (response,) = parse([raw], expect_banner=False)
    assert isinstance(response, Response)
    assert response.output == ["uptime 5s"]


def test_repeated_keys_keep_every_value() -> None:
    items = parse(recorded_chunks("c2_lists_active_call"))
    lists = [i for i in items if isinstance(i, EventList)]
    status_with_vars = [
        e for lst in lists for e in lst.events if e.name == "Status" and e.get_all("Variable")
    ]
    assert status_with_vars
    raw = b"Event: X\r\nChanVariable: A=1\r\nChanVariable: B=x=y\r\nOther: z\r\n\r\n"
    (event,) = parse([raw], expect_banner=False)
    assert isinstance(event, Event)
    assert event.get_all("ChanVariable") == ["A=1", "B=x=y"]
    assert event["ChanVariable"] == "A=1"
    assert event.variables() == {"A": "1", "B": "x=y"}
    assert event.keys() == ["Event", "ChanVariable", "ChanVariable", "Other"]


def test_event_lists_are_collected_by_action_id() -> None:
    items = parse(recorded_chunks("c1_lists_idle"))
    lists = [i for i in items if isinstance(i, EventList)]
    names = [lst.complete.name for lst in lists if lst.complete]
    assert "CoreShowChannelsComplete" in names and "QueueStatusComplete" in names
    for lst in lists:
        assert lst.complete is not None
        assert lst.complete["ListItems"] == str(len(lst.events))
        assert all(e.action_id == lst.action_id for e in lst.events)


def test_list_collection_can_be_disabled() -> None:
    items = parse(recorded_chunks("c1_lists_idle"), collect_lists=False)
    assert not [i for i in items if isinstance(i, EventList)]
    assert any(isinstance(i, Event) and i.name == "QueueStatusComplete" for i in items)


def test_lists_interleaved_with_unrelated_events() -> None:
    raw = (
        b"Response: Success\r\nActionID: L\r\nEventList: start\r\nMessage: go\r\n\r\n"
        b"Event: Unrelated\r\n\r\n"
        b"Event: Item\r\nActionID: L\r\n\r\n"
        b"Event: ItemComplete\r\nActionID: L\r\nEventList: Complete\r\nListItems: 1\r\n\r\n"
    )
    items = parse([raw], expect_banner=False)
    assert [type(i) for i in items] == [Event, EventList]
    lst = items[1]
    assert isinstance(lst, EventList) and [e.name for e in lst.events] == ["Item"]


def test_bare_lf_and_stray_blank_lines() -> None:
    raw = b"Asterisk Call Manager/11.0.0\n\n\r\nEvent: A\nKey: v:1\n\n\n\r\nEvent: B\r\n\r\n"
    items = parse([raw])
    assert isinstance(items[0], Banner)
    assert [i.name for i in items[1:] if isinstance(i, Event)] == ["A", "B"]
    assert isinstance(items[1], Event) and items[1]["Key"] == "v:1"


def test_garbage_line_gives_error_then_resyncs() -> None:
    raw = b"Event: A\r\nthis is not a header\r\n\r\nEvent: B\r\n\r\n"
    items = parse([raw], expect_banner=False)
    assert isinstance(items[0], ProtocolError)
    assert isinstance(items[1], Event) and items[1].name == "B"


def test_message_of_unknown_kind_is_an_error() -> None:
    items = parse([b"Foo: bar\r\n\r\nEvent: B\r\n\r\n"], expect_banner=False)
    assert isinstance(items[0], ProtocolError)
    assert isinstance(items[1], Event)


def test_oversized_line_without_newline_is_dropped_and_parsing_resumes() -> None:
    proto = AmiProtocol(max_line=1024, expect_banner=False)
    for _ in range(10):
        proto.receive_data(b"x" * 500)
    proto.receive_data(b"tail\r\n\r\nEvent: Ok\r\n\r\n")
    items = proto.events_received()
    assert isinstance(items[0], ProtocolError) and items[0].reason == "line too long"
    assert isinstance(items[-1], Event) and items[-1].name == "Ok"
    assert proto.errors == 1


def test_oversized_message_is_dropped() -> None:
    proto = AmiProtocol(max_message=2000, expect_banner=False)
    proto.receive_data(b"Event: Big\r\n" + b"K: " + b"v" * 100 + b"\r\n" * 1 + (b"K: vv\r\n" * 400))
    proto.receive_data(b"\r\nEvent: Next\r\n\r\n")
    items = proto.events_received()
    assert isinstance(items[0], ProtocolError) and items[0].reason == "message too large"
    assert [i.name for i in items if isinstance(i, Event)] == ["Next"]


def test_binary_garbage_never_raises() -> None:
    proto = AmiProtocol()
    proto.receive_data(bytes(range(256)) * 10 + b"\r\n\r\nEvent: Ok\r\n\r\n")
    items = proto.events_received()
    assert any(isinstance(i, ProtocolError) for i in items)
    assert isinstance(items[-1], Event) and items[-1].name == "Ok"


def test_actions_are_parsed_for_servers() -> None:
    data = encode_action("Originate", {"Channel": "PJSIP/1", "Variable": ["A=1", "B=2"]}, "id-1")
    (action,) = parse([data], expect_banner=False)
    assert isinstance(action, Action)
    assert action.name == "Originate" and action.action_id == "id-1"
    assert action.get_all("Variable") == ["A=1", "B=2"]


def test_encode_action_wire_format() -> None:
    assert encode_action("Ping") == b"Action: Ping\r\n\r\n"
    assert encode_action("AGI", [("Channel", "x"), ("Command", 'SAY DIGITS 1 ""')], "7") == (
        b'Action: AGI\r\nActionID: 7\r\nChannel: x\r\nCommand: SAY DIGITS 1 ""\r\n\r\n'
    )
    assert encode_action("Originate", {"Async": True, "Timeout": 3000}) == (
        b"Action: Originate\r\nAsync: true\r\nTimeout: 3000\r\n\r\n"
    )


@pytest.mark.parametrize("bad", ["a\r\nAction: Hangup", "x\ny"])
def test_encode_refuses_header_injection(bad: str) -> None:
    with pytest.raises(AmiEncodeError):
        encode_action("Ping", {"Data": bad})


def test_case_insensitive_lookup() -> None:
    (event,) = parse([b"Event: AsyncAGIExec\r\nCommandId: c-1\r\n\r\n"], expect_banner=False)
    assert isinstance(event, Event)
    assert event.get("CommandID") == "c-1"
    assert "commandid" in event
    with pytest.raises(KeyError):
        event["Missing"]


def test_reset_forgets_partial_input() -> None:
    proto = AmiProtocol()
    proto.receive_data(b"Asterisk Call Manager/11.0.0\r\nEvent: Half")
    proto.reset()
    proto.receive_data(b"Asterisk Call Manager/11.0.0\r\nEvent: Whole\r\n\r\n")
    items = proto.events_received()
    assert isinstance(items[-1], Event) and items[-1].name == "Whole"
