"""Error middleware: every failure on the API becomes ``{"error": {code, message, details}}``.

Our own errors carry their status and stable code; aiohttp's HTTP exceptions (404 for an
unknown route, 405, 413 for an oversized body) are translated to the same shape; anything
unexpected is logged with its trace and answered as a bare 500 — never a stack trace.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from ccserver.errors import CcserverError
from ccserver.logs import get_logger

log = get_logger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status=status,
        headers=headers,
    )


def _wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except CcserverError as e:
        headers = (
            {"Retry-After": str(e.details["retry_after"])} if "retry_after" in e.details else None
        )
        return error_response(e.http_status, e.code, e.message, e.details, headers)
    except web.HTTPException as e:
        if e.status < 400 or not _wants_json(request):
            raise
        code = _HTTP_CODES.get(e.status, "http_error")
        message = e.reason if e.status != 413 else "request body is larger than the limit"
        return error_response(e.status, code, message)
    except Exception:
        log.exception("unhandled error", path=request.path, method=request.method)
        return error_response(500, "internal", "internal server error")
