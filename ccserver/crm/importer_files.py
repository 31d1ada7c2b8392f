"""Reading import files: CSV (header row, spreadsheet conventions) and JSON Lines.

Rows come out as plain dicts with the line they started on, so the importer can report every
problem as ``(line, field, message)``; a line that cannot be a row at all comes out as a
string saying why. Bytes read are counted for the progress bar.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from ccserver.errors import BadRequest

Format = Literal["csv", "jsonl"]
_LIST_SEPARATORS = (";", "|")
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})


class ImportFileError(BadRequest):
    """The file as a whole cannot be imported (unknown format, unreadable, bad header)."""

    code = "import_file_invalid"


def detect_format(path: Path, explicit: str | None = None) -> Format:
    name = (explicit or path.suffix.lstrip(".")).lower()
    if name == "csv":
        return "csv"
    if name in ("jsonl", "ndjson", "json"):
        return "jsonl"
    raise ImportFileError(
        f"cannot tell the format of {path.name}: use .csv or .jsonl (or say which)",
        details={"path": str(path)},
    )


def _split_list(value: str) -> list[str]:
    for sep in _LIST_SEPARATORS:
        if sep in value:
            return [v.strip() for v in value.split(sep) if v.strip()]
    return [value.strip()]


def _csv_value(key: str, value: str) -> Any:
    """CSV cells are text: turn the ones that mean lists or booleans into those."""
    if key in ("tags", "phones", "emails"):
        return _split_list(value)
    if key.startswith("consent_"):
        low = value.lower()
        return True if low in _TRUE else False if low in _FALSE else value
    if key == "items":
        try:
            return json.loads(value)
        except ValueError:
            return value  # validation reports "must be a list"
    return value


def read_rows(path: Path, fmt: Format) -> Iterator[tuple[int, dict[str, Any] | str, int]]:
    """Yield ``(line_number, row, bytes_read)``; a row that cannot be parsed at all is a
    string saying why."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise ImportFileError(f"cannot read {path}: {exc.strerror}") from exc
    with fh:
        done = 0

        def lines() -> Iterator[str]:
            nonlocal done
            for raw in fh:
                done += len(raw)
                yield raw.decode("utf-8-sig" if done == len(raw) else "utf-8", "replace")

        if fmt == "jsonl":
            for number, line in enumerate(lines(), start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield number, f"not valid JSON: {exc.msg}", done
                    continue
                yield number, obj if isinstance(obj, dict) else "not a JSON object", done
            return
        reader = csv.reader(lines())
        header = next(reader, None)
        if not header:
            raise ImportFileError(f"{path.name} is empty (a header row is required)")
        keys = [h.strip().lower() for h in header]
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(keys):
                yield reader.line_num, f"{len(cells)} cells but {len(keys)} header columns", done
                continue
            row = {
                k: _csv_value(k, c.strip()) for k, c in zip(keys, cells, strict=False) if c.strip()
            }
            yield reader.line_num, row, done
