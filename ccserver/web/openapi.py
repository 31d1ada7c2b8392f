"""GET /api/v1/openapi.json: the OpenAPI 3.1 document of the REST API.

The document is built once from :mod:`ccserver.web.openapi_spec` (a Python module, so the
schemas are checked by the type checker and can share fragments); a test validates real
responses of every documented operation against it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web

from ccserver import __version__

OPENAPI_PATH = "/api/v1/openapi.json"


@cache
def document() -> dict[str, Any]:
    from ccserver.web.openapi_spec import build_spec

    return build_spec(__version__)


async def openapi_json(request: web.Request) -> web.Response:
    # Public on purpose: the document describes the API, it holds no data.
    return web.json_response(document(), headers={"Cache-Control": "public, max-age=300"})


def add_routes(app: web.Application) -> None:
    app.router.add_get(OPENAPI_PATH, openapi_json)
