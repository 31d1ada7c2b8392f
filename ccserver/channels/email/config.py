"""Typed settings of the email channel, read from ``config/email.toml`` (``[email]`` table).

Unknown keys and wrong types are refused with the file and key named, so a typo in the
configuration fails at start-up instead of silently using a default.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ccserver.channels.email.errors import EmailConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "config" / "email.toml"


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    host: str = "127.0.0.1"
    port: int = 2525
    hostname: str = "ccserver.local"
    max_message_bytes: int = 25 * 1024 * 1024
    # Concurrent SMTP sessions; more get "421 try later" (a connection flood cannot exhaust us).
    max_connections: int = 200
    # Idle SMTP sessions are dropped after this long (slow-loris clients hold no slot forever).
    session_timeout_seconds: float = 300.0
    # Empty: accept any recipient (the MTA in front already decided what to forward).
    accept_domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    max_count: int = 20
    max_bytes_each: int = 10 * 1024 * 1024
    max_total_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AutoAckSettings:
    enabled: bool = True
    default_language: str = "en"
    # At most this many acknowledgements per sender per window.
    max_per_sender: int = 3
    window_seconds: float = 3600.0


@dataclass(frozen=True, slots=True)
class FloodSettings:
    # More inbound mails than this from one sender inside the window: a mail bomb. The mail
    # is still stored (never dropped) but flagged and not acknowledged.
    max_per_sender: int = 20
    window_seconds: float = 600.0
    max_tracked_senders: int = 100_000


@dataclass(frozen=True, slots=True)
class OutboundSettings:
    relay_host: str = "127.0.0.1"
    relay_port: int = 25
    use_tls: bool = False
    start_tls: bool = False
    username: str = ""
    password_env: str = "CCSERVER_SMTP_PASSWORD"
    timeout_seconds: float = 30.0
    max_parallel: int = 4  # concurrent relay sessions
    max_attempts: int = 8
    backoff_initial_seconds: float = 5.0
    backoff_factor: float = 2.0
    backoff_max_seconds: float = 900.0

    def password(self) -> str | None:
        """The relay password, from the environment only (never from a file or a log)."""
        return os.environ.get(self.password_env) or None


@dataclass(frozen=True, slots=True)
class ImapSettings:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 993
    use_tls: bool = True
    username: str = ""
    password_env: str = "CCSERVER_IMAP_PASSWORD"
    mailbox: str = "INBOX"
    poll_interval_seconds: float = 60.0
    batch_size: int = 50
    timeout_seconds: float = 30.0

    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


@dataclass(frozen=True, slots=True)
class EmailSettings:
    # Right-hand side of every Message-ID we generate: how we recognise our own mail.
    message_id_domain: str = "ccserver.local"
    from_address: str = "support@example.com"
    from_name: str = "Customer Support"
    case_prefix: str = "C"
    listener: ListenerSettings = field(default_factory=ListenerSettings)
    attachments: AttachmentLimits = field(default_factory=AttachmentLimits)
    autoack: AutoAckSettings = field(default_factory=AutoAckSettings)
    flood: FloodSettings = field(default_factory=FloodSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)


_T = TypeVar("_T")


def _build(cls: type[_T], data: dict[str, Any], where: str) -> _T:
    kwargs: dict[str, Any] = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key, value in data.items():
        if key not in fields:
            raise EmailConfigError(
                f"{where}: unknown key {key!r}", details={"key": f"{where}.{key}"}
            )
        default = getattr(cls(), key)
        if dataclasses.is_dataclass(default):
            if not isinstance(value, dict):
                raise EmailConfigError(f"{where}.{key} must be a table", details={"key": key})
            kwargs[key] = _build(type(default), value, f"{where}.{key}")
            continue
        kwargs[key] = _coerce(value, default, f"{where}.{key}")
    return cls(**kwargs)


def _coerce(value: Any, default: Any, key: str) -> Any:
    def bad(expected: str) -> EmailConfigError:
        return EmailConfigError(
            f"{key} must be {expected}, got {value!r}", details={"key": key, "value": repr(value)}
        )

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad("a non-negative integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise bad("a non-negative number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad("a list of strings")
        return tuple(v.lower() for v in value)
    raise bad("a supported value")  # pragma: no cover


def settings_from_mapping(data: dict[str, Any], source: str = "email") -> EmailSettings:
    return _build(EmailSettings, data, source)


def load_email_settings(path: Path = DEFAULT_CONFIG) -> EmailSettings:
    """Read the ``[email]`` table of a TOML file; a missing table means all defaults."""
    try:
        with path.open("rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise EmailConfigError(f"{path}: cannot read ({exc})", details={"file": str(path)}) from exc
    except tomllib.TOMLDecodeError as exc:
        raise EmailConfigError(f"{path}: {exc}", details={"file": str(path)}) from exc
    table = doc.get("email", {})
    if not isinstance(table, dict):
        raise EmailConfigError(f"{path}: [email] must be a table", details={"file": str(path)})
    return settings_from_mapping(table, f"{path.name}:email")
