"""Who is calling: session cookie (people) or bearer API token (integrations), role checks,
CSRF on state-changing browser requests, and the login / logout / me endpoints.

Permissions are named ``<area>:<verb>``. A person's role decides (agent < supervisor < admin);
a token's scopes decide (``customers:read``, ``customers:*`` or ``*``) and never exceed the
role of the user who made it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, Field

from ccserver.errors import AuthError, CsrfFailed, Forbidden
from ccserver.web.json_body import read_model
from ccserver.web.sessions import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    SessionCodec,
    password_fingerprint,
)
from ccserver.web.throttle import LoginThrottle

ROLE_RANK = {"agent": 1, "supervisor": 2, "admin": 3}

# Minimum role for each permission. Tokens additionally need a matching scope.
PERMISSIONS: dict[str, str] = {
    "customers:read": "agent",
    "customers:write": "agent",
    "customers:merge": "supervisor",
    "customers:erase": "admin",
    "orders:read": "agent",
    "orders:write": "supervisor",
    "contacts:read": "agent",
    "contacts:write": "agent",
    "complaints:read": "agent",
    "complaints:write": "agent",
    "followups:read": "agent",
    "followups:write": "agent",
    "surveys:read": "agent",
    "surveys:write": "agent",
    "console:use": "agent",
    "supervise": "supervisor",
    "reports:read": "supervisor",
    "users:admin": "admin",
    "audit:read": "admin",
    "config:admin": "admin",
}


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    username: str
    display_name: str
    role: str
    active: bool
    password_hash: str


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    username: str
    display_name: str
    role: str
    kind: str  # "session" or "token"
    scopes: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None

    def allows(self, permission: str) -> bool:
        needed = PERMISSIONS[permission]
        if ROLE_RANK.get(self.role, 0) < ROLE_RANK[needed]:
            return False
        if self.kind == "token":
            area = permission.split(":", 1)[0]
            return bool({"*", permission, f"{area}:*"} & self.scopes)
        return True


class UserDirectory(Protocol):
    """What auth needs from the user store (implemented over the CRM users table)."""

    async def get_user(self, user_id: str) -> UserRecord | None: ...

    async def authenticate(self, username: str, password: str) -> UserRecord | None: ...

    async def verify_token(self, token: str) -> tuple[UserRecord, frozenset[str]] | None: ...

    async def touch_login(self, user_id: str) -> None: ...


@dataclass
class AuthConfig:
    codec: SessionCodec
    directory: UserDirectory
    throttle: LoginThrottle
    session_ttl_s: float
    cookie_secure: str = "auto"  # auto | always | never


AUTH = web.AppKey("auth", AuthConfig)
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Logging in again while an old session cookie is present must not need that session's token.
CSRF_EXEMPT = frozenset({"/api/v1/auth/login"})


def client_ip(request: web.Request) -> str:
    return request.remote or "unknown"


async def _principal_from_request(request: web.Request, cfg: AuthConfig) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        found = await cfg.directory.verify_token(header[7:].strip())
        if found is None:
            raise AuthError("invalid or revoked API token")
        owner, scopes = found
        if not owner.active:
            raise AuthError("the token's user is disabled")
        return Principal(owner.id, owner.username, owner.display_name, owner.role, "token", scopes)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    data = cfg.codec.parse(cookie, time.time())
    if data is None:
        return None
    user = await cfg.directory.get_user(data.user_id)
    if user is None or not user.active:
        return None
    if password_fingerprint(user.password_hash) != data.password_fingerprint:
        return None
    return Principal(
        user.id,
        user.username,
        user.display_name,
        user.role,
        "session",
        session_id=data.session_id,
    )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    cfg = request.app[AUTH]
    principal = await _principal_from_request(request, cfg)
    if principal is not None:
        request[PRINCIPAL] = principal
    if (
        principal is not None
        and principal.kind == "session"
        and request.method not in SAFE_METHODS
        and principal.session_id is not None
        and request.path not in CSRF_EXEMPT
    ):
        expected = cfg.codec.csrf_token(principal.session_id)
        sent = request.headers.get(CSRF_HEADER, "")
        if sent != expected:
            raise CsrfFailed(
                "missing or wrong CSRF token (send the ccs_csrf cookie value in X-CSRF-Token)"
            )
    return await handler(request)


def current(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def require(request: web.Request, permission: str) -> Principal:
    principal = current(request)
    if principal is None:
        raise AuthError("log in first")
    if not principal.allows(permission):
        raise Forbidden(
            f"your role does not allow {permission}", details={"permission": permission}
        )
    return principal


def _secure(request: web.Request, mode: str) -> bool:
    if mode == "always":
        return True
    if mode == "never":
        return False
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


class LoginBody(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


async def login(request: web.Request) -> web.Response:
    cfg = request.app[AUTH]
    body = await read_model(request, LoginBody)
    ip, now = client_ip(request), time.time()
    cfg.throttle.check(ip, body.username, now)
    user = await cfg.directory.authenticate(body.username, body.password)
    if user is None or not user.active:
        cfg.throttle.failed(ip, body.username, now)
        raise AuthError("wrong user name or password")
    cfg.throttle.succeeded(body.username)
    await cfg.directory.touch_login(user.id)
    cookie, data = cfg.codec.issue(
        user.id, user.role, password_fingerprint(user.password_hash), now, cfg.session_ttl_s
    )
    csrf = cfg.codec.csrf_token(data.session_id)
    resp = web.json_response(
        {
            "user": {
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
                "role": user.role,
            },
            "csrf_token": csrf,
        }
    )
    secure = _secure(request, cfg.cookie_secure)
    max_age = int(cfg.session_ttl_s)
    resp.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="Lax",
        secure=secure,
        max_age=max_age,
        path="/",
    )
    resp.set_cookie(
        CSRF_COOKIE, csrf, httponly=False, samesite="Lax", secure=secure, max_age=max_age, path="/"
    )
    return resp


async def logout(request: web.Request) -> web.Response:
    cfg = request.app[AUTH]
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        data = cfg.codec.parse(cookie, time.time())
        if data is not None:
            cfg.codec.revoke(data)
    resp = web.json_response({"ok": True})
    resp.del_cookie(SESSION_COOKIE, path="/")
    resp.del_cookie(CSRF_COOKIE, path="/")
    return resp


async def me(request: web.Request) -> web.Response:
    principal = current(request)
    if principal is None:
        raise AuthError("not logged in")
    return web.json_response(
        {
            "id": principal.user_id,
            "username": principal.username,
            "display_name": principal.display_name,
            "role": principal.role,
            "kind": principal.kind,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_get("/api/v1/auth/me", me)
