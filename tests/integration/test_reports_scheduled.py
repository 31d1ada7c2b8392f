"""Scheduled KPI reports by email: due once a day after the local send time, the attachment
is the KPI table, and a restart neither skips nor repeats a report."""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage
from typing import Any

import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.models import Contact
from ccserver.reports.kpis import KpiSettings
from ccserver.reports.scheduled import ReportMailer, due
from ccserver.settings import ReportSchedule

DAILY = ReportSchedule(
    name="daily",
    by=("day", "queue"),
    period_days=1,
    at="07:00",
    timezone="Asia/Tokyo",
    format="xlsx",
    recipients=("ops@example.com",),
)


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def submit(self, msg: EmailMessage, message_id: str, **_: Any) -> None:
        self.sent.append(msg)


def test_due_after_the_local_time_once_a_day() -> None:
    before = dt.datetime(2026, 11, 24, 21, 59, tzinfo=dt.UTC)  # 06:59 in Tokyo
    after = dt.datetime(2026, 11, 24, 22, 1, tzinfo=dt.UTC)  # 07:01 in Tokyo, Nov 25
    assert due([DAILY], {}, before) == []
    [report] = due([DAILY], {}, after)
    assert report.local_day == dt.date(2026, 11, 25)
    assert report.since.isoformat() == "2026-11-24T00:00:00+09:00"
    assert report.until.isoformat() == "2026-11-25T00:00:00+09:00"
    assert due([DAILY], {"daily": "2026-11-25"}, after) == []


async def test_report_is_mailed_with_the_kpis_and_not_repeated(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    yesterday = dt.datetime(2026, 11, 24, 3, 0, tzinfo=dt.UTC)  # Nov 24 12:00 in Tokyo
    async with sessions.begin() as s:
        for n, (queue, wait) in enumerate([("billing", 10.0), ("billing", 40.0), ("orders", 5.0)]):
            s.add(
                Contact(
                    id=f"c{n}",
                    interaction_id=f"i{n}",
                    channel="voice",
                    direction="inbound",
                    queue=queue,
                    started_at=yesterday,
                    queued_at=yesterday,
                    answered_at=yesterday + dt.timedelta(seconds=wait),
                    wait_s=wait,
                    talk_s=100.0,
                    outcome="answered",
                )
            )
    mailer = FakeMailer()
    reports = ReportMailer(sessions, mailer, [DAILY], "reports@example.com", KpiSettings())
    now = dt.datetime(2026, 11, 24, 22, 30, tzinfo=dt.UTC)
    assert len(await reports.run_due(now)) == 1
    [msg] = mailer.sent
    assert msg["To"] == "ops@example.com" and msg["Auto-Submitted"] == "auto-generated"
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "daily-2026-11-25.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(attachment.get_content())).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    rows = [
        dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)
    ]
    by_queue = {r["queue"]: r for r in rows}
    assert set(by_queue) == {"billing", "orders"}
    assert by_queue["billing"]["answered"] == 2
    # A restart (a new mailer object) reads the state: no second report the same day.
    again = ReportMailer(sessions, mailer, [DAILY], "reports@example.com", KpiSettings())
    assert await again.run_due(now + dt.timedelta(hours=3)) == []
    assert len(await again.run_due(now + dt.timedelta(days=1))) == 1
