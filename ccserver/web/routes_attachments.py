"""Complaint attachments over HTTP: upload (multipart ``file``) and download.

Downloads are always ``Content-Disposition: attachment`` with a generic content type and
``nosniff``, so an uploaded HTML or SVG file can never run in the console's origin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.attachments import AttachmentStore, attach_to_complaint, find_attachment
from ccserver.crm.models import Complaint
from ccserver.errors import BadRequest, NotFound
from ccserver.web import api_support as api
from ccserver.web.downloads import as_download

ATTACHMENTS = "/api/v1/complaints/{id}/attachments"
STORE = web.AppKey("attachment_store", AttachmentStore)


def _store(request: web.Request) -> AttachmentStore:
    return request.app[STORE]


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk():
        yield chunk


async def upload(request: web.Request) -> web.Response:
    from ccserver.app import SERVICES

    _principal, actor = api.allowed(request, "complaints:write")
    complaint_id = request.match_info["id"]
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("send the file as multipart/form-data in a field named 'file'")
    services = request.app[SERVICES]
    reader = await request.multipart()
    async for part in reader:
        if isinstance(part, BodyPartReader) and part.name == "file":
            # An unknown complaint is refused before anything is stored.
            await _require_complaint(services.require_sessions(), complaint_id)
            stored = await _store(request).save(
                complaint_id,
                part.filename or "attachment",
                part.headers.get("Content-Type", ""),
                _chunks(part),
            )
            entry = await attach_to_complaint(
                services.require_sessions(), complaint_id, stored, actor,
                services.settings.crm.max_attachments,
            )  # fmt: skip
            return web.json_response(entry, status=201)
    raise BadRequest("no 'file' field in the upload")


async def _require_complaint(sessions: async_sessionmaker[AsyncSession], complaint_id: str) -> None:
    async with sessions() as session:
        if await session.get(Complaint, complaint_id) is None:
            raise NotFound(f"no complaint {complaint_id}")


async def download(request: web.Request) -> web.StreamResponse:
    from ccserver.app import SERVICES

    api.allowed(request, "complaints:read")
    complaint_id, attachment_id = request.match_info["id"], request.match_info["attachment_id"]
    entry = await find_attachment(
        request.app[SERVICES].require_sessions(), complaint_id, attachment_id
    )
    path = _store(request).path(complaint_id, attachment_id)
    return as_download(path, str(entry.get("name") or "attachment"))


def add_routes(app: web.Application) -> None:
    from ccserver.app import SERVICES

    settings = app[SERVICES].settings
    app[STORE] = AttachmentStore(
        settings.server.data_dir / "attachments" / "complaint", settings.crm.max_attachment_bytes
    )
    # Before routes_workflows: its POST /complaints/{id}/{action} would match "attachments".
    app.router.add_post(ATTACHMENTS, upload)
    app.router.add_get(ATTACHMENTS + "/{attachment_id}", download)
