"""Reading import files (CSV with spreadsheet conventions, JSON Lines) and the import report.

Rows come out as plain dicts with the line they started on, so the importer can report every
problem as ``(line, field, message)``; a line that cannot be a row at all comes out as a
string saying why. Bytes read are counted for the progress bar.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import Table

from ccserver.errors import BadRequest, CcserverError

Format = Literal["csv", "jsonl"]
OnDuplicate = Literal["skip", "update"]
# rows processed so far, bytes read so far, file size in bytes (for a progress bar)
Progress = Callable[[int, int, int], None]
MAX_REPORTED_ERRORS = 10_000  # a wholly wrong file should not build a gigantic report
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


@dataclass
class ImportReport:
    kind: str
    rows: int = 0
    imported: int = 0
    updated: int = 0
    skipped_duplicates: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    errors_truncated: bool = False

    def error(self, row: int, field_name: str, message: str) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((row, field_name, message))
        else:
            self.errors_truncated = True

    @property
    def rejected_rows(self) -> int:
        return len({r for r, _f, _m in self.errors})

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "imported": self.imported,
            "updated": self.updated,
            "skipped_duplicates": self.skipped_duplicates,
            "errors": [{"row": r, "field": f, "message": m} for r, f, m in self.errors],
            "errors_truncated": self.errors_truncated,
        }


def chunks(
    rows: Iterator[tuple[int, dict[str, Any] | str, int]], size: int, report: ImportReport
) -> Iterator[tuple[list[tuple[int, dict[str, Any]]], int]]:
    chunk: list[tuple[int, dict[str, Any]]] = []
    done = 0
    for number, row, done in rows:
        report.rows += 1
        if isinstance(row, str):
            report.error(number, "", row)
            continue
        chunk.append((number, row))
        if len(chunk) >= size:
            yield chunk, done
            chunk = []
    yield chunk, done


def field_errors(report: ImportReport, number: int, exc: CcserverError) -> None:
    fields = exc.details.get("fields")
    if isinstance(fields, Mapping) and fields:
        for name, message in fields.items():
            report.error(number, str(name), str(message))
    else:
        report.error(number, "", exc.message)


def slices(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def table_of(model: type[Any]) -> Table:
    return cast(Table, model.__table__)
