"""OpenAPI paths and schemas of the simulated-caller API (ccserver/web/routes_simulator.py)."""

from __future__ import annotations

from typing import Any

from ccserver.web.openapi_spec import op

SIMULATOR_SCHEMAS: dict[str, Any] = {
    "SimulatorStatus": {
        "type": "object",
        "additionalProperties": False,
        "required": ["enabled", "default_digits", "callers"],
        "properties": {
            "enabled": {"type": "boolean"},
            "default_digits": {"type": "string"},
            "callers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "phone"],
                    "properties": {"name": {"type": "string"}, "phone": {"type": "string"}},
                },
            },
        },
    },
    "SimulatedCallBody": {
        "type": "object",
        "additionalProperties": False,
        "required": ["caller"],
        "properties": {
            "caller": {"type": "string", "pattern": "^\\+?[0-9]+$", "maxLength": 20},
            "digits": {"type": "string", "pattern": "^[0-9*#]*$", "maxLength": 32},
        },
    },
    "SimulatedCall": {
        "type": "object",
        "additionalProperties": False,
        "required": ["placed", "channel"],
        "properties": {"placed": {"type": "boolean"}, "channel": {"type": "string"}},
    },
}


def simulator_paths() -> dict[str, Any]:
    return {
        "/api/v1/simulator": {
            "get": op(
                "Whether the built-in Asterisk simulator runs, and sample callers",
                ("200", "SimulatorStatus"),
                errors=("404",),
                tag="simulator",
            )
        },
        "/api/v1/simulator/calls": {
            "post": op(
                "Place a simulated customer call (IVR digits, then waits for an agent)",
                ("201", "SimulatedCall"),
                errors=("404", "422"),
                body="SimulatedCallBody",
                tag="simulator",
            )
        },
    }
