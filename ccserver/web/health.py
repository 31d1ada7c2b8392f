"""Liveness (/healthz), readiness (/readyz: database and bus reachable) and /metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from ccserver import __version__
from ccserver.web.metrics import metrics_view

Probe = Callable[[], Awaitable[bool]]
PROBES = web.AppKey("readiness_probes", dict[str, Probe])
STATUS_PROVIDERS = web.AppKey("status_providers", dict[str, Callable[[], dict[str, object]]])


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def _run_probe(probe: Probe) -> bool:
    try:
        return await asyncio.wait_for(probe(), timeout=2.0)
    except Exception:  # a probe that raises or hangs means "not ready", never a 500
        return False


async def readyz(request: web.Request) -> web.Response:
    probes = request.app[PROBES]
    names = list(probes)
    results = await asyncio.gather(*(_run_probe(probes[n]) for n in names))
    checks: dict[str, object] = {
        n: ("ok" if ok else "unavailable") for n, ok in zip(names, results, strict=True)
    }
    for name, provider in request.app[STATUS_PROVIDERS].items():
        checks[name] = provider()
    ready = all(results)
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
