"""The routing configuration the server runs with: config/routing.toml (or the file the
settings name), with the site-wide overrides of the settings applied — today one:
``[routing] always_open`` (trials and demos: every queue open around the clock, so a call
placed at night reaches an agent instead of the after-hours message)."""

from __future__ import annotations

import asyncio
import dataclasses
import tomllib
from collections.abc import Mapping
from typing import Any

from ccserver.errors import ConfigError
from ccserver.settings import Settings
from routing.config import RoutingConfig, parse_routing_config
from routing.hours import ALWAYS_OPEN_UTC


def apply_overrides(config: RoutingConfig, settings: Settings) -> RoutingConfig:
    if not settings.routing.always_open:
        return config
    queues = {n: dataclasses.replace(q, hours=ALWAYS_OPEN_UTC) for n, q in config.queues.items()}
    return dataclasses.replace(config, queues=queues)


def from_data(data: Mapping[str, Any], source: str, settings: Settings) -> RoutingConfig:
    return apply_overrides(parse_routing_config(data, source), settings)


def load(settings: Settings) -> RoutingConfig:
    path = settings.paths.routing
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: {e}", details={"file": str(path)}) from None
    return from_data(data, str(path), settings)


async def load_async(settings: Settings) -> RoutingConfig:
    """The same, with the file read off the event loop (reloads while serving)."""
    return await asyncio.to_thread(load, settings)
