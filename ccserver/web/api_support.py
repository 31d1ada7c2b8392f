"""Small helpers shared by the CRM and user REST handlers: the acting person, query
parameters, JSON bodies bounded by the configured depth, and the lazily built CRM services.

Services are built on first use because the session factory only exists once the database
cleanup context has started; the user service is kept because constructing it hashes a
dummy password (tens of milliseconds).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import Actor, AuditLog
from ccserver.crm.contacts import ContactService
from ccserver.crm.customers import CustomerService
from ccserver.crm.orders import OrderService
from ccserver.crm.users import UserService
from ccserver.errors import BadRequest
from ccserver.web.auth import Principal, client_ip, require
from ccserver.web.json_body import read_json, read_model

M = TypeVar("M", bound=BaseModel)


class CrmServices:
    """The CRM services of one application, created on first use."""

    def __init__(self) -> None:
        self._users: UserService | None = None
        self._customers: dict[str, CustomerService] = {}

    def _services(self, request: web.Request) -> Any:
        from ccserver.app import SERVICES

        return request.app[SERVICES]

    def sessions(self, request: web.Request) -> async_sessionmaker[AsyncSession]:
        sessions: async_sessionmaker[AsyncSession] = self._services(request).require_sessions()
        return sessions

    def default_region(self, request: web.Request) -> str:
        return str(self._services(request).settings.crm.default_region)

    def customers(self, request: web.Request, region: str | None = None) -> CustomerService:
        """The customer service for ``region`` (phones typed without a country code are
        read as numbers of that region); one instance per region, kept."""
        key = (region or self.default_region(request)).upper()
        service = self._customers.get(key)
        if service is None:
            service = CustomerService(self.sessions(request), default_region=key)
            self._customers[key] = service
        return service

    def orders(self, request: web.Request) -> OrderService:
        return OrderService(self.sessions(request))

    def contacts(self, request: web.Request) -> ContactService:
        return ContactService(self.sessions(request))

    def audit(self, request: web.Request) -> AuditLog:
        return AuditLog(self.sessions(request))

    def users(self, request: web.Request) -> UserService:
        if self._users is None:
            self._users = UserService(self.sessions(request))
        return self._users


CRM = web.AppKey("crm_api_services", CrmServices)


def crm(request: web.Request) -> CrmServices:
    return request.app[CRM]


def install_services(app: web.Application) -> None:
    if CRM not in app:
        app[CRM] = CrmServices()


def actor(request: web.Request, principal: Principal) -> Actor:
    """Who is acting, for audit rows: the user id, the role, and where the request came from."""
    return Actor(principal.user_id, principal.role, client_ip(request))


def allowed(request: web.Request, permission: str) -> tuple[Principal, Actor]:
    principal = require(request, permission)
    return principal, actor(request, principal)


def _max_depth(request: web.Request) -> int:
    from ccserver.app import SERVICES

    return int(request.app[SERVICES].settings.server.max_json_depth)


async def json_value(request: web.Request) -> Any:
    return await read_json(request, _max_depth(request))


async def json_object(request: web.Request) -> dict[str, Any]:
    data = await read_json(request, _max_depth(request))
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


async def body_model(request: web.Request, model: type[M]) -> M:
    return await read_model(request, model, _max_depth(request))


def int_param(request: web.Request, name: str, default: int, *, minimum: int = 0) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(
            f"query parameter {name} must be an integer", details={name: raw}
        ) from None
    if value < minimum:
        raise BadRequest(f"query parameter {name} must be at least {minimum}", details={name: raw})
    return value


def page_params(request: web.Request) -> tuple[int, int]:
    return int_param(request, "limit", 25, minimum=1), int_param(request, "offset", 0)


def str_param(request: web.Request, name: str, max_length: int = 200) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw.strip() == "":
        return None
    if len(raw) > max_length:
        raise BadRequest(f"query parameter {name} is longer than {max_length} characters")
    return raw.strip()


def time_param(request: web.Request, name: str) -> dt.datetime | None:
    """An ISO 8601 instant; one without an offset is read as UTC."""
    raw = str_param(request, name, 64)
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"query parameter {name} must be an ISO 8601 time", details={name: raw}
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def bool_param(request: web.Request, name: str) -> bool | None:
    raw = str_param(request, name, 8)
    if raw is None:
        return None
    low = raw.lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise BadRequest(f"query parameter {name} must be true or false", details={name: raw})


def one_of(request: web.Request, name: str, choices: frozenset[str] | set[str]) -> str | None:
    value = str_param(request, name)
    if value is not None and value not in choices:
        raise BadRequest(
            f"query parameter {name} must be one of {', '.join(sorted(choices))}",
            details={name: value},
        )
    return value
