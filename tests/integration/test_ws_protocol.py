"""The /ws protocol as a client sees it, with the `websockets` library against the real app
(``build_app`` on a tmp data dir, SQLite, in-memory bus): auth, snapshot first, heartbeat,
resume by seq (replay or fresh snapshot), hostile input (malformed frames answered and
counted, floods closed 1008, oversized frames closed 1009), slow consumers closed 1013, and
the wallboard coalesced to at most 2 frames a second per screen.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ccserver.app import SERVICES, build_app
from ccserver.crm.users import UserService
from ccserver.runtime.contact_center import ContactCenter
from ccserver.settings import PACKAGE_ROOT, load_settings
from ccserver.web.hub import HUB, agent_topic
from ccserver.web.metrics import METRICS
from ccserver.web.routes_console import CONTACT_CENTER

PASSWORD = "ws-protocol-pw-1"


@dataclass
class Server:
    app: web.Application
    port: int
    cookies: dict[str, str]  # username -> Cookie header
    ids: dict[str, str]  # username -> user id

    @property
    def cc(self) -> ContactCenter:
        return self.app[CONTACT_CENTER]

    def ws_url(self, query: str = "") -> str:
        return f"ws://127.0.0.1:{self.port}/ws{query}"

    def open(self, user: str, query: str = "", **kw: Any) -> Any:
        return connect(self.ws_url(query), additional_headers={"Cookie": self.cookies[user]}, **kw)

    async def publish(self, user: str, kind: str, data: dict[str, Any]) -> str:
        bus = self.app[SERVICES].require_bus()
        return await bus.publish(agent_topic(self.ids[user]), {"type": kind, "data": data})

    def rejected(self, reason: str) -> float:
        value: float = self.app[METRICS].ws_rejected.labels(reason)._value.get()
        return value


# One server for the module (logins hash passwords, which is slow on purpose); each test
# opens its own sockets and measures counters as differences.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    data_dir = tmp_path_factory.mktemp("ws")
    email = data_dir / "email.toml"  # inbound SMTP on a free port, not the shipped 2525
    email.write_text(
        (PACKAGE_ROOT / "config" / "email.toml").read_text().replace("port = 2525", "port = 0")
    )
    settings = load_settings(
        environ={
            "CCSERVER_SERVER__DATA_DIR": str(data_dir),
            "CCSERVER_PATHS__EMAIL": str(email),
            "CCSERVER_ASTERISK__MODE": "simulator",
            "CCSERVER_ASTERISK__SIMULATOR_PORT": "0",
            "CCSERVER_LOGGING__LEVEL": "warning",
        }
    )
    app = build_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    try:
        users = UserService(app[SERVICES].require_sessions())
        ids = {
            "agent": (await users.create_user("wsagent", PASSWORD, role="agent")).id,
            "sup": (await users.create_user("wssup", PASSWORD, role="supervisor")).id,
        }
        cookies: dict[str, str] = {}
        async with aiohttp.ClientSession() as http:
            for key, username in (("agent", "wsagent"), ("sup", "wssup")):
                async with http.post(
                    f"http://127.0.0.1:{port}/api/v1/auth/login",
                    json={"username": username, "password": PASSWORD},
                ) as resp:
                    assert resp.status == 200
                    cookies[key] = "; ".join(f"{k}={m.value}" for k, m in resp.cookies.items())
        yield Server(app, port, cookies, ids)
    finally:
        await runner.cleanup()


async def _frame(ws: ClientConnection, wait: float = 5.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), wait)
    frame: dict[str, Any] = json.loads(raw)
    return frame


async def _until(ws: ClientConnection, kind: str, wait: float = 5.0) -> dict[str, Any]:
    async def find() -> dict[str, Any]:
        while True:
            f = await _frame(ws, wait)
            if f["type"] == kind:
                return f

    return await asyncio.wait_for(find(), wait)


async def test_auth_is_required(server: Server) -> None:
    with pytest.raises(InvalidStatus) as err:
        async with connect(server.ws_url()):
            pass
    assert err.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as err:
        async with connect(server.ws_url(), additional_headers={"Cookie": "ccs_session=forged"}):
            pass
    assert err.value.response.status_code == 401


async def test_snapshot_comes_first_and_ping_is_answered(server: Server) -> None:
    async with server.open("agent") as ws:
        first = await _frame(ws)
        assert first["type"] == "snapshot"
        assert first["data"]["agent"]["id"] == server.ids["agent"]
        assert "resolved" in first["data"]["dispositions"]
        assert first["data"]["offers"] == []
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _frame(ws))["type"] == "pong"


async def test_supervisor_gets_the_wallboard_after_the_snapshot(server: Server) -> None:
    async with server.open("sup") as ws:
        assert (await _frame(ws))["type"] == "snapshot"
        board = await _frame(ws)
        assert board["type"] == "wallboard"
        assert {q["queue"] for q in board["data"]["queues"]} >= {"general"}
        assert "agents" in board["data"] and "interactions" in board["data"]
    async with server.open("agent") as ws:
        await _frame(ws)
        await server.publish("agent", "probe", {"n": 1})
        # an agent gets its own topic and no wallboard
        assert (await _frame(ws))["type"] == "probe"


async def test_resume_replays_what_was_missed(server: Server) -> None:
    async with server.open("agent") as ws:
        await _frame(ws)
        await server.publish("agent", "probe", {"n": 1})
        seen = await _until(ws, "probe")
    last = seen["seq"]
    assert last
    # While the console is away, two more events happen.
    await server.publish("agent", "probe", {"n": 2})
    await server.publish("agent", "probe", {"n": 3})
    async with server.open("agent", f"?since={last}") as ws:
        resumed = await _frame(ws)
        assert resumed["type"] == "resumed" and resumed["data"]["replayed"] == 2
        replay = [await _frame(ws), await _frame(ws)]
        assert [f["data"]["n"] for f in replay] == [2, 3]
        assert all(f["seq"] > last for f in replay)
        # The same thing in-band, from an open socket.
        await ws.send(json.dumps({"type": "resume", "data": {"last_seq": replay[0]["seq"]}}))
        again = await _frame(ws)
        assert again == {"type": "resumed", "seq": replay[0]["seq"], "data": {"replayed": 1}}
        assert (await _frame(ws))["data"]["n"] == 3


async def test_resume_from_beyond_the_history_gets_a_fresh_snapshot(server: Server) -> None:
    await server.publish("agent", "probe", {"n": 1})
    async with server.open("agent", "?since=1-0") as ws:
        assert (await _frame(ws))["type"] == "snapshot"


async def test_malformed_frames_get_error_frames_and_are_counted(server: Server) -> None:
    before = {
        r: server.rejected(r) for r in ("bad json", "bad shape", "unknown type", "binary frame")
    }
    async with server.open("agent") as ws:
        await _frame(ws)
        for raw in ("not json {", "[1, 2]", '{"type": 5}', '{"type": "drop_tables"}'):
            await ws.send(raw)
        await ws.send(b"\x00\x01")
        codes = [(await _frame(ws))["data"]["code"] for _ in range(5)]
        assert codes == ["bad_json", "bad_shape", "bad_shape", "unknown_type", "binary_frame"]
        # still open and serving
        await ws.send(json.dumps({"type": "ping"}))
        assert (await _frame(ws))["type"] == "pong"
    after = {r: server.rejected(r) for r in before}
    assert after["bad json"] - before["bad json"] == 1
    assert after["bad shape"] - before["bad shape"] == 2
    assert after["unknown type"] - before["unknown type"] == 1
    assert after["binary frame"] - before["binary frame"] == 1


async def test_flood_is_closed_with_1008(server: Server) -> None:
    before = server.rejected("flood")
    async with server.open("agent") as ws:
        await _frame(ws)
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(500):
                await ws.send('{"type":"ping"}')
            while True:
                await _frame(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert server.rejected("flood") == before + 1


async def test_oversized_frame_is_closed_with_1009(server: Server) -> None:
    async with server.open("agent", max_size=None) as ws:
        await _frame(ws)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.send(json.dumps({"type": "ping", "data": {"x": "a" * 100_000}}))
            while True:
                await _frame(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_slow_consumer_is_closed_with_1013(server: Server) -> None:
    hub = server.app[HUB]
    default_bound = hub.limits.send_queue
    hub.limits.send_queue = 16  # small bound so the test needs few frames
    before = server.rejected("slow consumer")
    # The client stops reading: its own buffer (max_queue) and the TCP windows fill up.
    async with server.open("agent", max_queue=1, max_size=None) as ws:
        await _frame(ws)
        blob = "x" * 32_000
        for n in range(2_000):
            await server.publish("agent", "probe", {"n": n, "blob": blob})
            if server.rejected("slow consumer") > before:
                break
            if n % 50 == 0:
                await asyncio.sleep(0)
        # (counted once per frame that did not fit until the close lands: at least once)
        assert server.rejected("slow consumer") > before
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await _frame(ws)
    hub.limits.send_queue = default_bound
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    assert hub.connections == 0


async def test_wallboard_is_coalesced_to_two_frames_a_second(server: Server) -> None:
    hub = server.app[HUB]
    async with server.open("sup") as ws:
        await _frame(ws)
        await _frame(ws)  # the initial wallboard
        frames: list[dict[str, Any]] = []

        async def read() -> None:
            while True:
                f = await _frame(ws, 10)
                if f["type"] == "wallboard":
                    frames.append(f)

        reader = asyncio.create_task(read())
        loop = asyncio.get_running_loop()
        start = loop.time()
        n = 0
        while loop.time() - start < 2.0:
            n += 1
            hub.wallboard_changed({"at": n, "queues": [], "agents": [], "interactions": []})
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.6)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
    assert n > 100
    # 2 s of changes at 2 Hz (plus the tick in flight and the contact center's own).
    assert 2 <= len(frames) <= 7
    # Always the newest state: the last frame carries the last change.
    assert max(f["data"].get("at", 0) for f in frames) == n
