"""The OpenAPI 3.1 document of the REST API: paths, parameters, security; the schemas
are in :mod:`ccserver.web.openapi_schemas`."""

from __future__ import annotations

from typing import Any

from ccserver.web.openapi_schemas import (
    BOOL,
    CONSOLE_SCHEMAS,
    ROLE,
    SCHEMAS,
    STR,
    TIME,
    Schema,
    ref,
)

ERRORS_ALWAYS = ("401", "403")
ERROR_TEXT = {
    "400": "Malformed request (bad JSON, nesting too deep, bad query parameter)",
    "401": "Not logged in, or an invalid API token",
    "403": "Role or token scope does not allow this; or CSRF token missing",
    "404": "Not found",
    "409": "Conflict (duplicate, identity in use, merged customer)",
    "412": "If-Match does not match the current version",
    "413": "Body larger than the configured limit",
    "422": "Validation failed; details.fields names each bad field",
    "429": "Too many failed logins; see Retry-After",
}


def _json(schema: Schema) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def op(
    summary: str,
    ok: tuple[str, str | None],
    *,
    errors: tuple[str, ...] = (),
    body: str | None = None,
    params: tuple[str, ...] = (),
    public: bool = False,
    tag: str = "crm",
) -> dict[str, Any]:
    status, schema = ok
    responses: dict[str, Any] = {
        status: {"description": "Success", **(_json(ref(schema)) if schema else {})}
    }
    for code in (*(() if public else ERRORS_ALWAYS), *errors):
        responses[code] = {"description": ERROR_TEXT[code], **_json(ref("Error"))}
    out: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if params:
        out["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if body:
        out["requestBody"] = {"required": True, **_json(ref(body))}
    if public:
        out["security"] = []
    return out


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PARAMETERS: dict[str, Any] = {
    "limit": _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size"),
    "offset": _query("offset", {"type": "integer", "minimum": 0}, "Rows to skip"),
    "q": _query("q", STR, "Name prefix, phone in any format, email, order or customer number"),
    "region": _query("region", STR, "Country for phones typed without a country code"),
    "on_duplicate": _query(
        "on_duplicate", {"enum": ["error", "return"]}, "409, or return the existing customer"
    ),
    "name": _query("name", STR, "Name prefix"),
    "phone": _query("phone", STR, "Phone number in any format"),
    "email": _query("email", STR, "E-mail address"),
    "customer_number": _query("customer_number", STR, "Customer number (C000123)"),
    "segment": _query("segment", STR, "Only this segment"),
    "customer_id": _query("customer_id", STR, "Only this customer's"),
    "agent_id": _query("agent_id", STR, "Only this agent's"),
    "queue": _query("queue", STR, "Only this queue's"),
    "channel": _query("channel", STR, "Only this channel's"),
    "from": _query("from", TIME, "Started at or after (ISO 8601)"),
    "to": _query("to", TIME, "Started before (ISO 8601)"),
    "status": _query("status", STR, "Only orders with this status"),
    "order_number": _query("order_number", STR, "The order with this number"),
    "bulk_on_duplicate": _query(
        "on_duplicate", {"enum": ["skip", "update"]}, "Existing order numbers: skip or update"
    ),
    "actor": _query("actor", STR, "Who acted (user id, or cli / system)"),
    "action": _query("action", STR, "read, search, create, update, merge..."),
    "entity": _query("entity", STR, "customer, user, order, api_token..."),
    "entity_id": _query("entity_id", STR, "The record's id"),
    "role": _query("role", ROLE, "Only users with this role"),
    "active": _query("active", BOOL, "Only active (or inactive) users"),
    "if_match": {"name": "If-Match", "in": "header", "required": False, "schema": STR},
}

C = "/api/v1/customers"
PAGING = ("limit", "offset")


def paths() -> dict[str, Any]:
    e404, e409, e422 = ("404",), ("409",), ("422",)
    return {
        "/api/v1/auth/login": {
            "post": op(
                "Log in (sets the session and CSRF cookies)",
                ("200", "LoginResult"),
                errors=("400", "401", "422", "429"),
                public=True,
                tag="auth",
            )
        },
        "/api/v1/openapi.json": {
            "get": op("This document", ("200", "OpenApiDocument"), public=True, tag="meta")
        },
        "/api/v1/auth/logout": {
            "post": op(
                "Log out (ends the session; a browser sends its CSRF token)",
                ("200", "LoggedOut"),
                errors=("403",),
                public=True,
                tag="auth",
            )
        },
        "/api/v1/auth/me": {"get": op("Who is calling", ("200", "Me"), tag="auth")},
        C: {
            "get": op(
                "Search customers",
                ("200", "CustomerPage"),
                errors=("400",),
                params=(
                    "q",
                    "region",
                    "name",
                    "phone",
                    "email",
                    "order_number",
                    "customer_number",
                    "segment",
                    *PAGING,
                ),
            ),
            "post": op(
                "Create a customer (duplicate phone/email: 409 with existing_id)",
                ("201", "Customer"),
                errors=("400", "409", "413", "422"),
                body="CustomerInput",
                params=("on_duplicate",),
            ),
        },
        C + "/{id}": {
            "get": op("Read a customer (audited)", ("200", "Customer"), errors=e404),
            "patch": op(
                "Update a customer (If-Match: its ETag)",
                ("200", "Customer"),
                errors=("400", "404", "409", "412", "422"),
                body="CustomerInput",
                params=("if_match",),
            ),
        },
        C + "/{id}/merge": {
            "post": op(
                "Merge other_id into this customer (supervisor)",
                ("200", "Customer"),
                errors=("404", "409", "422"),
                body="MergeRequest",
            )
        },
        C + "/{id}/identities": {
            "post": op(
                "Add a phone, email, chat handle or account",
                ("200", "Customer"),
                errors=("404", "409", "422"),
                body="IdentityInput",
            )
        },
        C + "/{id}/identities/{kind}/{value}": {
            "delete": op("Remove an identity", ("200", "Customer"), errors=("400", "404"))
        },
        C + "/{id}/history": {
            "get": op(
                "Changes to a customer, newest first", ("200", "CustomerHistory"), errors=e404
            )
        },
        C + "/{id}/contacts": {
            "get": op("A customer's contacts", ("200", "ContactPage"), errors=e404, params=PAGING)
        },
        "/api/v1/orders": {
            "get": op(
                "List orders",
                ("200", "OrderPage"),
                errors=("400",),
                params=("customer_id", "status", "order_number", *PAGING),
            ),
            "post": op(
                "Create an order (supervisor)",
                ("201", "Order"),
                errors=(*e409, *e422),
                body="OrderInput",
            ),
        },
        "/api/v1/orders/bulk": {
            "post": op(
                "Import orders: JSON array, JSON Lines, CSV or multipart 'file'",
                ("200", "ImportReport"),
                errors=("400", "413"),
                params=("bulk_on_duplicate",),
            )
        },
        "/api/v1/orders/{id}": {
            "get": op("Read an order", ("200", "Order"), errors=e404),
            "patch": op(
                "Update an order", ("200", "Order"), errors=(*e404, *e422), body="OrderInput"
            ),
            "delete": op("Delete an order", ("204", None), errors=e404),
        },
        "/api/v1/contacts": {
            "get": op(
                "List contacts",
                ("200", "ContactPage"),
                errors=("400",),
                params=("customer_id", "agent_id", "queue", "channel", "from", "to", *PAGING),
            )
        },
        "/api/v1/contacts/{id}": {
            "get": op("A contact with its messages", ("200", "ContactDetail"), errors=e404)
        },
        "/api/v1/users": {
            "get": op(
                "List users (admin)",
                ("200", "UserPage"),
                errors=("400",),
                params=("role", "active", *PAGING),
                tag="admin",
            ),
            "post": op(
                "Create a user (admin)",
                ("201", "User"),
                errors=(*e409, *e422),
                body="UserInput",
                tag="admin",
            ),
        },
        "/api/v1/users/{id}": {
            "get": op("Read a user (admin)", ("200", "User"), errors=e404, tag="admin"),
            "patch": op(
                "Change role, active, endpoint, skills (admin)",
                ("200", "User"),
                errors=(*e404, *e409, *e422),
                body="UserChanges",
                tag="admin",
            ),
        },
        "/api/v1/users/{id}/password": {
            "post": op(
                "Reset a password (admin)",
                ("204", None),
                errors=(*e404, *e422),
                body="PasswordReset",
                tag="admin",
            )
        },
        "/api/v1/tokens": {
            "get": op("List API tokens (admin)", ("200", "TokenList"), tag="admin"),
            "post": op(
                "Create an API token; the plain token is in this answer only",
                ("201", "TokenCreated"),
                errors=(*e404, *e422),
                body="TokenInput",
                tag="admin",
            ),
        },
        "/api/v1/audit": {
            "get": op(
                "The audit log, newest first (admin)",
                ("200", "AuditPage"),
                errors=("400",),
                params=("actor", "action", "entity", "entity_id", "from", "to", *PAGING),
                tag="admin",
            )
        },
        "/api/v1/tokens/{id}": {
            "delete": op("Revoke an API token", ("200", "Token"), errors=e404, tag="admin")
        },
    }


def console_paths() -> dict[str, Any]:
    live = ("404", "409", "422")

    def action(summary: str, body: str | None = None, tag: str = "console") -> dict[str, Any]:
        return {"post": op(summary, ("200", "ConsoleResult"), errors=live, body=body, tag=tag)}

    i = "/api/v1/interactions/{id}"
    sup = "/api/v1/supervisor"
    return {
        "/api/v1/console/login": action("Start the console session (log the agent in)"),
        "/api/v1/console/state": action("Set ready / not ready / logged out", "StateChange"),
        "/api/v1/console/snapshot": {
            "get": op("The agent's state and interactions", ("200", "ConsoleResult"), tag="console")
        },
        f"{i}/accept": action("Accept an offered interaction"),
        f"{i}/reject": action("Reject an offered interaction"),
        f"{i}/control": action(
            "Hold, unhold, hang up, record, send DTMF, consult (attended transfer)", "Control"
        ),
        f"{i}/transfer": action("Transfer to a queue, an agent or a number", "Transfer"),
        f"{i}/wrap-up": action("Finish wrap-up with a disposition", "WrapUp"),
        f"{sup}/wallboard": {
            "get": op("Queues and agents now", ("200", "ConsoleResult"), tag="supervisor")
        },
        f"{sup}/agents/{{agent_id}}/force": action("Force an agent's state", "Force", "supervisor"),
        f"{sup}/interactions/{{id}}/monitor": action(
            "Listen, whisper or barge", "Monitor", "supervisor"
        ),
        f"{sup}/interactions/{{id}}/move": action(
            "Move to another queue or priority", "Move", "supervisor"
        ),
        "/api/v1/admin/reload": {
            "post": op(
                "Reload routing and IVR configuration", ("200", "ConsoleResult"), tag="admin"
            )
        },
    }


def _with_path_parameters(items: dict[str, Any]) -> dict[str, Any]:
    """Declare every ``{name}`` of a path template as a required string path parameter."""
    for template, item in items.items():
        names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        declared = {p["name"] for p in item.get("parameters", ())}
        if names:
            # A path may declare a parameter itself (e.g. an enum of actions); keep it.
            item["parameters"] = [
                *item.get("parameters", ()),
                *(
                    {"name": n, "in": "path", "required": True, "schema": STR}
                    for n in names
                    if n not in declared
                ),
            ]
    return items


def build_spec(version: str) -> dict[str, Any]:
    from ccserver.web.openapi_attachments import ATTACHMENT_SCHEMAS, attachment_paths
    from ccserver.web.openapi_email import EMAIL_SCHEMAS, email_paths
    from ccserver.web.openapi_simulator import SIMULATOR_SCHEMAS, simulator_paths
    from ccserver.web.openapi_workflows import channel_paths, workflow_paths, workflow_schemas

    every_path = {
        **paths(),
        **console_paths(),
        **workflow_paths(),
        **channel_paths(),
        **simulator_paths(),
        **attachment_paths(),
        **email_paths(),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ccserver REST API",
            "version": version,
            "description": "Errors are always {error: {code, message, details}}. Browsers "
            "send the ccs_csrf cookie value in X-CSRF-Token on POST/PATCH/DELETE; "
            "integrations use Authorization: Bearer <token>, limited by its scopes. "
            "Card and ID numbers in customer, contact and complaint answers are masked by the "
            "caller's role (crm.toml [pii]; a token acts with its user's role).",
        },
        "servers": [{"url": "/"}],
        "security": [{"session": []}, {"token": []}],
        "paths": _with_path_parameters(every_path),
        "components": {
            "schemas": {
                **SCHEMAS,
                **CONSOLE_SCHEMAS,
                **workflow_schemas(),
                **SIMULATOR_SCHEMAS,
                **ATTACHMENT_SCHEMAS,
                **EMAIL_SCHEMAS,
            },
            "parameters": PARAMETERS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "ccs_session"},
                "token": {"type": "http", "scheme": "bearer"},
            },
        },
    }
