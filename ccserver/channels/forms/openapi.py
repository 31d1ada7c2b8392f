"""OpenAPI 3.1 paths and schemas of the text channels' REST endpoints (public forms and
the console's chat / email-reply / whisper calls), for ``web/openapi_spec.build_spec`` to
merge: ``paths, schemas = text_channel_openapi()``. Schemas come from the same pydantic
models that validate the requests, so the document cannot drift from the code."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ccserver.channels.chat.routes import ChatBody, EmailReplyBody, WhisperBody
from ccserver.channels.forms.service import CallbackForm, ComplaintForm, ContactForm

_ERR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


def _body(name: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{name}"}
    return {"required": True, "content": {"application/json": {"schema": ref}}}


def _op(summary: str, ok: str, *, body: str | None, public: bool = False,
        errors: tuple[str, ...] = ("409", "422")) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {
        "summary": summary,
        "tags": ["channels"],
        "responses": {ok: {"description": "Success"}, **{e: {"description": e, **_ERR}
                                                          for e in errors}},
    }  # fmt: skip
    if body:
        out["requestBody"] = _body(body)
    if public:
        out["security"] = []
    else:
        out["responses"].update({"401": {"description": "Not logged in", **_ERR},
                                 "403": {"description": "Not allowed", **_ERR}})  # fmt: skip
    return out


def text_channel_openapi() -> tuple[dict[str, Any], dict[str, Any]]:
    forms = {
        "contact": ("Contact us (public)", "ContactForm"),
        "complaint": ("File a complaint (public)", "ComplaintForm"),
        "callback": ("Request a callback (public)", "CallbackForm"),
    }
    paths: dict[str, Any] = {}
    for kind, (summary, schema) in forms.items():
        op = _op(summary, "201", body=schema, public=True, errors=("422", "429"))
        op["responses"]["202"] = {"description": "Received (spam trap: nothing created)"}
        paths[f"/api/v1/forms/{kind}"] = {"post": op}
    paths["/api/v1/interactions/{id}/chat"] = {
        "parameters": [_ID],
        "post": _op("Send a chat line (or typing) to the customer", "201", body="ChatBody"),
    }
    paths["/api/v1/interactions/{id}/email-reply"] = {
        "parameters": [_ID],
        "post": _op("Reply to the customer's email (threaded)", "202", body="EmailReplyBody"),
    }
    paths["/api/v1/supervisor/interactions/{id}/whisper"] = {
        "parameters": [_ID],
        "post": _op("Whisper to the agent of a chat", "201", body="WhisperBody"),
    }
    paths["/api/v1/supervisor/interactions/{id}/chat"] = {
        "parameters": [_ID],
        "get": _op("A chat's lines so far (then follow interaction.<id>)", "200", body=None,
                   errors=("404",)),
    }  # fmt: skip
    schemas = {
        m.__name__: _schema(m)
        for m in (ContactForm, ComplaintForm, CallbackForm, ChatBody, EmailReplyBody, WhisperBody)
    }
    return paths, schemas
