"""AMI message objects (what the codec produces) and action encoding (what it sends).

Pure data and string building: standard library plus ``ccserver.errors`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ccserver.errors import ValidationFailed


@dataclass(slots=True)
class Message:
    """One AMI message: a first-value lookup table plus, only when some key repeats, the full
    ordered header list (``headers`` rebuilds it from ``fields`` otherwise: dicts keep order,
    and not materialising it twice per event is most of the codec's speed)."""

    fields: dict[str, str]
    repeated: list[tuple[str, str]] | None = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Message:
        fields, repeated = first_values(list(pairs))
        return cls(fields, repeated)

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header in wire order, repeats included."""
        if self.repeated is not None:
            return self.repeated
        return list(self.fields.items())

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value of ``key``; exact match first, then case-insensitive (CommandID/Id)."""
        value = self.fields.get(key)
        if value is not None:
            return value
        lowered = key.lower()
        for k, v in self.headers:
            if k.lower() == lowered:
                return v
        return default

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key, in wire order (``ChanVariable``, ``Output``...)."""
        lowered = key.lower()
        return [v for k, v in self.headers if k.lower() == lowered]

    def keys(self) -> list[str]:
        """Header names in wire order (repeats included)."""
        return [k for k, _ in self.headers]

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def variables(self, key: str = "ChanVariable") -> dict[str, str]:
        """``ChanVariable: NAME=value`` style repeats as a dict."""
        result: dict[str, str] = {}
        for item in self.get_all(key):
            name, _, value = item.partition("=")
            result[name] = value
        return result


@dataclass(slots=True)
class Event(Message):
    """An ``Event:`` message. ``name`` is the event name as sent (case preserved)."""

    name: str = ""


@dataclass(slots=True)
class Response(Message):
    """A ``Response:`` message. ``output`` holds command output lines (either wire format)."""

    status: str = ""
    output: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status.lower() in ("success", "goodbye", "follows")

    @property
    def message(self) -> str | None:
        return self.get("Message")


@dataclass(slots=True)
class Action(Message):
    """An ``Action:`` message, as a server (the simulator) receives it."""

    name: str = ""


@dataclass(slots=True)
class EventList:
    """A list action's whole answer: the start response, the item events, the Complete event."""

    response: Response
    events: list[Event]
    complete: Event | None

    @property
    def action_id(self) -> str | None:
        return self.response.action_id

    @property
    def ok(self) -> bool:
        return self.response.ok


@dataclass(frozen=True, slots=True)
class Banner:
    """The greeting line, e.g. ``Asterisk Call Manager/11.0.0``."""

    text: str

    @property
    def version(self) -> str:
        return self.text.rpartition("/")[2]


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """A frame the codec could not use; parsing carried on after it."""

    reason: str
    data: bytes = b""


Item = Banner | Response | Event | EventList | Action | ProtocolError


class AmiEncodeError(ValidationFailed):
    """An action cannot be encoded (CR/LF in a value would inject headers). Defined here so
    this core imports nothing but the standard library and ``ccserver.errors``."""

    code = "ami_encode_invalid"


def first_values(
    headers: list[tuple[str, str]],
) -> tuple[dict[str, str], list[tuple[str, str]] | None]:
    """First-value table, and the header list itself only when a key repeats."""
    fields = dict(headers)
    if len(fields) == len(headers):
        return fields, None
    fields = {}
    for key, value in headers:
        fields.setdefault(key, value)
    return fields, headers


# -- output ------------------------------------------------------------------------------------
FieldValue = str | int | float | bool | Sequence[str]
Fields = Mapping[str, FieldValue] | Sequence[tuple[str, str]]


def _text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_message(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Encode ordered headers as one AMI message (CRLF lines, blank line at the end)."""
    parts: list[str] = []
    for key, value in pairs:
        if not key or any(c in key for c in ":\r\n") or "\r" in value or "\n" in value:
            raise AmiEncodeError(
                "AMI header names and values cannot contain CR/LF (or ':' in names)",
                details={"key": key},
            )
        parts.append(f"{key}: {value}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def _flatten(fields: Fields | None) -> list[tuple[str, str]]:
    if fields is None:
        return []
    if isinstance(fields, Mapping):
        pairs: list[tuple[str, str]] = []
        for key, value in fields.items():
            if isinstance(value, str | int | float | bool):
                pairs.append((key, _text(value)))
            else:  # repeated header, e.g. Variable: A=1 / Variable: B=2
                pairs.extend((key, _text(v)) for v in value)
        return pairs
    return [(k, v) for k, v in fields]


def encode_action(name: str, fields: Fields | None = None, action_id: str | None = None) -> bytes:
    """``Action: name`` + optional ``ActionID`` + fields. A sequence value repeats the key."""
    pairs = [("Action", name)]
    if action_id is not None:
        pairs.append(("ActionID", action_id))
    pairs.extend(_flatten(fields))
    return encode_message(pairs)
