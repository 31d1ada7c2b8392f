"""First start and the issue's "done when": a fresh SQLite install answers /healthz, an
admin logs in, imports a CSV of customers with the CLI and finds one by typing a phone
number in any format; the demo data is seeded on the first start only."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select
from test_api_harness import Harness, make_settings

from ccserver import cli
from ccserver.app import SERVICES, build_app
from ccserver.crm.models import Customer, User
from ccserver.seed import DEMO_PASSWORD, seed_demo_if_empty
from ccserver.settings import load_settings


async def _counts(server: TestServer) -> tuple[int, int]:
    assert server.app is not None
    async with server.app[SERVICES].require_sessions()() as s:
        users = await s.scalar(select(func.count()).select_from(User))
        customers = await s.scalar(select(func.count()).select_from(Customer))
    return int(users or 0), int(customers or 0)


@pytest.mark.slow
async def test_first_start_seeds_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings(tmp_path)
    seen: list[tuple[int, int]] = []
    printed: list[str] = []
    for _start in (1, 2):
        app = build_app(settings)
        app.on_startup.append(seed_demo_if_empty)
        server = TestServer(app)
        await server.start_server()
        try:
            seen.append(await _counts(server))
            printed.append(capsys.readouterr().out)
            if _start == 1:
                harness = Harness(server)
                line = next(x for x in printed[0].splitlines() if "initial admin password" in x)
                admin = harness.anonymous()
                await admin.login("admin", line.rsplit(": ", 1)[1])
                r, page = await admin.get("/api/v1/users", params={"role": "agent"})
                assert r.status == 200, page
                agents = {u["username"]: u for u in page["items"]}
                assert set(agents) == {"agent1", "agent2", "agent3", "agent4"}
                assert all("lang.en" in u["skills"] for u in agents.values())
                await harness.anonymous().login("supervisor", DEMO_PASSWORD)
                await harness.close()
        finally:
            await server.close()
    users, customers = seen[0]
    assert users == 6 and customers >= 1000
    assert seen[1] == seen[0]  # the second start added nothing
    assert "initial admin password" not in printed[1]


def _write_customers_csv(path: Path) -> None:
    path.write_text(
        "display_name,phone,email,tier\n"
        "Grace Hopper,(212) 555-0147,grace@navy.example,gold\n"
        "Hanako Sato,+81 3-1234-5678,hanako@example.jp,silver\n"
        "Bad Phone,12,bad@example.org,bronze\n",
        encoding="utf-8",
    )


async def test_done_when_fresh_install_import_and_find_by_phone(tmp_path: Path) -> None:
    cfg = tmp_path / "ccserver.toml"
    cfg.write_text(
        f'[server]\ndata_dir = "{tmp_path / "data"}"\n[asterisk]\nmode = "off"\n',
        encoding="utf-8",
    )
    # An administrator made from the command line (as the README tells a new user).
    saved, sys.stdin = sys.stdin, io.StringIO("admin password 1\n")
    try:
        argv = ["--config", str(cfg), "users", "add", "boss", "--role", "admin", "--password-stdin"]
        assert await asyncio.to_thread(cli.main, argv) == 0
    finally:
        sys.stdin = saved

    app = build_app(load_settings(cfg))
    server = TestServer(app)
    await server.start_server()
    harness = Harness(server)
    try:
        anon = harness.anonymous()
        r, health = await anon.get("/healthz")
        assert r.status == 200 and health["status"] == "ok"
        admin = harness.anonymous()
        await admin.login("boss", "admin password 1")

        csv_path = tmp_path / "customers.csv"
        _write_customers_csv(csv_path)
        argv = ["--config", str(cfg), "import", "customers", str(csv_path)]
        code = await asyncio.to_thread(cli.main, argv)
        assert code == 1  # the bad row is reported, the good ones are in

        for typed in (
            "+1 212 555 0147",
            "2125550147",
            "(212) 555-0147",
            "+12125550147",
            "001 212-555-0147",
        ):
            r, found = await admin.get("/api/v1/customers", params={"q": typed})
            assert r.status == 200, found
            assert [c["display_name"] for c in found["items"]] == ["Grace Hopper"], typed
        r, found = await admin.get(
            "/api/v1/customers", params={"q": "03-1234-5678", "region": "JP"}
        )
        assert [c["display_name"] for c in found["items"]] == ["Hanako Sato"]
        r, found = await admin.get("/api/v1/customers", params={"q": "bad@example.org"})
        assert found["total"] == 0
    finally:
        await harness.close()
        await server.close()
