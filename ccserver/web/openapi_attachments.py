"""OpenAPI paths and schemas of complaint attachments (ccserver/web/routes_attachments.py)
and of the files customers attach in the web chat (ccserver/channels/chat/files_http.py)."""

from __future__ import annotations

from typing import Any

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
}


def attachment_paths() -> dict[str, Any]:
    upload = op(
        "Attach a file to a complaint (multipart field 'file'; size and count limited)",
        ("201", "ComplaintAttachment"),
        errors=("400", "404", "409", "413", "422"),
        tag="complaints",
    )
    upload["requestBody"] = {
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
    download = op(
        "Download an attachment (always as a download: application/octet-stream)",
        ("200", None),
        errors=("404",),
        tag="complaints",
    )
    download["responses"]["200"]["content"] = {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }
    chat_file = op(
        "Download a file a customer attached in a chat (the chat's agent, or a supervisor; "
        "always as a download: application/octet-stream)",
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
        "/api/v1/interactions/{id}/files/{file_id}": {"get": chat_file},
    }
