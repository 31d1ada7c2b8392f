"""Files customers sent that live under the data directory, not in the database: the mail
as received (``mail/<raw_ref>``, referenced from ``messages.headers``), chat files
(``attachments/chat/<interaction>/<id>``, from ``messages.attachments``) and complaint
attachments (``attachments/complaint/<complaint>/<id>``). Erasure and retention use these
helpers to delete the files together with the rows that point at them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any


def message_refs(headers: Mapping[str, Any] | None, attachments: Sequence[Any] | None) -> list[str]:
    refs = []
    if headers and headers.get("raw_ref"):
        refs.append(f"mail/{headers['raw_ref']}")
    for a in attachments or []:
        if isinstance(a, Mapping) and a.get("interaction_id") and a.get("id"):
            refs.append(f"attachments/chat/{a['interaction_id']}/{a['id']}")
    return refs


def complaint_refs(complaint_id: str, attachments: Sequence[Any] | None) -> list[str]:
    return [
        f"attachments/complaint/{complaint_id}/{a['id']}"
        for a in attachments or []
        if isinstance(a, Mapping) and a.get("id")
    ]


def under(data_dir: Path, refs: Iterable[str]) -> list[Path]:
    """The files ``refs`` name, never outside ``data_dir`` (references come from rows)."""
    root = data_dir.resolve()
    paths = [(root / ref).resolve() for ref in refs]
    return [p for p in paths if p.is_relative_to(root)]


def remove(paths: Iterable[Path]) -> int:
    """Delete ``paths`` (blocking: run in a thread); returns how many existed."""
    removed = 0
    for path in paths:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed
