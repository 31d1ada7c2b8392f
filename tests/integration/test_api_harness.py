"""A running application for the REST API tests, plus a client that logs in like a browser
(cookie + X-CSRF-Token) or calls like an integration (Bearer token).

Other ``test_api_*`` modules import the fixtures from here and run their tests on the
module's event loop (``pytestmark = pytest.mark.asyncio(loop_scope="module")``), which the
fixtures share; the tests in this module check
the harness itself: the server answers and the OpenAPI document is served without login.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import ClientResponse, ClientSession, CookieJar, web
from aiohttp.test_utils import TestServer
from argon2 import PasswordHasher

from ccserver.app import SERVICES, build_app
from ccserver.crm.users import UserService
from ccserver.settings import PACKAGE_ROOT, Settings, load_settings

PASSWORD = "correct horse battery"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
USERS = (("root", "admin"), ("sup", "supervisor"), ("alice", "agent"))


def make_settings(tmp_path: Path, db_url: str | None = None, **env: str) -> Settings:
    config = tmp_path / "config"
    if not config.exists():
        shutil.copytree(PACKAGE_ROOT / "config", config)
    environ = {
        "CCSERVER_SERVER__DATA_DIR": str(tmp_path / "data"),
        "CCSERVER_ASTERISK__MODE": "off",
        "CCSERVER_PATHS__ROUTING": str(config / "routing.toml"),
        "CCSERVER_PATHS__IVR_DIR": str(config / "ivr"),
        **env,
    }
    if db_url:
        environ["CCSERVER_DATABASE__URL"] = db_url
    return load_settings(environ=environ)


class Api:
    """One caller with its own cookie jar: logged in like a browser (cookie + X-CSRF-Token),
    calling with a Bearer token like an integration, or anonymous."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.session = ClientSession(cookie_jar=CookieJar(unsafe=True))
        self.headers: dict[str, str] = {}

    @property
    def app(self) -> web.Application:
        app = self.server.app
        assert app is not None
        return app

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        self.session.cookie_jar.clear()
        self.headers = {}
        r, body = await self.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert r.status == 200, body
        self.headers = {"X-CSRF-Token": body["csrf_token"]}
        return dict(body)

    def use_token(self, token: str) -> None:
        self.session.cookie_jar.clear()
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, *, json: Any = None, **kw: Any
    ) -> tuple[ClientResponse, Any]:
        headers = {**self.headers, **kw.pop("headers", {})}
        async with self.session.request(
            method, self.server.make_url(path), json=json, headers=headers, **kw
        ) as r:
            if r.content_type == "application/json":
                return r, await r.json()
            return r, await r.read()

    async def get(self, path: str, **kw: Any) -> tuple[ClientResponse, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> tuple[ClientResponse, Any]:
        return await self.call("POST", path, json=json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> tuple[ClientResponse, Any]:
        return await self.call("PATCH", path, json=json, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[ClientResponse, Any]:
        return await self.call("DELETE", path, **kw)


class Harness:
    """The running application with an admin (root), a supervisor (sup) and an agent
    (alice); callers are logged in once and kept (password hashing is slow on purpose)."""

    def __init__(self, server: TestServer) -> None:
        self.server = server
        self.user_ids: dict[str, str] = {}
        self._callers: list[Api] = []
        self._logged_in: dict[str, Api] = {}

    @property
    def app(self) -> web.Application:
        app = self.server.app
        assert app is not None
        return app

    def anonymous(self) -> Api:
        caller = Api(self.server)
        self._callers.append(caller)
        return caller

    async def as_user(self, username: str) -> Api:
        if username not in self._logged_in:
            caller = self.anonymous()
            await caller.login(username)
            self._logged_in[username] = caller
        return self._logged_in[username]

    async def close(self) -> None:
        for caller in self._callers:
            await caller.session.close()


async def start_harness(
    settings: Settings, existing_users: dict[str, str] | None = None
) -> AsyncIterator[Harness]:
    """The app on ``settings``; its users are created, or ``existing_users`` (name -> id,
    from an earlier start on the same database: a restart) are reused."""
    app = build_app(settings)
    server = TestServer(app)
    await server.start_server()
    harness = Harness(server)
    try:
        if existing_users is not None:
            harness.user_ids.update(existing_users)
        else:
            # Made with cheap Argon2 parameters to keep the suite fast; the first login
            # upgrades each hash to the production parameters, as it would for users of an
            # older release.
            users = UserService(app[SERVICES].require_sessions(), hasher=FAST_HASHER)
            for name, role in USERS:
                view = await users.create_user(
                    name, PASSWORD, role=role, display_name=name.title()
                )
                harness.user_ids[name] = view.id
        yield harness
    finally:
        await harness.close()
        await server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def harness(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Harness]:
    """One application on SQLite for every test of a module (tests use distinct data)."""
    async for h in start_harness(make_settings(tmp_path_factory.mktemp("api"))):
        yield h


@pytest_asyncio.fixture(loop_scope="module")
async def fresh(tmp_path: Path) -> AsyncIterator[Harness]:
    """An application of this test's own (for state that must not leak, e.g. throttling)."""
    async for h in start_harness(make_settings(tmp_path)):
        yield h


@pytest_asyncio.fixture(loop_scope="module")
async def any_db(tmp_path: Path, db_url: str) -> AsyncIterator[Harness]:
    """An application of this test's own, once on SQLite and once on PostgreSQL."""
    async for h in start_harness(make_settings(tmp_path, db_url)):
        yield h


def error_of(body: Any) -> dict[str, Any]:
    """The error object, after checking the body has exactly the documented shape."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert isinstance(err["code"], str) and isinstance(err["message"], str)
    return err


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_openapi_document_is_public_and_api_needs_login(harness: Harness) -> None:
    anon = harness.anonymous()
    r, body = await anon.get("/api/v1/openapi.json")
    assert r.status == 200 and body["openapi"].startswith("3.1")
    r, body = await anon.get("/api/v1/customers")
    assert r.status == 401 and error_of(body)["code"] == "unauthenticated"


async def test_each_login_is_a_separate_caller(harness: Harness) -> None:
    admin, agent = await harness.as_user("root"), await harness.as_user("alice")
    r, me = await admin.get("/api/v1/auth/me")
    assert r.status == 200 and me["role"] == "admin"
    r, me = await agent.get("/api/v1/auth/me")
    assert r.status == 200 and me["role"] == "agent"
