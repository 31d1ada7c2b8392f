"""Administration: reload queues/skills/strategies and IVR flows without a restart.

A bad file is refused with the file and key named, and the running configuration stays in
force (routing keeps its old config; each IVR flow keeps its previous version).
``kill -HUP <pid>`` does the same as ``POST /api/v1/admin/reload``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ccserver.logs import get_logger
from ccserver.web.auth import require

log = get_logger(__name__)


async def reload_configuration(app: web.Application) -> dict[str, Any]:
    from ccserver.app import SERVICES
    from ccserver.runtime import routing_config
    from ccserver.web.routes_console import CONTACT_CENTER
    from ivr.registry import FlowRegistry

    services = app[SERVICES]
    cc = app[CONTACT_CENTER]
    path = services.settings.paths.routing
    config = await routing_config.load_async(services.settings)  # refuses a bad file
    async with cc.lock:
        decisions = cc.routing.reload(config)
        await cc.apply_decisions(decisions)
    result: dict[str, Any] = {
        "routing": {"file": str(path), "queues": sorted(cc.routing.config.queues)}
    }
    flows = services.extras.get("ivr_flows")
    if isinstance(flows, FlowRegistry):
        report = flows.reload()
        result["ivr"] = {
            "loaded": list(report.loaded),
            "kept": list(report.kept),
            "removed": list(report.removed),
            "errors": [e.message for e in report.errors],
        }
    log.info("configuration reloaded", **result["routing"])
    return result


async def reload_view(request: web.Request) -> web.Response:
    require(request, "config:admin")
    return web.json_response(await reload_configuration(request.app))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/admin/reload", reload_view)
