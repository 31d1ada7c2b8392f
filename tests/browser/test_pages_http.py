"""The pages over plain HTTP (no browser): login redirects, each role's home, the security
headers on every response, and a /static that serves only its own files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from browser_harness import quiet_email_config

from ccserver.app import SERVICES, build_app
from ccserver.crm.users import UserService
from ccserver.settings import load_settings

PASSWORD = "pages-test-pw-1"
# The async tests share the module-scoped server, so they run on the module's loop.
on_module_loop = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestServer]:
    data_dir = tmp_path_factory.mktemp("pages")
    settings = load_settings(
        environ={
            "CCSERVER_SERVER__DATA_DIR": str(data_dir),
            "CCSERVER_PATHS__EMAIL": str(quiet_email_config(data_dir)),
            "CCSERVER_ASTERISK__SIMULATOR_PORT": "0",
            "CCSERVER_LOGGING__LEVEL": "warning",
        }
    )
    srv = TestServer(build_app(settings))
    await srv.start_server()
    users = UserService(srv.app[SERVICES].require_sessions())
    await users.create_user("pagent", PASSWORD, role="agent")
    await users.create_user("psup", PASSWORD, role="supervisor")
    try:
        yield srv
    finally:
        await srv.close()


class Client:
    """A browser-like HTTP client (cookie jar) that does not own the shared server."""

    def __init__(self, server: TestServer) -> None:
        self.base = str(server.make_url("/")).rstrip("/")
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def get(self, path: str, **kw: Any) -> Any:
        return self.http.get(self.base + path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.http.post(self.base + path, **kw)

    async def close(self) -> None:
        await self.http.close()


async def _client(server: TestServer, user: str | None = None) -> Client:
    client = Client(server)
    if user:
        resp = await client.post(
            "/api/v1/auth/login", json={"username": user, "password": PASSWORD}
        )
        assert resp.status == 200
        resp.release()
    return client


@on_module_loop
async def test_pages_need_a_login_and_keep_where_you_were_going(server: TestServer) -> None:
    client = await _client(server)
    try:
        resp = await client.get("/", allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/login"
        for path in ("/console", "/supervisor?tab=agents&x=1"):
            resp = await client.get(path, allow_redirects=False)
            assert resp.status == 302, path
            location = urlsplit(resp.headers["Location"])
            assert location.path == "/login"
            assert parse_qs(location.query)["next"] == [path]
        login = await client.get("/login")
        assert login.status == 200
        assert 'id="login-form"' in await login.text()
    finally:
        await client.close()


@on_module_loop
async def test_each_role_goes_to_its_own_screen(server: TestServer) -> None:
    agent = await _client(server, "pagent")
    sup = await _client(server, "psup")
    try:
        resp = await agent.get("/", allow_redirects=False)
        assert resp.headers["Location"] == "/console"
        console = await agent.get("/console")
        assert console.status == 200 and 'src="/static/console.js"' in await console.text()
        # an agent has no wallboard
        resp = await agent.get("/supervisor", allow_redirects=False)
        assert resp.status == 302 and resp.headers["Location"] == "/console"

        # The login page sends someone already logged in on, never to another site.
        for target, expected in (
            ("/login", "/console"),
            ("/login?next=/console%3Fx%3D1", "/console?x=1"),
            ("/login?next=//evil.example/", "/console"),
            ("/login?next=https://evil.example/", "/console"),
            ("/login?next=/%5Cevil.example", "/console"),
        ):
            resp = await agent.get(target, allow_redirects=False)
            assert resp.status == 302 and resp.headers["Location"] == expected, target
        resp = await sup.get("/", allow_redirects=False)
        assert resp.headers["Location"] == "/supervisor"
        board = await sup.get("/supervisor")
        assert board.status == 200 and 'src="/static/supervisor.js"' in await board.text()
        assert (await sup.get("/console")).status == 200  # supervisors can take calls too
    finally:
        await agent.close()
        await sup.close()


@on_module_loop
async def test_security_headers_on_pages_files_and_api(server: TestServer) -> None:
    client = await _client(server, "pagent")
    try:
        for path in ("/login", "/console", "/static/console.js", "/api/v1/console/snapshot"):
            resp = await client.get(path)
            assert resp.status == 200, path
            csp = resp.headers["Content-Security-Policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["X-Frame-Options"] == "DENY"
            assert resp.headers["Referrer-Policy"] == "same-origin"
    finally:
        await client.close()


@on_module_loop
async def test_a_route_with_its_own_policy_keeps_it(server: TestServer) -> None:
    client = await _client(server)
    try:
        resp = await client.get("/chat/demo")
        assert resp.status == 200
        assert "ws:" in resp.headers["Content-Security-Policy"]  # the chat's own policy
        assert "X-Frame-Options" not in resp.headers
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        await client.close()


@on_module_loop
async def test_static_serves_its_own_files_only(server: TestServer) -> None:
    client = await _client(server)
    try:
        js = await client.get("/static/common.js")
        assert js.status == 200
        assert js.headers["Content-Type"].startswith("text/javascript")
        css = await client.get("/static/app.css")
        assert css.headers["Content-Type"].startswith("text/css")
        for bad in (
            "/static/..%2Fpages.py",
            "/static/%2e%2e%2fpages.py",
            "/static/.hidden.js",
            "/static/missing.js",
            "/static/pages.py",
            "/static/",
        ):
            resp = await client.get(bad)
            assert resp.status == 404, bad
    finally:
        await client.close()


def test_every_page_module_is_shipped() -> None:
    static = Path(__file__).resolve().parents[2] / "ccserver" / "web" / "static"
    for html in static.glob("*.html"):
        text = html.read_text()
        # CSP forbids inline script and style: every script is an external module.
        assert "<script>" not in text and "style=" not in text and "<style" not in text, html
        for ref in ("/static/app.css",):
            assert ref in text
    for js in static.glob("*.js"):
        # Data must never become markup.
        assert "innerHTML" not in js.read_text(), js


def _complaints_config(path: Path) -> dict[str, Any]:
    import tomllib

    section: dict[str, Any] = tomllib.loads(Path(path).read_text())["complaints"]
    return section


@on_module_loop
async def test_crm_options_are_the_configured_taxonomy_for_logged_in_staff(
    server: TestServer,
) -> None:
    anonymous = await _client(server)
    agent = await _client(server, "pagent")
    try:
        resp = await anonymous.get("/api/v1/ui/crm-options")
        assert resp.status == 401
        resp = await agent.get("/api/v1/ui/crm-options")
        assert resp.status == 200
        body = await resp.json()
        # The same taxonomy the server's crm.toml declares (read here independently).
        config = _complaints_config(server.app[SERVICES].settings.paths.crm)
        assert body["categories"] == config["categories"]
        assert {s["name"]: s["sla_hours"] for s in body["severities"]} == {
            name: sev["sla_hours"] for name, sev in config["severities"].items()
        }
        assert body["validity"] == config["validity"]
        assert body["followup_channels"] == ["phone", "email", "visit"]
    finally:
        await anonymous.close()
        await agent.close()
