"""Sans-I/O translator between an IVR session and Asterisk AsyncAGI (DESIGN.md §5).

The voice runtime owns the AMI connection; this module only turns IVR actions into AGI
command lines and AGI results back into IVR events:

    Play       -> STREAM FILE <lang>/<prompt> "<escape digits>"
    Collect    -> GET DATA <lang>/<prompt> <timeout ms> <max digits>
    SayDigits  -> SAY DIGITS <digits> ""      SayNumber -> SAY NUMBER <n> ""
    SayDate    -> SAY DATE <epoch> ""         Hangup    -> HANGUP
    language   -> SET VARIABLE CHANNEL(language) <code>   (so SAY uses the right voice)

The runtime loop, one AGI command in flight at a time (AsyncAGI runs them in order)::

    driver = VoiceIvrDriver(session)
    driver.start(now)
    while (step := driver.next_step()) is not None:
        if isinstance(step, AgiCommand):   # send Action: AGI, wait for AsyncAGIExec
            driver.on_result(decoded_result, now)
        elif isinstance(step, Lookup):     # ask the CRM / calendar
            driver.lookup_result(data_or_none, now)
        else:                              # Route, SetAttribute, OfferCallback, ...
            runtime.apply(step)
    # AsyncAGIEnd or Hangup of the channel at any time: driver.hangup(now)
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from ivr import actions as a
from ivr import events as e
from ivr.session import IvrSession

CommandKind = Literal["answer", "stream", "getdata", "say", "set", "hangup"]
ESCAPE_ALL = "0123456789*#"


@dataclass(frozen=True, slots=True)
class AgiCommand:
    text: str  # the AGI command line, e.g. 'GET DATA en/main-menu 6000 1'
    kind: CommandKind
    interruptible: bool = False


@dataclass(frozen=True, slots=True)
class AgiResult:
    """A parsed AsyncAGIExec ``Result``: ``200 result=53 (timeout)`` and friends."""

    code: int
    result: str | None = None  # the text after 'result=' (digits for GET DATA, -1, 0 ...)
    data: str | None = None  # the text in parentheses, e.g. '42' or 'timeout'
    endpos: int | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def timed_out(self) -> bool:
        return self.data == "timeout"


_RESULT = re.compile(
    r"^(?P<code>\d{3})[ -](?:result=(?P<result>\S*)(?: \((?P<data>[^)]*)\))?"
    r"(?: endpos=(?P<endpos>-?\d+))?|(?P<message>.*))$"
)


class AgiResultError(ValueError):
    """A Result string that is not AGI at all (garbage from the peer)."""


def parse_agi_result(text: str) -> AgiResult:
    """Parse one AGI result line; percent-encoded input (straight from AMI) is decoded."""
    if "%" in text and " " not in text:
        text = unquote(text)
    line = text.strip().splitlines()[0] if text.strip() else ""
    m = _RESULT.match(line)
    if m is None:
        raise AgiResultError(f"not an AGI result: {text!r}")
    endpos = m.group("endpos")
    return AgiResult(
        code=int(m.group("code")),
        result=m.group("result"),
        data=m.group("data"),
        endpos=None if endpos is None else int(endpos),
        message=(m.group("message") or "").strip(),
    )


def _quote(digits: str) -> str:
    return f'"{digits}"'


def _date_epoch(iso: str) -> int:
    # Noon UTC: SAY DATE renders in the PBX's time zone, and noon keeps the same calendar
    # day from UTC-11 to UTC+11 where midnight would say the day before west of Greenwich.
    day = dt.date.fromisoformat(iso[:10])
    return int(dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC).timestamp())


def agi_commands(action: a.IvrAction) -> list[AgiCommand]:
    """The AGI commands that perform ``action`` (empty when it is not for the PBX)."""
    if isinstance(action, a.Play):
        escape = ESCAPE_ALL if action.interruptible else ""
        return [AgiCommand(f"STREAM FILE {action.language}/{action.prompt} {_quote(escape)}",
                           "stream", action.interruptible)]  # fmt: skip
    if isinstance(action, a.Collect):
        ms = int(action.timeout * 1000)
        text = f"GET DATA {action.language}/{action.prompt} {ms} {action.max_digits}"
        return [AgiCommand(text, "getdata")]
    if isinstance(action, a.SayDigits):
        return [AgiCommand(f'SAY DIGITS {action.digits} ""', "say")]
    if isinstance(action, a.SayNumber):
        return [AgiCommand(f'SAY NUMBER {action.number} ""', "say")]
    if isinstance(action, a.SayDate):
        return [AgiCommand(f'SAY DATE {_date_epoch(action.date)} ""', "say")]
    if isinstance(action, a.SetAttribute) and action.name == "language":
        return [AgiCommand(f"SET VARIABLE CHANNEL(language) {action.value}", "set")]
    if isinstance(action, a.Hangup):
        return [AgiCommand("HANGUP", "hangup")]
    return []


def event_for(command: AgiCommand, result: AgiResult, now: float) -> e.IvrEvent | None:
    """The IVR event an AGI result means, given the command it answers.

    STREAM FILE answers with the ASCII code of an escape digit (35 is '#'), GET DATA with
    the digits themselves; -1 means the channel is gone (or, for a missing sound file,
    that AsyncAGI ended: fixture b3). A 5xx error skips a prompt / counts as no input so a
    broken prompt file never strands the caller.
    """
    if command.kind in ("answer", "set", "hangup"):
        return None
    if result.code == 511 or (result.ok and result.result == "-1"):
        return e.Hangup(now)
    if command.kind == "getdata":
        digits = (result.result or "") if result.ok else ""
        digits = digits.rstrip("#")
        if digits and all(ch in ESCAPE_ALL for ch in digits):
            return e.Digits(now, digits)
        return e.Timeout(now)
    if result.ok and command.interruptible and (result.result or "").isdigit():
        key = chr(int(result.result or "0"))
        if key in ESCAPE_ALL:  # anything else (result=0, odd codes) means the prompt ended
            return e.Digits(now, key)
    return e.PlayDone(now)


Step = AgiCommand | a.IvrAction


class VoiceIvrDriver:
    """Runs one session over AsyncAGI: queue of steps, one AGI command in flight."""

    def __init__(self, session: IvrSession, *, answer: bool = True) -> None:
        self.session = session
        self._steps: deque[Step] = deque()
        self._in_flight: AgiCommand | None = None
        self._answer = answer
        self.errors = 0  # AGI 5xx results and unparsable results: counted, never fatal

    @property
    def finished(self) -> bool:
        return self.session.finished and not self._steps and self._in_flight is None

    def start(self, now: float) -> None:
        if self._answer:
            self._steps.append(AgiCommand("ANSWER", "answer"))
        self._feed(e.Started(now))

    def next_step(self) -> Step | None:
        """The next thing to do, or None while waiting (a result, a lookup) or when done."""
        if self._in_flight is not None or not self._steps:
            return None
        step = self._steps.popleft()
        if isinstance(step, AgiCommand):
            self._in_flight = step
        return step

    def on_result(self, result: str, now: float) -> None:
        """The decoded ``Result`` of the AsyncAGIExec answering the in-flight command."""
        command, self._in_flight = self._in_flight, None
        if command is None:
            self.errors += 1  # a result nobody asked for (late or duplicate): skip it
            return
        try:
            parsed = parse_agi_result(result)
        except AgiResultError:
            parsed = AgiResult(code=520, message="unparsable")
        if not parsed.ok:
            self.errors += 1
        event = event_for(command, parsed, now)
        if event is None or self.session.finished:
            return
        if isinstance(event, e.Hangup):
            return self.hangup(now)
        if isinstance(event, e.Digits) and command.kind == "stream":
            self._drop_until_collect()  # barge-in: the menu prompt is no longer needed
        self._feed(event)

    def lookup_result(self, data: Mapping[str, Any] | None, now: float) -> None:
        self._feed(e.LookupResult(now, data))

    def hangup(self, now: float) -> None:
        """The channel hung up or AsyncAGI ended: nothing more will reach the caller."""
        self._steps.clear()
        self._in_flight = None
        if not self.session.finished:
            for action in self.session.handle(e.Hangup(now)):
                self._steps.append(action)  # e.g. a SurveyResult the runtime must keep

    def _drop_until_collect(self) -> None:
        while self._steps:
            step = self._steps.popleft()
            if isinstance(step, AgiCommand) and step.kind == "getdata":
                return

    def _feed(self, event: e.IvrEvent) -> None:
        for action in self.session.handle(event):
            commands = agi_commands(action)
            self._steps.extend(commands)
            if not commands or isinstance(action, a.SetAttribute | a.Hangup):
                self._steps.append(action)
