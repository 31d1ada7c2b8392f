"""Scheduled KPI reports by email: every schedule in ``[reports]`` of the settings is sent
once a day at its local time, covering the last ``period_days`` whole days.

:func:`due` is pure (time passed in) and decides what to send; :class:`ReportMailer` renders
the report with the same SQL as ``GET /api/v1/reports/kpis`` and hands it to the email
channel's outbound relay, which retries and never loses it. The day a schedule was last sent
is kept in ``app_settings`` so a restart neither skips nor repeats a report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.models import AppSetting
from ccserver.reports.export import to_csv, to_xlsx
from ccserver.reports.kpis import KpiSettings
from ccserver.reports.queries import kpi_table_sql
from ccserver.settings import ReportSchedule

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATE_KEY = "reports.last_sent"


@dataclass(frozen=True)
class DueReport:
    schedule: ReportSchedule
    local_day: dt.date  # the day it is sent for (local to the schedule's time zone)
    since: dt.datetime
    until: dt.datetime


def due(
    schedules: Iterable[ReportSchedule], last_sent: Mapping[str, str], now: dt.datetime
) -> list[DueReport]:
    """Schedules whose local send time today has passed and that were not sent today.

    The report covers whole local days: from midnight ``period_days`` days ago up to
    today's midnight (so a 07:00 daily report is "yesterday")."""
    out = []
    for s in schedules:
        zone = ZoneInfo(s.timezone)
        local = now.astimezone(zone)
        hour, minute = (int(x) for x in s.at.split(":"))
        if (local.hour, local.minute) < (hour, minute):
            continue
        if last_sent.get(s.name) == local.date().isoformat():
            continue
        midnight = dt.datetime.combine(local.date(), dt.time(0), zone)
        out.append(
            DueReport(s, local.date(), midnight - dt.timedelta(days=s.period_days), midnight)
        )
    return out


def compose(report: DueReport, rows: list[dict[str, Any]], sender: str) -> EmailMessage:
    s = report.schedule
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(s.recipients)
    msg["Subject"] = f"ccserver report {s.name}: {report.since.date()} to {report.until.date()}"
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "ccserver.local")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        f"KPIs by {', '.join(s.by)} from {report.since.isoformat()} to "
        f"{report.until.isoformat()}: {len(rows)} rows, attached as {s.format.upper()}.\n"
    )
    name = f"{s.name}-{report.local_day.isoformat()}.{s.format}"
    if s.format == "csv":
        msg.add_attachment(to_csv(rows, bom=True), maintype="text", subtype="csv", filename=name)
    else:
        main, sub = XLSX.split("/")
        msg.add_attachment(
            to_xlsx(rows, sheet_name="KPIs"), maintype=main, subtype=sub, filename=name
        )
    return msg


class Mailer(Protocol):
    async def submit(
        self,
        msg: EmailMessage,
        message_id: str,
        *,
        case_number: str | None = None,
        kind: str = "reply",
    ) -> Any: ...


class ReportMailer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        mailer: Mailer,
        schedules: Iterable[ReportSchedule],
        sender: str,
        kpi: KpiSettings,
    ) -> None:
        self.sessions = sessions
        self.mailer = mailer
        self.schedules = tuple(schedules)
        self.sender = sender
        self.kpi = kpi

    async def _last_sent(self) -> dict[str, str]:
        async with self.sessions() as s:
            row = await s.get(AppSetting, STATE_KEY)
            return dict(row.value) if row is not None and isinstance(row.value, dict) else {}

    async def run_due(self, now: dt.datetime) -> list[str]:
        """Send every due report; returns the Message-IDs handed to the relay."""
        last = await self._last_sent()
        sent: list[str] = []
        for report in due(self.schedules, last, now):
            async with self.sessions() as session:
                rows = await kpi_table_sql(
                    session,
                    list(report.schedule.by),
                    settings=self.kpi,
                    now=now,
                    since=report.since,
                    until=report.until,
                )
            msg = compose(report, rows, self.sender)
            message_id = str(msg["Message-ID"])
            await self.mailer.submit(msg, message_id, kind="report")
            last[report.schedule.name] = report.local_day.isoformat()
            async with self.sessions.begin() as s:
                await s.merge(AppSetting(key=STATE_KEY, value=dict(last), updated_at=now))
            sent.append(message_id)
        return sent


async def scheduled_reports_ctx(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: checks once a minute for due reports (nothing to do when no
    schedule is configured or the email channel has no outbound relay)."""
    import asyncio
    import contextlib

    from ccserver.app import SERVICES
    from ccserver.logs import get_logger
    from ccserver.runtime.scheduler import workflows_of

    log = get_logger(__name__)
    services = app[SERVICES]
    settings = services.settings.reports
    channels = services.extras.get("text_channels")
    mailer = getattr(channels, "mailer", None)
    task = None
    if settings.schedules and mailer is not None:
        rules = workflows_of(services).rules.reports
        reports = ReportMailer(
            services.require_sessions(),
            mailer,
            settings.schedules,
            settings.sender,
            KpiSettings(
                service_level_s=rules.service_level_seconds,
                short_abandon_s=rules.short_abandon_seconds,
                fcr_window_days=rules.fcr_window_days,
            ),
        )

        async def loop() -> None:
            while True:
                try:
                    for message_id in await reports.run_due(dt.datetime.now(dt.UTC)):
                        log.info("scheduled report queued for sending", message_id=message_id)
                except Exception:
                    log.exception("scheduled reports failed; retrying in a minute")
                await asyncio.sleep(60)

        task = asyncio.create_task(loop(), name="scheduled-reports")
    elif settings.schedules:
        log.warning("report schedules are configured but the email relay is not; none will be sent")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
