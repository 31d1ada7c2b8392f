"""Reading JSON request bodies safely: size bounded by aiohttp's client_max_size, nesting
depth bounded here, and validated into a pydantic model with per-field error details."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ccserver.errors import BadRequest, ValidationFailed

M = TypeVar("M", bound=BaseModel)


def _depth(value: Any, limit: int) -> int:
    """Depth of nested containers, stopping early once over ``limit`` (iterative: a hostile
    body cannot blow the Python stack)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, d + 1) for c in children)
    return deepest


def validation_details(e: ValidationError) -> dict[str, Any]:
    return {
        "fields": [
            {"field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]}
            for err in e.errors()
        ]
    }


async def read_json(request: web.Request, max_depth: int = 32) -> Any:
    if request.content_type != "application/json":
        raise BadRequest("expected Content-Type: application/json")
    raw = await request.read()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"body is not valid JSON: {e}") from None
    if _depth(data, max_depth) > max_depth:
        raise BadRequest(f"JSON nesting deeper than {max_depth}")
    return data


async def read_model(request: web.Request, model: type[M], max_depth: int = 32) -> M:
    data = await read_json(request, max_depth)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ValidationFailed("request body is invalid", details=validation_details(e)) from None
