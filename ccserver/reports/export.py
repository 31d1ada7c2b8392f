"""Report rows (mappings) to CSV or XLSX bytes, with a header row.

Columns are the union of the rows' keys in first-seen order unless given. XLSX keeps types:
numbers stay numbers, booleans booleans, datetimes real dates (converted to UTC and stored
without zone, as Excel has none), None an empty cell. CSV writes numbers with ``repr``
precision, datetimes in ISO 8601 and None as an empty field.

Text that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab
or carriage return) is prefixed with ``'`` in both formats: a customer's free text must not
become a formula on a supervisor's machine (CSV/formula injection). Only strings are touched;
negative numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from openpyxl import Workbook

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_SHEET_TITLE = 31
_BAD_TITLE_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


def columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _safe_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return repr(value)
    return _safe_text(str(value))


def to_csv(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None, *, bom: bool = False
) -> bytes:
    """UTF-8 CSV (RFC 4180 quoting, CRLF line ends); ``bom`` helps Excel detect UTF-8."""
    rows = list(rows)
    cols = list(columns) if columns is not None else columns_of(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_safe_text(c) for c in cols])
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in cols])
    data = buffer.getvalue().encode("utf-8")
    return b"\xef\xbb\xbf" + data if bom else data


def _xlsx_cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return value
    return _safe_text(str(value))


def to_xlsx(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    sheet_name: str = "report",
) -> bytes:
    """One-sheet XLSX workbook: header row then one row per mapping."""
    rows = list(rows)
    cols = list(columns) if columns is not None else columns_of(rows)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(
        title=sheet_name.translate(_BAD_TITLE_CHARS)[:MAX_SHEET_TITLE] or "report"
    )
    sheet.append([_safe_text(c) for c in cols])
    for row in rows:
        sheet.append([_xlsx_cell(row.get(c)) for c in cols])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
