"""docker-compose.yml is for users (no Docker engine here), so keep it honest by reading it:
every file it mounts exists, every port lines up with ccserver's config, every CCSERVER_*
variable is a real setting, and the services ccserver's config points at are the ones defined."""

from __future__ import annotations

import configparser
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from ccserver.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _command_config_path() -> Path:
    command = " ".join(SERVICES["ccserver"]["command"])
    arg = command.split("--config", 1)[1].split()[0]
    assert arg.startswith("/app/"), "the config path must be inside the mounted checkout"
    return ROOT / arg.removeprefix("/app/")


def _settings():  # type: ignore[no-untyped-def]
    env = {k: str(v) for k, v in SERVICES["ccserver"]["environment"].items()}
    return load_settings(_command_config_path(), environ=env)


def _published(service: str) -> set[int]:
    """Container ports a service publishes ("host:container", "ip:host:container")."""
    return {int(str(p).split(":")[-1].split("/")[0]) for p in SERVICES[service].get("ports", [])}


def test_every_mounted_file_exists() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_ccserver_config_is_valid_and_points_at_the_compose_services() -> None:
    s = _settings()
    db = urlsplit(s.database.url)
    assert db.hostname in SERVICES and db.port in _published(db.hostname)
    assert SERVICES["postgres"]["environment"]["POSTGRES_DB"] == db.path.lstrip("/")
    assert SERVICES["postgres"]["environment"]["POSTGRES_USER"] == db.username
    assert s.bus.kind == "redis"
    redis = urlsplit(s.bus.redis_url)
    assert redis.hostname in SERVICES and redis.port in _published(redis.hostname)
    assert s.asterisk.mode == "ami" and s.asterisk.host in SERVICES
    assert s.asterisk.port in _published(s.asterisk.host)
    assert s.server.port in _published("ccserver") and s.server.host == "0.0.0.0"


def test_asterisk_manager_conf_matches_ccserver_credentials() -> None:
    s = _settings()
    mount = next(
        v for v in SERVICES["asterisk"]["volumes"] if v.endswith("/etc/asterisk/manager.conf:ro")
    )
    manager = configparser.ConfigParser(strict=False, interpolation=None)
    manager.read(ROOT / mount.split(":")[0])
    assert manager.getboolean("general", "enabled")
    # ccserver runs in another container: AMI must listen beyond loopback.
    assert manager.get("general", "bindaddr") == "0.0.0.0"
    assert manager.getint("general", "port") == s.asterisk.port
    assert s.asterisk.username in manager.sections()
    assert manager.get(s.asterisk.username, "secret") == s.asterisk.secret.get_secret_value()


def test_dialplan_sends_inbound_calls_to_async_agi() -> None:
    dialplan = (ROOT / "config" / "asterisk" / "extensions.conf").read_text()
    assert "[from-customer]" in dialplan and "AGI(agi:async)" in dialplan


def test_ccserver_waits_for_its_back_ends() -> None:
    assert set(SERVICES["ccserver"]["depends_on"]) == {"postgres", "redis", "asterisk", "mailpit"}


def test_email_listens_beyond_the_container_and_replies_through_a_stack_relay() -> None:
    from ccserver.channels.email.config import load_email_settings

    path = _settings().paths.email
    assert path.is_absolute() and str(path).startswith("/app/"), path
    local = ROOT / str(path).removeprefix("/app/")
    assert local.is_file(), f"docker.toml names a missing email file {path}"
    mail = load_email_settings(local)
    assert mail.listener.host == "0.0.0.0" and mail.listener.port in _published("ccserver")
    assert mail.outbound.relay_host in SERVICES
