"""Typed readers for TOML tables that name the offending key in every error.

Each reader takes the dotted path of the value (``complaints.severities.high.sla_hours``)
so a bad file says exactly what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccserver.errors import ConfigError


def fail(source: str, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: {problem}", details={"file": source, "key": key})


def table(data: Mapping[str, Any], name: str, source: str, path: str) -> Mapping[str, Any]:
    """Sub-table ``name`` (empty when absent)."""
    key = f"{path}.{name}" if path else name
    value = data.get(name, {})
    if not isinstance(value, Mapping):
        raise fail(source, key, "must be a table")
    return value


def number(
    data: Mapping[str, Any],
    name: str,
    source: str,
    path: str,
    default: float | None = None,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    key = f"{path}.{name}" if path else name
    value = data.get(name, default)
    if value is None:
        raise fail(source, key, "is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(source, key, f"must be a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise fail(source, key, f"must be >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise fail(source, key, f"must be <= {maximum}, got {value!r}")
    return float(value)


def integer(
    data: Mapping[str, Any],
    name: str,
    source: str,
    path: str,
    default: int | None = None,
    *,
    minimum: int | None = None,
) -> int:
    key = f"{path}.{name}" if path else name
    value = data.get(name, default)
    if value is None:
        raise fail(source, key, "is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(source, key, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise fail(source, key, f"must be >= {minimum}, got {value!r}")
    return value


def text(
    data: Mapping[str, Any], name: str, source: str, path: str, default: str | None = None
) -> str:
    key = f"{path}.{name}" if path else name
    value = data.get(name, default)
    if value is None:
        raise fail(source, key, "is required")
    if not isinstance(value, str) or not value.strip():
        raise fail(source, key, f"must be a non-empty string, got {value!r}")
    return value


def boolean(data: Mapping[str, Any], name: str, source: str, path: str, default: bool) -> bool:
    key = f"{path}.{name}" if path else name
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise fail(source, key, f"must be true or false, got {value!r}")
    return value


def strings(
    data: Mapping[str, Any],
    name: str,
    source: str,
    path: str,
    default: tuple[str, ...] | None = None,
    *,
    allow_empty: bool = False,
) -> tuple[str, ...]:
    key = f"{path}.{name}" if path else name
    value = data.get(name, default)
    if value is None:
        raise fail(source, key, "is required")
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise fail(source, key, "must be a list of non-empty strings")
    if not value and not allow_empty:
        raise fail(source, key, "must not be empty")
    if len(set(value)) != len(value):
        raise fail(source, key, "has duplicate entries")
    return tuple(value)
