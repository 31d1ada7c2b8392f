"""OpenAPI paths and schemas of complaint attachments (ccserver/web/routes_attachments.py)
and of the files customers and agents send in the web chat
(ccserver/channels/chat/files_http.py)."""

from __future__ import annotations

from typing import Any

from ccserver.web.openapi_schemas import ref
from ccserver.web.openapi_spec import op

ATTACHMENT_SCHEMAS: dict[str, Any] = {
    "ComplaintAttachment": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "content_type", "size", "sha256", "at", "by"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "content_type": {"type": "string"},
            "size": {"type": "integer", "minimum": 1},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "at": {"type": "string", "format": "date-time"},
            "by": {"type": "string"},
        },
    },
    "ChatFile": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "name", "content_type", "size", "url"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "content_type": {"type": "string"},
            "size": {"type": "integer", "minimum": 1},
            "url": {"type": "string", "description": "the console's download path"},
        },
    },
    "ChatFileLine": {
        "type": "object",
        "additionalProperties": False,
        "required": ["seq", "from", "text", "at", "name", "kind", "file"],
        "properties": {
            "seq": {"type": "integer", "description": "the line's number in the chat"},
            "from": {"const": "agent"},
            "text": {"type": "string", "description": "the file's name"},
            "at": {"type": "number"},
            "name": {"type": "string", "description": "the agent's display name"},
            "kind": {"const": "file"},
            "file": {"$ref": "#/components/schemas/ChatFile"},
        },
    },
}

_MULTIPART_FILE = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        }
    },
}


def attachment_paths() -> dict[str, Any]:
    upload = op(
        "Attach a file to a complaint (multipart field 'file'; size and count limited)",
        ("201", "ComplaintAttachment"),
        errors=("400", "404", "409", "413", "422"),
        tag="complaints",
    )
    upload["requestBody"] = _MULTIPART_FILE
    download = op(
        "Download an attachment (always as a download: application/octet-stream)",
        ("200", None),
        errors=("404",),
        tag="complaints",
    )
    download["responses"]["200"]["content"] = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    send_file = op(
        "Send a file to the chat's customer (multipart field 'file'; the agent connected to "
        "this chat only; the customers' allowed types, size and per-chat count apply)",
        ("201", "ChatFileLine"),
        errors=("400", "404", "409", "413", "422"),
        tag="console",
    )
    send_file["requestBody"] = _MULTIPART_FILE
    send_file["responses"]["415"] = {
        "description": "The file's extension or content is not an allowed type",
        "content": {"application/json": {"schema": ref("Error")}},
    }
    chat_file = op(
        "Download a file sent in a chat (the agent of the chat or of a later leg after a "
        "transfer, or a supervisor; always as a download: application/octet-stream)",
        ("200", None),
        errors=("404",),
        tag="console",
    )
    chat_file["responses"]["200"]["content"] = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    base = "/api/v1/complaints/{id}/attachments"
    return {
        base: {"post": upload},
        base + "/{attachment_id}": {"get": download},
        "/api/v1/interactions/{id}/files": {"post": send_file},
        "/api/v1/interactions/{id}/files/{file_id}": {"get": chat_file},
    }
