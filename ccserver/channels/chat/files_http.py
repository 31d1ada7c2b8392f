"""Chat files over HTTP.

``POST /chat/upload`` (the widget, no login): ``multipart/form-data`` with the fields
``chat_id`` and ``token`` (from the ``session`` frame) *before* ``file``, so the chat is
known before a byte of the file is stored. Answers ``201 {id, name, content_type, size, url,
seq}`` or ``{"error": {code, message, details}}``: 401 ``unknown_chat``, 409
``chat_not_active`` / ``too_many_files``, 413 ``payload_too_large``, 415
``file_type_not_allowed``, 422 (empty file), 429 ``rate_limited``. The widget may sit on
another site's page: answers allow any origin (the token, not a cookie, authenticates, and the
widget sends no credentials, so a logged-in agent's cookie never turns it into a CSRF case).

``POST /api/v1/interactions/{id}/files`` (the console): the agent of that chat sends a file
(``multipart/form-data``, field ``file``; cookie sessions send X-CSRF-Token like every console
POST). Same answers and limits as the widget's upload, plus 403 ``not_your_chat``.

``POST /chat/files/{file_id}`` (the widget, no login): a form with ``chat_id`` and ``token``
downloads a file of that chat. A POST keeps the token out of URLs (access logs, history,
Referer), and a form body is a CORS "simple" request (no preflight); the widget turns the
answer into a download itself.

``GET /api/v1/interactions/{id}/files/{file_id}`` (the console) and the widget's download are
always a download (``Content-Disposition: attachment``, ``application/octet-stream``,
``nosniff``, a sandboxing CSP), so a file can never run in the console's or the site's origin.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import BodyPartReader, web

from ccserver.channels.chat.uploads import ChatUploads, UnknownChat
from ccserver.errors import BadRequest, CcserverError, NotFound, PayloadTooLarge
from ccserver.web.auth import require
from ccserver.web.downloads import as_download
from ccserver.web.errors import error_response

UPLOAD_PATH = "/chat/upload"
CUSTOMER_DOWNLOAD_PATH = "/chat/files/{file_id}"
AGENT_UPLOAD_PATH = "/api/v1/interactions/{id}/files"
DOWNLOAD_PATH = "/api/v1/interactions/{id}/files/{file_id}"
CORS = {"Access-Control-Allow-Origin": "*"}
MAX_FIELD_BYTES = 256  # chat_id and token are short
MAX_FORM_BYTES = 4096  # the download form: chat_id and token
MULTIPART_SLACK = 16 * 1024  # boundaries, part headers and the two small fields


def _uploads(request: web.Request) -> ChatUploads:
    from ccserver.app import SERVICES
    from ccserver.channels.setup import TEXT_CHANNELS

    channels = request.app.get(TEXT_CHANNELS)
    if channels is None:
        raise NotFound("the chat is not running")
    services = request.app[SERVICES]
    root = services.settings.server.data_dir / "attachments" / "chat"
    return ChatUploads(channels.chat, root, services.require_sessions())


async def upload(request: web.Request) -> web.Response:
    try:
        return await _upload(request)
    except CcserverError as exc:
        return _cors_error(exc)


def _cors_error(exc: CcserverError) -> web.Response:
    # The widget reads refusals from another site's page: they carry CORS headers too.
    headers = dict(CORS)
    if "retry_after_s" in exc.details:
        headers["Retry-After"] = str(exc.details["retry_after_s"])
    return error_response(exc.http_status, exc.code, exc.message, exc.details, headers)


def _multipart_within(request: web.Request, limit: int) -> None:
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("send the file as multipart/form-data")
    if (request.content_length or 0) > limit + MULTIPART_SLACK:
        # Refused before reading: the declared size alone is over the limit.
        raise PayloadTooLarge(
            f"the file is larger than {limit} bytes", details={"limit_bytes": limit}
        )


async def _upload(request: web.Request) -> web.Response:
    uploads = _uploads(request)
    if not request.content_type.startswith("multipart/"):
        raise BadRequest("send multipart/form-data with chat_id, token, then file")
    _multipart_within(request, uploads.options.max_file_bytes)
    fields: dict[str, str] = {}
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart is not accepted")
        if part.name in ("chat_id", "token"):
            fields[part.name] = await _small_field(part)
        elif part.name == "file":
            if "chat_id" not in fields or "token" not in fields:
                raise UnknownChat("send chat_id and token before the file")
            session = uploads.authenticate(fields["chat_id"], fields["token"])
            line = await uploads.accept(session, part.filename or "file", _chunks(part))
            return web.json_response(line, status=201, headers=CORS)
    raise BadRequest("no 'file' field in the upload")


async def agent_upload(request: web.Request) -> web.Response:
    principal = require(request, "console:use")
    uploads = _uploads(request)
    # Whose chat it is is settled before a byte of the file is read.
    session = uploads.agent_chat(request.match_info["id"], principal.user_id)
    _multipart_within(request, uploads.options.max_file_bytes)
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise BadRequest("nested multipart is not accepted")
        if part.name == "file":
            line = await uploads.send_from_agent(
                session, principal.user_id, principal.display_name,
                part.filename or "file", _chunks(part),
            )  # fmt: skip
            return web.json_response(line, status=201)
    raise BadRequest("no 'file' field in the upload")


async def _small_field(part: BodyPartReader) -> str:
    data = b""
    while chunk := await part.read_chunk(MAX_FIELD_BYTES):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise BadRequest(f"field {part.name!r} is too long")
    return data.decode("utf-8", "replace").strip()


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk():
        yield chunk


async def download(request: web.Request) -> web.StreamResponse:
    principal = require(request, "console:use")
    entry, path = await _uploads(request).find(
        request.match_info["id"],
        request.match_info["file_id"],
        principal.user_id,
        supervisor=principal.allows("supervise"),
    )
    return as_download(path, str(entry.get("name") or "file"))


async def customer_download(request: web.Request) -> web.StreamResponse:
    try:
        uploads = _uploads(request)
        if (request.content_length or 0) > MAX_FORM_BYTES:
            raise PayloadTooLarge(
                "send only chat_id and token", details={"limit_bytes": MAX_FORM_BYTES}
            )
        form = await request.post()
        session = uploads.authenticate(form.get("chat_id"), form.get("token"))
        entry, path = uploads.customer_file(session, request.match_info["file_id"])
    except CcserverError as exc:
        return _cors_error(exc)
    # The widget names the saved file itself, but may read the server's name as well.
    return as_download(
        path,
        str(entry.get("name") or "file"),
        {**CORS, "Access-Control-Expose-Headers": "Content-Disposition"},
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(UPLOAD_PATH, upload)
    app.router.add_post(CUSTOMER_DOWNLOAD_PATH, customer_download)
    app.router.add_post(AGENT_UPLOAD_PATH, agent_upload)
    app.router.add_get(DOWNLOAD_PATH, download)
