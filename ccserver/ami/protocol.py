"""Sans-I/O codec for the Asterisk Manager Interface (AMI).

Bytes in, messages out; actions out as bytes. No sockets, no ``await``, no clock: the asyncio
connection (``connection.py``) and the simulator (``ccserver/simulator``) are thin loops around
:class:`AmiProtocol`, in the style of h11 / websockets::

    proto = AmiProtocol()
    proto.receive_data(chunk)            # any split, any size
    for item in proto.events_received():  # Banner, Response, Event, EventList, Action,
        ...                               # or ProtocolError

Wire facts this codec relies on (see tests/fixtures/ami/README.md, real Asterisk 22):

* Messages are ``Key: Value`` lines ended by an empty line. Lines end in CRLF; bare LF is
  accepted too. Stray empty lines between messages are skipped (QueueRule sends one).
* The first line of a session is a banner without a colon-space (``Asterisk Call Manager/11.0.0``).
* A message is classified by ``Event`` *first*: ``OriginateResponse`` is an event carrying a
  ``Response`` header. Then ``Response``, then ``Action`` (what a server receives).
* Keys can repeat (``ChanVariable``, ``Variable``, ``Output``): every value is kept in order.
* Values may contain colons: only the first ``:`` separates key and value.
* Command output comes in two shapes: the modern one with one ``Output:`` header per line, and
  the legacy ``Response: Follows`` block of raw lines closed by ``--END COMMAND--``.
* Lists: ``Response: Success`` + ``EventList: start``, item events carrying the ActionID, then a
  ``...Complete`` event with ``EventList: Complete``. They are collected into one
  :class:`EventList` so callers get the whole answer at once.

Garbage never raises: an over-long line, an over-large message, a line without a colon or a
message of unknown kind becomes a :class:`ProtocolError` item, and parsing resynchronises at the
next message boundary.
"""

from __future__ import annotations

from ccserver.ami.messages import (
    Action,
    AmiEncodeError,
    Banner,
    Event,
    EventList,
    Fields,
    Item,
    Message,
    ProtocolError,
    Response,
    encode_action,
    encode_message,
    first_values,
)

__all__ = [
    "Action",
    "AmiEncodeError",
    "AmiProtocol",
    "Banner",
    "Event",
    "EventList",
    "Fields",
    "Item",
    "Message",
    "ProtocolError",
    "Response",
    "encode_action",
    "encode_message",
]

END_COMMAND = "--END COMMAND--"
DEFAULT_MAX_LINE = 64 * 1024
DEFAULT_MAX_MESSAGE = 1024 * 1024
DEFAULT_MAX_OPEN_LISTS = 1024


class AmiProtocol:
    """Incremental AMI parser. Never raises on input; see the module docstring."""

    def __init__(
        self,
        *,
        collect_lists: bool = True,
        max_line: int = DEFAULT_MAX_LINE,
        max_message: int = DEFAULT_MAX_MESSAGE,
        max_open_lists: int = DEFAULT_MAX_OPEN_LISTS,
        expect_banner: bool = True,
    ) -> None:
        self._collect_lists = collect_lists
        self._max_line = max_line
        self._max_message = max_message
        self._max_open_lists = max_open_lists
        self._buffer = b""
        self._items: list[Item] = []
        self._lines: list[str] = []
        self._size = 0
        self._expect_banner = expect_banner
        self._discard_line = False  # inside an over-long line: drop bytes until LF
        self._discard_message = False  # inside a bad message: drop lines until a blank one
        self._follows = False  # inside a legacy ``Response: Follows`` block
        self._pending = ""  # fast path: text of an unfinished message
        self._lists: dict[str, EventList] = {}
        self.errors = 0

    # -- input -------------------------------------------------------------------------------
    def receive_data(self, data: bytes) -> None:
        if not data:
            return
        buffer = self._buffer + data if self._buffer else data
        end = buffer.rfind(b"\n")
        if end < 0:
            self._buffer = buffer
            self._check_long_line()
            return
        self._buffer = buffer[end + 1 :]
        chunk = buffer[: end + 1]
        if self._discard_line:
            # The tail of an over-long line ends at the first LF; drop it.
            cut = chunk.find(b"\n")
            chunk = chunk[cut + 1 :]
            self._discard_line = False
        text = chunk.decode("utf-8", "replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if self._pending:
            text = self._pending + text
            self._pending = ""
        if (
            self._expect_banner
            or self._lines
            or self._follows
            or self._discard_message
            or "Response: Follows" in text
        ):
            self._slow_lines(text)
        else:
            self._fast_blocks(text)
        self._check_long_line()

    def _slow_lines(self, text: str) -> None:
        """Line-by-line state machine: banner, legacy Follows blocks, errors, resync."""
        lines = text.split("\n")
        lines.pop()  # empty string after the final LF
        max_line = self._max_line
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            if len(line) > max_line:
                self._error("line too long", line[:200].encode())
                self._reset_message(discard=True)
                continue
            self._line(line)

    def _fast_blocks(self, text: str) -> None:
        """Whole messages at once (the common case): split on blank lines, then headers.
        Anything unusual in a block is handed to the line state machine."""
        blocks = text.split("\n\n")
        tail = blocks.pop()  # an unfinished message (ends with LF) or ""
        if len(tail) > self._max_message:
            self._slow_lines(tail)
        else:
            self._pending = tail
        max_line = self._max_line
        for block in blocks:
            if not block:
                continue  # stray blank lines
            if block[0] == "\n":
                block = block.lstrip("\n")
                if not block:
                    continue
            if len(block) > max_line:
                self._slow_lines(block + "\n\n")
                continue
            lines = block.split("\n")
            try:
                fields = dict([ln.split(": ", 1) for ln in lines])
            except ValueError:  # a line without ": " (garbage, or "Key:" with no value)
                self._slow_lines(block + "\n\n")
                continue
            if len(fields) == len(lines):
                self._classify(fields, None, block)
            else:  # repeated keys: keep them all, the first value wins in ``fields``
                pairs = [(k, v) for k, _, v in (ln.partition(": ") for ln in lines)]
                self._classify(*first_values(pairs), block)

    def events_received(self) -> list[Item]:
        items, self._items = self._items, []
        return items

    @property
    def open_lists(self) -> int:
        return len(self._lists)

    def reset(self) -> None:
        """Forget partial input (after a reconnect); a new banner is expected."""
        self._buffer = b""
        self._pending = ""
        self._items = []
        self._lists = {}
        self._expect_banner = True
        self._discard_line = False
        self._reset_message(discard=False)

    # -- line state machine ----------------------------------------------------------------
    def _check_long_line(self) -> None:
        if self._discard_line:
            self._buffer = b""  # still inside the same over-long line: one error is enough
        elif len(self._buffer) > self._max_line:
            self._error("line too long", self._buffer[:200])
            self._buffer = b""
            self._discard_line = True
            self._reset_message(discard=True)

    def _line(self, line: str) -> None:
        if self._follows:
            self._follows_line(line)
            return
        if not line:
            if self._discard_message:
                self._discard_message = False
            elif self._lines:
                self._finish()
            return  # stray blank line between messages
        if self._discard_message:
            return
        if self._expect_banner and not self._lines:
            self._expect_banner = False
            if ": " not in line and "/" in line:
                self._items.append(Banner(line))
                return
        self._size += len(line) + 2
        if self._size > self._max_message:
            self._error("message too large", line[:200].encode())
            self._reset_message(discard=True)
            return
        self._lines.append(line)
        if len(self._lines) == 1 and line.startswith("Response: Follows"):
            self._follows = True

    def _follows_line(self, line: str) -> None:
        # Legacy command output: raw lines (colons, blank lines) until --END COMMAND--.
        self._size += len(line) + 2
        if line.endswith(END_COMMAND):
            head = line[: -len(END_COMMAND)]
            if head:
                self._lines.append(head)
            self._follows = False
            self._finish_follows()
            # The blank line after the marker is then skipped as a stray blank line.
            return
        if self._size > self._max_message:
            self._error("message too large", line[:200].encode())
            self._follows = False
            self._reset_message(discard=True)
            return
        self._lines.append(line)

    def _reset_message(self, *, discard: bool) -> None:
        self._lines = []
        self._size = 0
        self._follows = False
        self._discard_message = discard

    def _error(self, reason: str, data: bytes) -> None:
        self.errors += 1
        self._items.append(ProtocolError(reason, data))

    # -- message assembly ------------------------------------------------------------------
    def _finish_follows(self) -> None:
        lines = self._lines
        self._reset_message(discard=False)
        headers: list[tuple[str, str]] = []
        output: list[str] = []
        in_headers = True
        for line in lines:
            key, sep, value = line.partition(":")
            if in_headers and sep and key in ("Response", "Privilege", "ActionID", "Message"):
                headers.append((key, value[1:] if value.startswith(" ") else value))
                continue
            in_headers = False
            output.append(line)
        fields, repeated = first_values(headers)
        self._dispatch(Response(fields, repeated, status="Follows", output=output))

    def _finish(self) -> None:
        lines = self._lines
        self._lines = []
        self._size = 0
        headers: list[tuple[str, str]] = []
        for line in lines:
            # "Key: value" splits at the first ": " (as the fast path does); "Key:value"
            # at the first ":".
            key, sep, value = line.partition(": ")
            if not sep:
                key, sep, value = line.partition(":")
            if not sep or not key:
                self._error("malformed header line", line[:200].encode())
                return
            headers.append((key, value))
        self._classify(*first_values(headers), lines[0])

    def _classify(
        self, fields: dict[str, str], repeated: list[tuple[str, str]] | None, raw: str
    ) -> None:
        name = fields.get("Event")
        if name is not None:
            self._dispatch(Event(fields, repeated, name=name))
            return
        status = fields.get("Response")
        if status is not None:
            if repeated is not None:
                output = [v for k, v in repeated if k == "Output"]
            else:
                output = [fields["Output"]] if "Output" in fields else []
            self._dispatch(Response(fields, repeated, status=status, output=output))
            return
        action = fields.get("Action")
        if action is not None:
            self._items.append(Action(fields, repeated, name=action))
            return
        self._error("message without Event, Response or Action", raw[:200].encode())

    def _dispatch(self, item: Response | Event) -> None:
        if not self._collect_lists:
            self._items.append(item)
            return
        action_id = item.fields.get("ActionID")
        marker = item.fields.get("EventList")
        if isinstance(item, Response):
            if action_id is not None and marker is not None and marker.lower() == "start":
                if len(self._lists) >= self._max_open_lists:
                    oldest = next(iter(self._lists))
                    self._lists.pop(oldest)
                    self._error("too many open event lists", oldest.encode())
                self._lists[action_id] = EventList(item, [], None)
                return
            self._items.append(item)
            return
        if action_id is not None:
            pending = self._lists.get(action_id)
            if pending is not None:
                if marker is not None and marker.lower() == "complete":
                    pending.complete = item
                    del self._lists[action_id]
                    self._items.append(pending)
                else:
                    pending.events.append(item)
                return
        self._items.append(item)
