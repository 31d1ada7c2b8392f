"""A file a customer or agent sent, served back only as a download: never rendered in our
origin (octet-stream, nosniff, a sandboxing CSP), never cached, its name percent-encoded."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from aiohttp import web


def as_download(path: Path, name: str, extra: dict[str, str] | None = None) -> web.FileResponse:
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name or 'file')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
            **(extra or {}),
        },
    )
