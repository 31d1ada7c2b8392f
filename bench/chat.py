"""Chat benchmark: chats through the whole stack (widget WebSocket -> text IVR -> routing
-> agent's bus topic -> REST answer -> widget), on loopback, in one process.

Measures: time from the pre-chat form to the offer reaching the agent's topic (IVR turns,
customer lookup/creation, routing), then per line the customer -> agent latency (socket to
bus frame) and agent -> customer latency (REST call to socket frame), and CPU per line.
Clients run in the same process (their cost is included: figures are upper bounds).

    python -m bench.chat [--quick] [--chats 30] [--lines 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import websockets
from aiohttp import web

from bench.common import percentile, save_results


def _settings(tmp: Path) -> Any:
    from ccserver.settings import PACKAGE_ROOT, load_settings

    config = tmp / "config"
    shutil.copytree(PACKAGE_ROOT / "config", config)
    routing = config / "routing.toml"
    routing.write_text(routing.read_text().replace('calendar = "office"', 'calendar = "always"'))
    mail = config / "email.toml"
    mail.write_text(mail.read_text().replace("port = 2525", "port = 0"))
    # Every bench customer comes from 127.0.0.1: lift the per-IP limit on new chats.
    (config / "channels.toml").write_text("[chat]\nmax_starts_per_ip = 100000\n")
    return load_settings(
        environ={
            "CCSERVER_SERVER__DATA_DIR": str(tmp / "data"),
            "CCSERVER_ASTERISK__MODE": "off",
            "CCSERVER_PATHS__ROUTING": str(routing),
            "CCSERVER_PATHS__IVR_DIR": str(config / "ivr"),
            "CCSERVER_PATHS__EMAIL": str(mail),
            "CCSERVER_LOGGING__LEVEL": "warning",
        }
    )


async def _frame(ws: Any, kind: str, pred: Any = None) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            f: dict[str, Any] = json.loads(await ws.recv())
            if f["type"] == kind and (pred is None or pred(f)):
                return f


async def run(chats: int, lines: int) -> dict[str, Any]:
    from ccserver.app import SERVICES, build_app
    from ccserver.crm.users import UserService

    tmp = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    app = build_app(_settings(tmp))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    services = app[SERVICES]
    bus = services.require_bus()
    users = UserService(services.require_sessions())
    agents: list[tuple[aiohttp.ClientSession, str, Any]] = []
    http_sessions: list[aiohttp.ClientSession] = []
    sockets: list[Any] = []
    try:
        for n in range((chats + 2) // 3):  # chat capacity 3 per agent
            name = f"bench{n}"
            view = await users.create_user(
                name, "bench-password-1", role="agent", skills={"lang.en": 1}
            )
            http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            http_sessions.append(http)
            async with http.post(
                base + "/api/v1/auth/login",
                json={"username": name, "password": "bench-password-1"},
            ) as r:
                csrf = (await r.json())["csrf_token"]
            http.headers["X-CSRF-Token"] = csrf
            sub = await bus.subscribe([f"agent.{view.id}"]).__aenter__()
            await (await http.post(base + "/api/v1/console/login")).release()
            await (
                await http.post(base + "/api/v1/console/state", json={"state": "ready"})
            ).release()
            agents.append((http, view.id, sub))

        offers: dict[str, asyncio.Future[str]] = {}
        lines_in: dict[str, asyncio.Queue[float]] = {}

        async def pump(http: aiohttp.ClientSession, uid: str, sub: Any) -> None:
            async for m in sub:
                kind, data = m.data.get("type"), m.data.get("data") or {}
                if kind == "offer":
                    iid = data["interaction"]["id"]
                    async with http.post(f"{base}/api/v1/interactions/{iid}/accept") as r:
                        assert r.status == 200, await r.text()
                    offers.setdefault(iid, asyncio.get_running_loop().create_future())
                    if not offers[iid].done():
                        offers[iid].set_result(uid)
                elif kind == "chat_message" and data.get("from") == "customer":
                    lines_in[data["interaction_id"]].put_nowait(time.perf_counter())

        pumps = [asyncio.create_task(pump(*a)) for a in agents]
        by_uid = {uid: http for http, uid, _ in agents}
        setup_s: list[float] = []
        session_s: list[float] = []  # form -> chat opened (customer found/created, case)
        c2a: list[float] = []
        a2c: list[float] = []

        async def one_chat(n: int) -> None:
            ws = await websockets.connect(base.replace("http", "ws") + "/chat/ws")
            sockets.append(ws)
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "start", "data": {
                "name": f"Bench {n}", "email": f"bench{n}@example.com",
                "phone": f"+1 415 555 {1000 + n}", "consent": True}}))  # fmt: skip
            iid = (await _frame(ws, "session"))["data"]["chat_id"]
            session_s.append(time.perf_counter() - t0)
            offers.setdefault(iid, asyncio.get_running_loop().create_future())
            lines_in[iid] = asyncio.Queue()
            for choice in ("1", "0"):
                await _frame(ws, "msg", lambda f: bool(f["data"].get("buttons")))
                await ws.send(json.dumps({"type": "choice", "data": {"value": choice}}))
            uid = await asyncio.wait_for(offers[iid], 30)
            setup_s.append(time.perf_counter() - t0)
            await _frame(ws, "agent_joined")
            http = by_uid[uid]
            for k in range(lines):
                sent = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "data": {"text": f"line {k}"}}))
                c2a.append(await asyncio.wait_for(lines_in[iid].get(), 30) - sent)
                sent = time.perf_counter()
                async with http.post(
                    f"{base}/api/v1/interactions/{iid}/chat", json={"text": f"answer {k}"}
                ) as r:
                    assert r.status == 201
                await _frame(ws, "msg", lambda f: f["data"]["from"] == "agent")
                a2c.append(time.perf_counter() - sent)
                await asyncio.sleep(1.0)  # a person types: the flood limit is 1 line/s

        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one_chat(n) for n in range(chats)))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        for p in pumps:
            p.cancel()
        total_lines = 2 * len(c2a)
        return {
            "chats": chats,
            "lines_per_chat_each_way": lines,
            "form_to_session_ms": {"p50": percentile(session_s, 50) * 1e3,
                                   "p99": percentile(session_s, 99) * 1e3},
            "setup_to_offer_ms": {"p50": percentile(setup_s, 50) * 1e3,
                                  "p99": percentile(setup_s, 99) * 1e3},
            "customer_to_agent_ms": {"p50": percentile(c2a, 50) * 1e3,
                                     "p99": percentile(c2a, 99) * 1e3},
            "agent_to_customer_ms": {"p50": percentile(a2c, 50) * 1e3,
                                     "p99": percentile(a2c, 99) * 1e3},
            "cpu_ms_per_line_incl_setup": cpu / max(1, total_lines) * 1e3,
            "wall_s": wall,
        }  # fmt: skip
    finally:
        for ws in sockets:
            await ws.close()
        for _http, _uid, sub in agents:
            await sub.aclose()
        for http in http_sessions:
            await http.close()
        await runner.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--chats", type=int, default=30)
    ap.add_argument("--lines", type=int, default=10)
    args = ap.parse_args()
    chats, lines = (6, 3) if args.quick else (args.chats, args.lines)
    result = asyncio.run(run(chats, lines))
    for key, value in result.items():
        print(f"{key:28} {value}")
    print("written", save_results("chat", result))


if __name__ == "__main__":
    main()
