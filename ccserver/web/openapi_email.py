"""OpenAPI paths and schemas of the email channel's endpoints in
``ccserver/channels/email/api.py`` (outbound mail queue, reply templates)."""

from __future__ import annotations

from typing import Any

from ccserver.web.openapi_spec import op

_NULL_STR = {"type": ["string", "null"]}

EMAIL_SCHEMAS: dict[str, Any] = {
    "OutboundMail": {
        "type": "object",
        "additionalProperties": False,
        "required": [
            *("message_id", "case_number", "kind", "recipients", "status", "attempts"),
            *("last_error", "next_attempt_at", "agent_id", "updated_at"),
        ],
        "properties": {
            "message_id": {"type": "string"},
            "case_number": _NULL_STR,
            "kind": {"enum": ["reply", "ack"]},
            "recipients": {"type": "array", "items": {"type": "string"}},
            "status": {"enum": ["queued", "sent", "failed_retrying", "failed"]},
            "attempts": {"type": "integer", "minimum": 0},
            "last_error": _NULL_STR,
            "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "agent_id": _NULL_STR,
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "ReplyTemplates": {
        "type": "object",
        "additionalProperties": False,
        "required": ["templates"],
        "properties": {
            "templates": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "languages", "texts"],
                    "properties": {
                        "name": {"type": "string"},
                        "languages": {"type": "array", "items": {"type": "string"}},
                        "texts": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
            }
        },
    },
    "OutboundMailList": {
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/OutboundMail"}}
        },
    },
}


def email_paths() -> dict[str, Any]:
    listing = op(
        "Outbound mail waiting for the relay, failed, or sent (newest first)",
        ("200", "OutboundMailList"),
        errors=("404", "422"),
        tag="channels",
    )
    listing["parameters"] = [
        {"name": "state", "in": "query", "required": False,
         "schema": {"enum": ["pending", "failed", "sent", "all"], "default": "pending"}},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    ]  # fmt: skip
    return {
        "/api/v1/email/templates": {
            "get": op(
                "Reply templates for the console's email pane (placeholders unfilled)",
                ("200", "ReplyTemplates"),
                errors=("404",),
                tag="console",
            )
        },
        "/api/v1/email/outbound": {"get": listing},
        "/api/v1/email/outbound/{id}/retry": {
            "post": op(
                "Send a failed message again (a new round of attempts)",
                ("202", "OutboundMail"),
                errors=("404", "409"),
                tag="channels",
            )
        },
    }
