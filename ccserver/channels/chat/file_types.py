"""Which files a chat customer may attach: an allow-list by extension, checked against the
file's first bytes.

The browser's declared Content-Type is not trusted (browsers derive it from the name, and a
script can send anything): the type is the one this table gives for the name's extension,
and the head of the file must carry that type's signature. Only types in this table can be
enabled in ``[chat] file_types``, so HTML, SVG, scripts and executables can never be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from ccserver.errors import CcserverError, ConfigError

# extension -> (content type, accepted leading signatures; empty: a text file)
FILE_TYPES: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "webp": ("image/webp", (b"RIFF",)),  # and "WEBP" at offset 8, checked below
    "pdf": ("application/pdf", (b"%PDF-",)),
    "txt": ("text/plain", ()),
    "csv": ("text/csv", ()),
    "rtf": ("application/rtf", (b"{\\rtf",)),
    "doc": ("application/msword", (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)),
    "xls": ("application/vnd.ms-excel", (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)),
    "ppt": ("application/vnd.ms-powerpoint", (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (b"PK\x03\x04",),
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        (b"PK\x03\x04",),
    ),
    "odt": ("application/vnd.oasis.opendocument.text", (b"PK\x03\x04",)),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", (b"PK\x03\x04",)),
    "odp": ("application/vnd.oasis.opendocument.presentation", (b"PK\x03\x04",)),
}
DEFAULT_FILE_TYPES: tuple[str, ...] = tuple(FILE_TYPES)
_HEAD = 16  # bytes needed to check the longest signature (WEBP at 8..12)
_TEXT_HEAD = 8192  # a text file's head must hold no NUL byte (binaries almost always do)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class FileTypeRefused(CcserverError):
    """The file's name or content is not of an allowed type (415)."""

    code = "file_type_not_allowed"
    http_status = 415


def allowed_types(configured: Iterable[str]) -> tuple[str, ...]:
    """``[chat] file_types`` as lower-case extensions; one outside FILE_TYPES fails the start."""
    exts = tuple(dict.fromkeys(str(e).lower().lstrip(".") for e in configured))
    unknown = [e for e in exts if e not in FILE_TYPES]
    if unknown:
        raise ConfigError(
            f"channels.toml:chat: file_types {unknown} are not attachable types "
            f"(choose from {sorted(FILE_TYPES)})",
            details={"keys": unknown},
        )
    return exts


def type_of(name: str, allowed: Iterable[str]) -> tuple[str, str]:
    """``(extension, content type)`` of a (safe) file name, or FileTypeRefused."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in allowed:
        raise FileTypeRefused(
            f"files of this type cannot be sent ({'.' + ext if ext else 'no extension'}); "
            f"allowed: {', '.join(sorted(allowed))}",
            details={"extension": ext, "allowed": sorted(allowed)},
        )
    return ext, FILE_TYPES[ext][0]


def _head_matches(ext: str, head: bytes) -> bool:
    signatures = FILE_TYPES[ext][1]
    if not signatures:
        return head.startswith(_UTF16_BOMS) or b"\x00" not in head
    if ext == "webp":
        return head.startswith(b"RIFF") and head[8:12] == b"WEBP"
    return head.startswith(signatures)


async def checked(chunks: AsyncIterator[bytes], ext: str) -> AsyncIterator[bytes]:
    """Pass ``chunks`` through once the file's head matches its extension's type; raise
    FileTypeRefused otherwise (the store then removes what it wrote)."""
    need = _TEXT_HEAD if not FILE_TYPES[ext][1] else _HEAD
    head, held = b"", []
    async for chunk in chunks:
        if len(head) < need:
            head += chunk[: need - len(head)]
            held.append(chunk)
            if len(head) < need:
                continue
            if not _head_matches(ext, head):
                raise _mismatch(ext)
            for c in held:
                yield c
            held = []
            continue
        yield chunk
    if held:  # a file shorter than the head we wanted
        if not _head_matches(ext, head):
            raise _mismatch(ext)
        for c in held:
            yield c


def _mismatch(ext: str) -> FileTypeRefused:
    return FileTypeRefused(f"the file's content is not a .{ext} file", details={"extension": ext})
