"""Typed settings: shipped defaults, an optional user file, then CCSERVER_* environment overrides.

Layering (later wins): ``config/ccserver.toml`` (shipped defaults) → the user file
(``--config`` or ``CCSERVER_CONFIG``) → environment variables ``CCSERVER_<SECTION>__<KEY>``.
Everything is validated at start: an unknown key or a bad value raises :class:`ConfigError`
naming the key and the file (or variable) it came from, so a typo never silently falls back.
Secrets are :class:`pydantic.SecretStr` so they never reach a log line or a repr.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from ccserver.errors import ConfigError

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = Path(os.environ.get("CCSERVER_CONFIG_DIR", PACKAGE_ROOT / "config"))
ENV_PREFIX = "CCSERVER_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_json_depth: int = Field(32, ge=2, le=256)
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    shutdown_timeout_s: float = Field(10.0, gt=0)


class DatabaseSettings(_Section):
    url: str = ""
    migrate_on_start: bool = True


class BusSettings(_Section):
    kind: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    stream_maxlen: int = Field(10_000, ge=100)


class AsteriskSettings(_Section):
    mode: Literal["simulator", "ami", "off"] = "simulator"
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "ccserver"
    secret: SecretStr = SecretStr("ccsecret")
    simulator_port: int = Field(5038, ge=0, le=65535)


class RoutingSettings(_Section):
    # Trials and demos: every queue open around the clock (business hours and holidays of
    # routing.toml ignored). ./run.sh turns it on; leave it off in production.
    always_open: bool = False


class LoggingSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["console", "json"] = "console"


class SecuritySettings(_Section):
    session_ttl_s: int = Field(43_200, ge=60)
    login_max_attempts: int = Field(5, ge=1)
    login_window_s: int = Field(300, ge=1)
    initial_admin_user: str = "admin"
    initial_admin_password: SecretStr = SecretStr("")


class CrmSettings(_Section):
    default_region: str = Field("US", min_length=2, max_length=2)
    max_attachment_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_attachments: int = Field(10, ge=1, le=100)  # per complaint


class PathSettings(_Section):
    routing: Path = Path("routing.toml")
    ivr_dir: Path = Path("ivr")
    crm: Path = Path("crm.toml")
    email: Path = Path("email.toml")
    static_dir: Path | None = None


class Disposition(_Section):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")
    label: str = Field(min_length=1, max_length=80)


class WrapUpSettings(_Section):
    dispositions: tuple[Disposition, ...] = ()
    disposition_required: bool = True


class ReportSchedule(_Section):
    """A KPI report mailed on a schedule (e.g. every morning, yesterday by queue)."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_-]+$")
    by: tuple[str, ...] = ("day", "queue")
    period_days: int = Field(1, ge=1, le=366)  # the report covers the last N whole days
    at: str = Field("07:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")  # local time
    timezone: str = "UTC"
    format: Literal["csv", "xlsx"] = "xlsx"
    recipients: tuple[str, ...] = Field(min_length=1)


class ReportsSettings(_Section):
    sender: str = "reports@ccserver.local"
    schedules: tuple[ReportSchedule, ...] = ()


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    bus: BusSettings = BusSettings()
    asterisk: AsteriskSettings = AsteriskSettings()
    routing: RoutingSettings = RoutingSettings()
    logging: LoggingSettings = LoggingSettings()
    security: SecuritySettings = SecuritySettings()
    crm: CrmSettings = CrmSettings()
    paths: PathSettings = PathSettings()
    wrap_up: WrapUpSettings = WrapUpSettings()
    reports: ReportsSettings = ReportsSettings()

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.server.data_dir / 'ccserver.db'}"

    @property
    def outbox_journal(self) -> Path:
        return self.server.data_dir / "outbox.db"


# Keys whose values are filesystem paths, resolved against the directory of the file that set
# them (so a user config can say data_dir = "data" next to itself).
_PATH_KEYS = {
    ("server", "data_dir"),
    ("paths", "routing"),
    ("paths", "ivr_dir"),
    ("paths", "crm"),
    ("paths", "email"),
    ("paths", "static_dir"),
}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found", details={"file": str(path)}) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}", details={"file": str(path)}) from None


def _merge_layer(
    merged: dict[str, dict[str, Any]],
    origin: dict[tuple[str, str], str],
    layer: Mapping[str, Any],
    source: str,
    base_dir: Path | None,
) -> None:
    for section, values in layer.items():
        if section not in Settings.model_fields:
            raise ConfigError(
                f"{source}: unknown section [{section}]",
                details={"file": source, "key": section},
            )
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"{source}: [{section}] must be a table", details={"file": source, "key": section}
            )
        target = merged.setdefault(section, {})
        for key, value in values.items():
            if base_dir is not None and (section, key) in _PATH_KEYS and isinstance(value, str):
                value = str((base_dir / value).resolve()) if value else None
            target[key] = value
            origin[(section, key)] = source


def _env_layer(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    layer: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        layer.setdefault(section, {})[key] = value
    return layer


def load_settings(
    user_file: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    defaults_file: Path | None = None,
) -> Settings:
    """Build the settings from the three layers; raise ConfigError naming key and source."""
    environ = os.environ if environ is None else environ
    defaults = defaults_file or DEFAULT_CONFIG_DIR / "ccserver.toml"
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, str], str] = {}
    _merge_layer(merged, origin, _read_toml(defaults), str(defaults), defaults.parent)
    user = user_file or environ.get("CCSERVER_CONFIG")
    if user:
        path = Path(user)
        _merge_layer(merged, origin, _read_toml(path), str(path), path.resolve().parent)
    for section, values in _env_layer(environ).items():
        for key, value in values.items():
            var = f"{ENV_PREFIX}{section.upper()}__{key.upper()}"
            _merge_layer(merged, origin, {section: {key: value}}, var, Path.cwd())
    try:
        return Settings.model_validate(merged)
    except ValidationError as e:
        first = e.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        key = ".".join(loc)
        source = origin.get((loc[0], loc[1]) if len(loc) > 1 else (loc[0], ""), "defaults")
        problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(
            f"{source}: {key}: {problem}",
            details={"file": source, "key": key, "errors": len(e.errors())},
        ) from None
