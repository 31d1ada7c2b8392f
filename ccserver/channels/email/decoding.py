"""Decoding mail text (sans-I/O): charsets as senders really use them, RFC 2047 words,
raw 8-bit headers, and the ``email`` policy the channel parses and composes with.

Legacy charsets are decoded with their common supersets: mail labelled GB2312 is routinely
GBK, Shift_JIS is routinely CP932, TIS-620 is routinely Windows-874.
"""

from __future__ import annotations

import codecs
import email.header
import email.policy
from email.headerregistry import BaseHeader, HeaderRegistry
from typing import Any


class _CachedHeaderRegistry(HeaderRegistry):
    """The stdlib registry builds a brand-new class on *every* header access (``type(...)``
    in ``__getitem__``) and re-parses the value each time; together these dominated inbound
    CPU time. Same classes and header objects, built once."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name: str, value: Any) -> BaseHeader:
        # The feed parser asks for Content-Type (boundary, type) many times per part and
        # each access re-parses it; header objects are immutable, so equal (name, value)
        # pairs share one parse. Bounded, and long (possibly hostile) values are not kept.
        if type(value) is not str or len(value) > 1000:  # composing passes Address objects
            return super().__call__(name, value)
        key = (name, value)
        header = self._parsed.get(key)
        if header is None:
            header = super().__call__(name, value)
            if len(self._parsed) >= 4096:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[key] = header
        return header


# policy.default semantics (RFC 5322/6532 headers, defects recorded) with the cached factory.
MAIL_POLICY = email.policy.default.clone(header_factory=_CachedHeaderRegistry())


# Labels seen in the wild -> the codec that decodes what senders really send.
_CHARSET_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "ms_kanji": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "tis-620": "cp874",
    "tis620": "cp874",
    "windows-874": "cp874",
    "iso-8859-11": "cp874",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",  # undeclared 8-bit in "ascii" mail is nearly always UTF-8
    "ascii": "utf-8",
}


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode body bytes; returns (text, lenient) where lenient means we had to guess or
    replace characters."""
    label = (charset or "").strip().strip('"').lower()
    codec = _CHARSET_SUPERSETS.get(label, label)
    if codec:
        try:
            codecs.lookup(codec)
        except LookupError:
            codec = ""
    if codec:
        try:
            return data.decode(codec), False
        except UnicodeDecodeError:
            if codec == "iso2022_jp_ext":
                try:
                    return data.decode("iso2022_jp_2"), False
                except UnicodeDecodeError:
                    pass
            return data.decode(codec, errors="replace"), True
    try:
        return data.decode("utf-8"), charset is not None
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), True


def fix_surrogates(value: str, charset: str | None) -> tuple[str, bool]:
    """Raw 8-bit header bytes arrive as surrogate escapes. UTF-8 is legitimate (RFC 6532);
    anything else is decoded as the body charset. Returns (text, was_not_utf8)."""
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value, False
    raw = value.encode("utf-8", errors="surrogateescape")
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        text, _ = decode_bytes(raw, charset or "utf-8")
        return text, True


def decode_header_value(raw: str, fallback_charset: str | None = None) -> str:
    """Decode RFC 2047 encoded words with the same charset supersets as bodies (the stdlib
    decodes ``=?Shift_JIS?...?=`` strictly and loses CP932 characters)."""
    text, _ = fix_surrogates(raw, fallback_charset)
    out: list[str] = []
    for chunk, charset in email.header.decode_header(text):
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(
                decode_bytes(chunk, charset)[0] if charset else chunk.decode("utf-8", "replace")
            )
    return "".join(out)
