"""start_voice / voice_context from Settings: simulator mode on an ephemeral port registers the
voice adapter and frees the port at shutdown; "off" gives a disabled channel."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from ccserver.app import SERVICES, build_app
from ccserver.channels.voice.channel import VoiceChannel
from ccserver.channels.voice.errors import VoiceOff
from ccserver.channels.voice.setup import start_voice, voice_context
from ccserver.domain import Channel
from ccserver.settings import PACKAGE_ROOT, Settings, load_settings
from ccserver.web.routes_console import CONTACT_CENTER


def _settings(tmp_path: Path, mode: str) -> Settings:
    config = tmp_path / "config"
    shutil.copytree(PACKAGE_ROOT / "config", config)
    return load_settings(
        environ={
            "CCSERVER_SERVER__DATA_DIR": str(tmp_path / "data"),
            "CCSERVER_ASTERISK__MODE": mode,
            "CCSERVER_ASTERISK__SIMULATOR_PORT": "0",
            "CCSERVER_PATHS__ROUTING": str(config / "routing.toml"),
            "CCSERVER_PATHS__IVR_DIR": str(config / "ivr"),
        }
    )


async def test_simulator_mode_context_starts_and_stops(tmp_path: Path) -> None:
    app = build_app(_settings(tmp_path, "simulator"))
    if voice_context not in app.cleanup_ctx:
        app.cleanup_ctx.append(voice_context)
    async with TestClient(TestServer(app)):
        voice: VoiceChannel = app[SERVICES].extras["voice"]
        assert app[CONTACT_CENTER].adapters[Channel.VOICE] is voice
        assert voice.port and voice.port > 0
        assert voice.conn is not None and voice.conn.connected
        port = voice.port
        # A real AMI client can log in to the simulator the app started.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert (await reader.readline()).startswith(b"Asterisk Call Manager/")
        writer.close()
        await writer.wait_closed()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_off_mode_is_a_disabled_channel(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "off")
    app = build_app(settings)
    async with TestClient(TestServer(app)):
        services = app[SERVICES]
        voice = services.extras.get("voice") or await start_voice(
            settings, app[CONTACT_CENTER], services
        )
        try:
            assert not voice.enabled and voice.port is None
            with pytest.raises(VoiceOff):
                await voice.dial_out("15550001111", None, 5)
        finally:
            await voice.close()
