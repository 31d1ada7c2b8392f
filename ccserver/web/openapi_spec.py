"""The OpenAPI 3.1 document of ccserver's REST API (paths and JSON schemas)."""

from __future__ import annotations

from typing import Any


def build_spec(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "ccserver REST API", "version": version},
        "paths": {},
        "components": {"schemas": {}},
    }
