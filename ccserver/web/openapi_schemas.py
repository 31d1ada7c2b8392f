"""JSON schemas of the REST API's bodies and answers (used by :mod:`openapi_spec`).

Answer schemas are strict (every field required, no extra fields) so that the test which
validates real responses against them notices when a view gains, loses or retypes a field.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
ANY: Schema = {}
OBJ: Schema = {"type": "object"}


def null(schema: Schema) -> Schema:
    """The schema or JSON null."""
    if "type" in schema and isinstance(schema["type"], str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def strict(props: dict[str, Schema]) -> Schema:
    return {
        "type": "object",
        "properties": props,
        "required": sorted(props),
        "additionalProperties": False,
    }


def page(item: str) -> Schema:
    return strict({"items": array(ref(item)), "total": INT, "limit": INT, "offset": INT})


CONSENTS = ("phone", "email", "sms", "survey", "marketing")

CUSTOMER = strict(
    {
        "id": STR,
        "customer_number": STR,
        "display_name": STR,
        **{k: null(STR) for k in ("first_name", "last_name", "company", "segment", "tier")},
        "lifecycle_stage": null(STR),
        "lifetime_value": {"type": "string", "description": "decimal amount"},
        "preferred_language": null(STR),
        **{f"consent_{c}": BOOL for c in CONSENTS},
        "owner_agent_id": null(STR),
        "tags": array(STR),
        "notes": null(STR),
        "created_at": TIME,
        "updated_at": TIME,
        "version": INT,
        "merged_into_id": null(STR),
        "erased_at": null(TIME),
        "identities": array(ref("Identity")),
    }
)

CONTACT_PROPS: dict[str, Schema] = {
    "id": STR,
    "interaction_id": STR,
    "customer_id": null(STR),
    "channel": STR,
    "direction": STR,
    "queue": null(STR),
    "agent_id": null(STR),
    "started_at": TIME,
    **{k: null(TIME) for k in ("queued_at", "answered_at", "ended_at", "wrap_up_end_at")},
    **{k: null({"type": "number"}) for k in ("wait_s", "talk_s", "hold_s", "wrap_s")},
    "outcome": null(STR),
    "disposition": null(STR),
    "notes": null(STR),
    "fcr": null(BOOL),
    "recording_ref": null(STR),
    "ivr_path": array(ANY),
    "attributes": OBJ,
    "related_contact_id": null(STR),
    "case_number": null(STR),
    "created_at": TIME,
}

MESSAGE = strict(
    {
        "id": STR,
        "contact_id": STR,
        "direction": STR,
        "sender": null(STR),
        "recipients": {"type": ["array", "object"]},
        "subject": null(STR),
        "body_text": null(STR),
        "body_html": null(STR),
        "headers": {"type": ["object", "array"]},
        "message_id": null(STR),
        "in_reply_to": null(STR),
        "attachments": {"type": ["array", "object"]},
        "created_at": TIME,
    }
)

ORDER = strict(
    {
        "id": STR,
        "order_number": STR,
        "customer_id": null(STR),
        "status": STR,
        "total": {"type": "string", "description": "decimal amount"},
        "currency": STR,
        "ordered_at": TIME,
        "shipped_at": null(TIME),
        "delivered_at": null(TIME),
        "carrier": null(STR),
        "tracking": null(STR),
        "items": array(ANY),
        "created_at": TIME,
        "updated_at": TIME,
    }
)

ROLE: Schema = {"type": "string", "enum": ["agent", "supervisor", "admin"]}
USER = strict(
    {
        "id": STR,
        "username": STR,
        "display_name": STR,
        "email": null(STR),
        "role": ROLE,
        "active": BOOL,
        "endpoint": null(STR),
        "skills": OBJ,
        "teams": array(STR),
        "created_at": TIME,
        "last_login_at": null(TIME),
    }
)
TOKEN_PROPS: dict[str, Schema] = {
    "id": STR,
    "name": STR,
    "prefix": STR,
    "scopes": array(STR),
    "user_id": null(STR),
    "created_at": TIME,
    "expires_at": null(TIME),
    "last_used_at": null(TIME),
    "revoked_at": null(TIME),
}

SCHEMAS: dict[str, Schema] = {
    "Error": strict({"error": strict({"code": STR, "message": STR, "details": OBJ})}),
    "Identity": strict(
        {"kind": STR, "value": STR, "raw_value": null(STR), "is_primary": BOOL, "verified": BOOL}
    ),
    "Customer": CUSTOMER,
    "CustomerPage": page("Customer"),
    "CustomerInput": {
        "type": "object",
        "description": "display_name (or first/last name or company) is required on create; "
        "phones/emails may be a string or a list; identities is a list of {kind, value}.",
        "properties": {
            "display_name": STR,
            "first_name": STR,
            "last_name": STR,
            "company": STR,
            "phones": {"type": ["string", "array"]},
            "emails": {"type": ["string", "array"]},
            "identities": array({"type": "object"}),
            "tags": array(STR),
        },
    },
    "HistoryEntry": strict(
        {
            "field": STR,
            "old_value": ANY,
            "new_value": ANY,
            "changed_by": null(STR),
            "changed_at": TIME,
            "version": INT,
        }
    ),
    "CustomerHistory": strict({"customer_id": STR, "items": array(ref("HistoryEntry"))}),
    "Contact": strict(CONTACT_PROPS),
    "ContactPage": page("Contact"),
    "Message": MESSAGE,
    "ContactDetail": strict({**CONTACT_PROPS, "messages": array(ref("Message"))}),
    "Order": ORDER,
    "OrderPage": page("Order"),
    "OrderInput": {
        "type": "object",
        "properties": {k: ANY for k in ORDER["properties"] if k not in ("id", "created_at")},
    },
    "ImportReport": strict(
        {
            "kind": STR,
            "rows": INT,
            "imported": INT,
            "updated": INT,
            "skipped_duplicates": INT,
            "errors": array(strict({"row": INT, "field": STR, "message": STR})),
            "errors_truncated": BOOL,
        }
    ),
    "User": USER,
    "UserPage": page("User"),
    "UserInput": {
        "type": "object",
        "required": ["username", "password"],
        "properties": {
            "username": STR,
            "password": {"type": "string", "minLength": 10},
            "role": ROLE,
            "display_name": STR,
            "email": STR,
            "endpoint": STR,
            "skills": {"type": "object", "additionalProperties": INT},
            "teams": array(STR),
        },
        "additionalProperties": False,
    },
    "UserChanges": {
        "type": "object",
        "properties": {
            "role": ROLE,
            "active": BOOL,
            "display_name": STR,
            "email": STR,
            "endpoint": STR,
            "skills": {"type": "object", "additionalProperties": INT},
            "teams": array(STR),
        },
        "additionalProperties": False,
    },
    "MergeRequest": {
        "type": "object",
        "required": ["other_id"],
        "properties": {"other_id": STR},
        "additionalProperties": False,
    },
    "IdentityInput": {
        "type": "object",
        "required": ["kind", "value"],
        "properties": {"kind": {"enum": ["phone", "email", "chat", "account"]}, "value": STR},
        "additionalProperties": False,
    },
    "PasswordReset": {
        "type": "object",
        "required": ["password"],
        "properties": {"password": {"type": "string", "minLength": 10}},
        "additionalProperties": False,
    },
    "Token": strict(TOKEN_PROPS),
    "TokenCreated": strict({**TOKEN_PROPS, "token": {"type": "string", "description": "once"}}),
    "TokenList": strict({"items": array(ref("Token"))}),
    "TokenInput": {
        "type": "object",
        "required": ["name", "scopes"],
        "properties": {
            "name": STR,
            "scopes": array(STR),
            "user_id": STR,
            "expires_at": TIME,
        },
        "additionalProperties": False,
    },
    "LoginResult": strict(
        {
            "user": strict({"id": STR, "username": STR, "display_name": STR, "role": ROLE}),
            "csrf_token": STR,
        }
    ),
    "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
    "AuditEntry": strict(
        {
            "id": STR,
            "at": TIME,
            "actor": STR,
            "actor_role": null(STR),
            "action": STR,
            "entity": STR,
            "entity_id": null(STR),
            "ip": null(STR),
            "details": OBJ,
        }
    ),
    "AuditPage": strict({"items": array(ref("AuditEntry")), "limit": INT, "offset": INT}),
    "LoggedOut": strict({"ok": BOOL}),
    "Me": strict({"id": STR, "username": STR, "display_name": STR, "role": ROLE, "kind": STR}),
}


def _body(props: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    return {"type": "object", "properties": props, "required": list(required)}


CONTROL_ACTIONS = (
    *("hold", "unhold", "hangup", "survey", "record", "stop_record", "dtmf"),
    *("consult", "consult_complete", "consult_cancel"),
)

# The agent console and supervisor actions (ccserver/web/routes_console.py): live state, so
# their answers are documented as objects; the WebSocket /ws carries the details.
CONSOLE_SCHEMAS: dict[str, Schema] = {
    "ConsoleResult": {"type": "object", "description": "agent snapshot, state or interaction"},
    "StateChange": _body(
        {"state": {"enum": ["ready", "not_ready", "logged_out"]}, "reason": null(STR)},
        ("state",),
    ),
    "Control": _body(
        {
            "action": {
                "enum": list(CONTROL_ACTIONS),
                "description": (
                    "consult: attended transfer - the caller goes on hold (music, counted as"
                    " hold time) and the agent's phone is connected to `number` (an outside"
                    " number) or `agent_id` (a logged-in agent's phone); give exactly one."
                    " consult_complete: the caller is bridged with the consulted party, the"
                    " agent goes to wrap-up (transfer_kind attended). consult_cancel: the"
                    " consulted party is hung up, the agent is back with the caller. If the"
                    " target does not answer or hangs up, the agent is back with the caller"
                    " and a `consult_result` frame says why. Out of sequence: 409"
                    " consult_conflict; an agent who cannot be called: 422"
                    " consult_target_unavailable."
                ),
            },
            "digits": null({"type": "string", "pattern": "^[0-9*#]{1,32}$"}),
            "number": null({"type": "string", "pattern": "^\\+?[0-9]{2,20}$"}),
            "agent_id": null({"type": "string", "minLength": 1, "maxLength": 64}),
        },
        ("action",),
    ),
    "Transfer": _body({"queue": null(STR), "agent_id": null(STR), "number": null(STR)}),
    "WrapUp": _body({"disposition": null(STR), "notes": null(STR), "fcr": null(BOOL)}),
    "Force": _body({"state": {"enum": ["not_ready", "logged_out"]}, "reason": STR}, ("state",)),
    "Monitor": _body({"mode": {"enum": ["listen", "whisper", "barge"]}}, ("mode",)),
    "Move": _body({"queue": null(STR), "priority": null(INT)}),
}
