"""Reports API: KPIs per day / week / month and queue / agent / channel / segment, as JSON or
exported as CSV and XLSX (supervisors and admins).

``GET /api/v1/reports/kpis?by=week,queue&since=...&until=...&format=json|csv|xlsx``
(``since`` defaults to 92 days before ``until`` / now). The
numbers are computed by the database (:mod:`ccserver.reports.queries`); the tests prove they
equal the row-based definitions of :mod:`ccserver.reports.kpis`. The KPI parameters
(service-level threshold, short abandon, FCR window) come from ``[reports]`` in crm.toml.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from ccserver.errors import BadRequest
from ccserver.reports.export import to_csv, to_xlsx
from ccserver.reports.kpis import KpiSettings
from ccserver.reports.queries import check_dimensions, kpi_table_sql
from ccserver.runtime.scheduler import workflows_of
from ccserver.web import api_support as api

FORMATS = frozenset({"json", "csv", "xlsx"})
DEFAULT_RANGE = dt.timedelta(days=92)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def kpis(request: web.Request) -> web.Response:
    from ccserver.app import SERVICES

    api.allowed(request, "reports:read")
    raw_by = api.str_param(request, "by", 100) or "day"
    by = check_dimensions([d.strip() for d in raw_by.split(",") if d.strip()])
    fmt = api.one_of(request, "format", FORMATS) or "json"
    since, until = api.time_param(request, "since"), api.time_param(request, "until")
    now = dt.datetime.now(dt.UTC)
    if since is None:
        # Unbounded reports scan the whole contacts table; default to the last quarter.
        since = (until or now) - DEFAULT_RANGE
    if since is not None and until is not None and since >= until:
        raise BadRequest("since must be before until")
    rules = workflows_of(request.app[SERVICES]).rules
    settings = KpiSettings(
        service_level_s=rules.reports.service_level_seconds,
        short_abandon_s=rules.reports.short_abandon_seconds,
        fcr_window_days=rules.reports.fcr_window_days,
    )
    async with api.crm(request).sessions(request)() as session:
        rows = await kpi_table_sql(
            session, by, settings=settings, csi=rules.csi, now=now, since=since, until=until
        )
    if fmt == "json":
        return web.json_response(
            {
                "by": by,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
                "settings": {
                    "service_level_s": settings.service_level_s,
                    "short_abandon_s": settings.short_abandon_s,
                    "fcr_window_days": settings.fcr_window_days,
                },
                "rows": rows,
            }
        )
    name = "kpis-" + "-".join(by or ["total"])
    if fmt == "csv":
        body, content_type = to_csv(rows, bom=True), "text/csv"
    else:
        body, content_type = to_xlsx(rows, sheet_name="KPIs"), XLSX
    return web.Response(
        body=body,
        content_type=content_type,
        charset="utf-8" if fmt == "csv" else None,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


def add_routes(app: web.Application) -> None:
    api.install_services(app)
    app.router.add_get("/api/v1/reports/kpis", kpis)
