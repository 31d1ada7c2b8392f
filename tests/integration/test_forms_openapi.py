"""The text channels' OpenAPI fragment documents every /api/v1 route they add, with
request schemas that are valid JSON Schema."""

from __future__ import annotations

import re

from aiohttp import web
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from ccserver.channels import setup
from ccserver.channels.forms.openapi import text_channel_openapi


def test_fragment_and_routes_agree() -> None:
    app = web.Application()
    setup.add_routes(app)
    ours = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/v1/") and route.method != "HEAD":
            for kind in ("contact", "complaint", "callback"):  # /forms/{kind} is one handler
                ours.add((route.method.lower(), re.sub(r"\{kind\}", kind, path)))
    paths, schemas = text_channel_openapi()
    documented = {(m, p) for p, item in paths.items() for m in item if m != "parameters"}
    assert ours == documented
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert schema["title"] == name
    assert "website" in schemas["CallbackForm"]["properties"]  # the honeypot is documented
