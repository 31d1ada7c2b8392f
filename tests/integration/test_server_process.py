"""`ccserver run` as a real process: it migrates, serves, and on SIGTERM stops accepting,
finishes its writes and exits 0; a bad setting stops it at once with the key named."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "CCSERVER_SERVER__DATA_DIR": str(tmp_path / "data"),
        "CCSERVER_ASTERISK__MODE": "off",
        "CCSERVER_LOGGING__FORMAT": "json",
        **extra,
    }


def _wait_healthy(
    port: int, proc: subprocess.Popen[bytes], log: Path, deadline_s: float = 60
) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not become healthy")


def test_run_serves_then_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "server.log"
    with (
        log.open("wb") as out,
        subprocess.Popen(
            [sys.executable, "-m", "ccserver.cli", "run", "--port", str(port)],
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as proc,
    ):
        try:
            _wait_healthy(port, proc, log)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                assert r.status == 200
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert (tmp_path / "data" / "ccserver.db").exists()
    # Stopped listening: the port can be listened on again (TIME_WAIT aside).
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


def test_a_bad_setting_stops_the_start_with_the_key_named(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ccserver.cli", "run"],
        env=_env(tmp_path, CCSERVER_SERVER__PORT="eighty"),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert b"CCSERVER_SERVER__PORT: server.port" in proc.stderr


def test_version_and_unreachable_database(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ccserver.cli", "--version"], capture_output=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.startswith(b"ccserver ")
    closed = _free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "ccserver.cli", "migrate"],
        env=_env(tmp_path, CCSERVER_DATABASE__URL=f"postgresql+asyncpg://x@127.0.0.1:{closed}/x"),
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert b"cannot reach" in proc.stderr or b"unavailable" in proc.stderr
