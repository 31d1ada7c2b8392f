"""CSV and XLSX export: header row, types kept, formula injection neutralised."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone

from openpyxl import load_workbook

from ccserver.reports import export
from ccserver.reports.kpis import contact_kpis_by, report_rows

ROWS = [
    {
        "queue": "sales",
        "contacts": 3,
        "service_level": 0.75,
        "ok": True,
        "at": datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=9))),
        "note": None,
    },
    {
        "queue": '=HYPERLINK("http://x")',
        "contacts": -2,
        "service_level": None,
        "ok": False,
        "day": date(2026, 3, 3),
        "note": 'héllo, "quoted"\nline',
    },
]


def test_csv_header_values_and_quoting() -> None:
    data = export.to_csv(ROWS)
    assert data.startswith(b"queue,contacts,service_level,ok,at,note,day\r\n")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert parsed[0] == ["queue", "contacts", "service_level", "ok", "at", "note", "day"]
    assert parsed[1] == ["sales", "3", "0.75", "true", "2026-03-02T09:30:00+09:00", "", ""]
    assert parsed[2] == [
        '\'=HYPERLINK("http://x")',
        "-2",
        "",
        "false",
        "",
        'héllo, "quoted"\nline',
        "2026-03-03",
    ]
    assert len(parsed) == 3


def test_csv_columns_and_bom() -> None:
    data = export.to_csv(ROWS, ["contacts", "queue"], bom=True)
    assert data.startswith(b"\xef\xbb\xbfcontacts,queue\r\n3,sales\r\n")
    assert export.to_csv([]) == b"\r\n"


def test_xlsx_keeps_types() -> None:
    data = export.to_xlsx(ROWS, sheet_name="service level by queue, March 2026")
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.active
    assert sheet is not None
    assert sheet.title == "service level by queue, March 2"  # 31-character limit
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == ["queue", "contacts", "service_level", "ok", "at", "note", "day"]
    assert values[1][:5] == ["sales", 3, 0.75, True, datetime(2026, 3, 2, 0, 30)]
    assert values[1][5] is None
    assert values[2][0] == '\'=HYPERLINK("http://x")'
    assert values[2][1] == -2 and values[2][2] is None and values[2][3] is False
    assert values[2][6] == datetime(2026, 3, 3, 0, 0)
    workbook.close()


def test_kpi_report_round_trips_through_xlsx() -> None:
    contacts = [
        {
            "channel": "voice",
            "queue": "q1",
            "outcome": "answered",
            "wait_s": 5,
            "talk_s": 60,
            "queued_at": datetime(2026, 3, 2, tzinfo=UTC),
        },
        {
            "channel": "chat",
            "queue": "q2",
            "outcome": "abandoned_queue",
            "wait_s": 50,
            "queued_at": datetime(2026, 3, 2, tzinfo=UTC),
        },
    ]
    rows = report_rows(contact_kpis_by(contacts, ("queue",)), ("queue",))
    workbook = load_workbook(io.BytesIO(export.to_xlsx(rows)))
    sheet = workbook.active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    header = list(table[0])
    assert header[:3] == ["queue", "contacts", "answered"]
    assert "contacts_voice" in header and "contacts_chat" in header
    first = dict(zip(header, table[1], strict=True))
    second = dict(zip(header, table[2], strict=True))
    assert first["service_level"] == 1.0 and first["aht_s"] == 60.0
    assert second["abandon_rate"] == 1.0 and second["contacts_voice"] is None
    workbook.close()


def test_sheet_title_characters_excel_forbids_are_replaced() -> None:
    workbook = load_workbook(io.BytesIO(export.to_xlsx([{"a": 1}], sheet_name="SL 3/2: q[1]?")))
    assert workbook.sheetnames == ["SL 3_2_ q_1__"]
    workbook.close()
