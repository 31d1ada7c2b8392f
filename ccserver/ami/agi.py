"""Sans-I/O helpers for AsyncAGI over AMI: the ``Env`` of ``AsyncAGIStart`` and the
``Result`` of ``AsyncAGIExec`` (both percent-encoded on the wire), and the MD5 login key."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = [
    "AgiResult",
    "decode_agi_env",
    "encode_agi_env",
    "encode_agi_result",
    "md5_login_key",
    "parse_agi_result",
]

# ``200 result=1 (42) endpos=2000`` -> code, result, optional (data), key=value extras.
_RESULT_RE = re.compile(r"^(?P<code>\d{3})(?:[ -](?P<rest>.*))?$", re.DOTALL)
_KV_RE = re.compile(r"(\w+)=(\S*)")


@dataclass(frozen=True, slots=True)
class AgiResult:
    """A decoded AGI reply line."""

    code: int
    result: str | None
    data: str | None
    extras: dict[str, str]
    raw: str

    @property
    def ok(self) -> bool:
        return self.code == 200 and self.result != "-1"

    @property
    def digits(self) -> str:
        """GET DATA: the digits; WAIT FOR DIGIT / STREAM FILE: the ASCII code as a char."""
        if self.result is None or self.result in ("", "0", "-1"):
            return ""
        return self.result


def decode_agi_env(env: str) -> dict[str, str]:
    """``AsyncAGIStart`` ``Env`` header -> ``{"agi_channel": ..., ...}``."""
    result: dict[str, str] = {}
    for line in unquote(env).split("\n"):
        if not line:
            continue
        key, _, value = line.partition(":")
        result[key.strip()] = value[1:] if value.startswith(" ") else value
    return result


def encode_agi_env(env: dict[str, str]) -> str:
    """Inverse of :func:`decode_agi_env`, encoded the way Asterisk does it."""
    text = "".join(f"{k}: {v}\n" for k, v in env.items()) + "\n"
    return quote(text, safe="()")


def encode_agi_result(line: str) -> str:
    """``200 result=1 (42)`` -> ``200%20result%3D1%20(42)%0A`` (parentheses stay)."""
    return quote(line + "\n", safe="()")


def parse_agi_result(encoded: str) -> AgiResult:
    """Decode an ``AsyncAGIExec`` ``Result`` header (percent-encoded or not). Never raises."""
    raw = unquote(encoded).strip()
    match = _RESULT_RE.match(raw)
    if match is None:
        return AgiResult(0, None, None, {}, raw)
    rest = match.group("rest") or ""
    result: str | None = None
    data: str | None = None
    extras: dict[str, str] = {}
    if rest.startswith("result="):
        head, _, tail = rest.partition(" ")
        result = head[len("result=") :]
        tail = tail.strip()
        if tail.startswith("("):
            close = tail.find(")")
            if close >= 0:
                data = tail[1:close]
                tail = tail[close + 1 :]
        extras = dict(_KV_RE.findall(tail))
    else:
        data = rest or None
    return AgiResult(int(match.group("code")), result, data, extras, raw)


def md5_login_key(challenge: str, secret: str) -> str:
    """``Key`` for ``Login`` with ``AuthType: MD5``: md5hex(challenge + secret)."""
    return hashlib.md5((challenge + secret).encode(), usedforsecurity=False).hexdigest()
