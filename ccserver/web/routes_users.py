"""Users and API tokens over REST (administrators only).

A token's plain text is returned once, on creation; only its hash is stored. Scopes name
permissions (``customers:read``), whole areas (``customers:*``) or everything (``*``), and
can never exceed the role of the user the token acts for (auth checks the role first).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ccserver.crm.users import ROLES, TokenView
from ccserver.errors import Conflict
from ccserver.web import api_support as api
from ccserver.web.auth import PERMISSIONS

USERS = "/api/v1/users"
TOKENS = "/api/v1/tokens"
AREAS = frozenset(p.split(":", 1)[0] for p in PERMISSIONS)
VALID_SCOPES = frozenset({"*", *PERMISSIONS, *(f"{a}:*" for a in AREAS)})
Role = Literal["agent", "supervisor", "admin"]
assert set(ROLES) == {"agent", "supervisor", "admin"}


def token_json(t: TokenView) -> dict[str, Any]:
    def iso(v: dt.datetime | None) -> str | None:
        return v.isoformat() if v is not None else None

    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "scopes": list(t.scopes),
        "user_id": t.user_id,
        "created_at": t.created_at.isoformat(),
        "expires_at": iso(t.expires_at),
        "last_used_at": iso(t.last_used_at),
        "revoked_at": iso(t.revoked_at),
    }


def _skills(value: dict[str, int] | None) -> dict[str, int] | None:
    if value is None:
        return None
    for name, level in value.items():
        if not 1 <= len(name) <= 64:
            raise ValueError("skill names are 1-64 characters")
        if not 0 <= level <= 100:
            raise ValueError(f"skill {name}: level must be 0-100")
    return value


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=10, max_length=1024)
    role: Role = "agent"
    display_name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    endpoint: str | None = Field(None, max_length=128)
    skills: dict[str, int] | None = None
    teams: list[str] = Field(default_factory=list, max_length=50)

    _check_skills = field_validator("skills")(_skills)


class UserChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    active: bool | None = None
    display_name: str | None = Field(None, min_length=1, max_length=200)
    email: str | None = Field(None, max_length=320)
    endpoint: str | None = Field(None, max_length=128)
    skills: dict[str, int] | None = None
    teams: list[str] | None = Field(None, max_length=50)

    _check_skills = field_validator("skills")(_skills)


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=10, max_length=1024)


class NewToken(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=50)
    user_id: str | None = Field(None, max_length=64)
    expires_at: dt.datetime | None = None

    @field_validator("scopes")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - VALID_SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes: {', '.join(unknown)}")
        return value

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time-zone offset")
        return value


# --- users ---------------------------------------------------------------------------------
async def list_users(request: web.Request) -> web.Response:
    api.allowed(request, "users:admin")
    limit, offset = api.page_params(request)
    page = (
        await api.crm(request)
        .users(request)
        .list_users(
            role=api.one_of(request, "role", set(ROLES)),
            active=api.bool_param(request, "active"),
            limit=limit,
            offset=offset,
        )
    )
    return web.json_response(page.to_json(lambda u: u.to_json()))


async def create_user(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "users:admin")
    body = await api.body_model(request, NewUser)
    view = (
        await api.crm(request)
        .users(request)
        .create_user(
            body.username,
            body.password,
            role=body.role,
            display_name=body.display_name,
            email=body.email,
            endpoint=body.endpoint,
            skills=body.skills,
            teams=body.teams,
            actor=actor,
        )
    )
    return web.json_response(view.to_json(), status=201, headers={"Location": f"{USERS}/{view.id}"})


async def get_user(request: web.Request) -> web.Response:
    api.allowed(request, "users:admin")
    view = await api.crm(request).users(request).get(request.match_info["id"])
    return web.json_response(view.to_json())


async def update_user(request: web.Request) -> web.Response:
    principal, actor = api.allowed(request, "users:admin")
    user_id = request.match_info["id"]
    changes = (await api.body_model(request, UserChanges)).model_dump(exclude_unset=True)
    if user_id == principal.user_id and (
        changes.get("active") is False or changes.get("role", "admin") != "admin"
    ):
        # The last door into administration must not close on the person holding it.
        raise Conflict("you cannot demote or disable your own account")
    view = await api.crm(request).users(request).update_user(user_id, changes, actor=actor)
    return web.json_response(view.to_json())


async def reset_password(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "users:admin")
    body = await api.body_model(request, PasswordReset)
    await (
        api.crm(request)
        .users(request)
        .change_password(request.match_info["id"], body.password, actor=actor)
    )
    return web.Response(status=204)


# --- tokens --------------------------------------------------------------------------------
async def list_tokens(request: web.Request) -> web.Response:
    api.allowed(request, "users:admin")
    tokens = (
        await api.crm(request)
        .users(request)
        .list_tokens(user_id=api.str_param(request, "user_id", 64))
    )
    return web.json_response({"items": [token_json(t) for t in tokens]})


async def create_token(request: web.Request) -> web.Response:
    principal, actor = api.allowed(request, "users:admin")
    body = await api.body_model(request, NewToken)
    plain, view = (
        await api.crm(request)
        .users(request)
        .create_token(
            body.name,
            scopes=body.scopes,
            user_id=body.user_id or principal.user_id,
            expires_at=body.expires_at,
            actor=actor,
        )
    )
    # The only time the plain token is ever shown.
    return web.json_response({**token_json(view), "token": plain}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    _, actor = api.allowed(request, "users:admin")
    view = await api.crm(request).users(request).revoke_token(request.match_info["id"], actor=actor)
    return web.json_response(token_json(view))


# --- audit log -----------------------------------------------------------------------------
async def list_audit(request: web.Request) -> web.Response:
    """Who read or changed what, newest first (admins)."""
    api.allowed(request, "audit:read")
    limit, offset = api.page_params(request)
    rows = (
        await api.crm(request)
        .audit(request)
        .query(
            actor=api.str_param(request, "actor", 64),
            action=api.str_param(request, "action", 64),
            entity=api.str_param(request, "entity", 64),
            entity_id=api.str_param(request, "entity_id", 64),
            since=api.time_param(request, "from"),
            until=api.time_param(request, "to"),
            limit=limit,
            offset=offset,
        )
    )
    return web.json_response(
        {"items": [r.to_json() for r in rows], "limit": limit, "offset": offset}
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(USERS, list_users)
    r.add_post(USERS, create_user)
    r.add_get(USERS + "/{id}", get_user)
    r.add_patch(USERS + "/{id}", update_user)
    r.add_post(USERS + "/{id}/password", reset_password)
    r.add_get(TOKENS, list_tokens)
    r.add_post(TOKENS, create_token)
    r.add_delete(TOKENS + "/{id}", revoke_token)
    r.add_get("/api/v1/audit", list_audit)
