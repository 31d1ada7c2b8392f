"""Every HTTP route of the application, in one list (the pages, the API, the channels)."""

from __future__ import annotations

from aiohttp import web

from ccserver.channels import setup as text_channels
from ccserver.web import (
    pages,
    routes_admin,
    routes_attachments,
    routes_console,
    routes_crm,
    routes_reports,
    routes_simulator,
    routes_workflows,
)


def install(app: web.Application) -> None:
    routes_console.add_routes(app)
    routes_admin.add_routes(app)
    pages.add_routes(app)
    routes_crm.add_routes(app)
    routes_attachments.add_routes(app)  # before workflows' /complaints/{id}/{action}
    routes_workflows.add_routes(app)
    routes_reports.add_routes(app)
    text_channels.add_routes(app)
    routes_simulator.add_routes(app)
