"""Simulated callers for demos and trials, when the built-in Asterisk simulator runs
(``asterisk.mode = "simulator"``): a supervisor places a call from the wallboard or the API
and it travels the real path — AMI, AsyncAGI IVR, queue, offer with screen pop, agent phone.

``GET /api/v1/simulator`` says whether it runs and suggests callers (known customers' phone
numbers); ``POST /api/v1/simulator/calls`` places one. With a real Asterisk both answer 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field
from sqlalchemy import select

from ccserver.crm.models import Customer, CustomerIdentity
from ccserver.errors import NotFound
from ccserver.web.auth import require
from ccserver.web.json_body import read_model

# The default script: English, then "talk to an agent" in config/ivr/main.toml.
DEFAULT_DIGITS = "10"
PATIENCE_S = 600.0  # a demo caller waits up to 10 minutes for an agent
TALK_S = 3600.0  # and stays on until the agent ends the call (or an hour)


class CallBody(BaseModel):
    caller: str = Field(min_length=3, max_length=20, pattern=r"^\+?[0-9]+$")
    digits: str = Field(DEFAULT_DIGITS, max_length=32, pattern=r"^[0-9*#]*$")


def _simulator(request: web.Request) -> Any:
    from ccserver.app import SERVICES

    voice = request.app[SERVICES].extras.get("voice")
    simulator = getattr(voice, "simulator", None)
    if simulator is None:
        raise NotFound("no built-in Asterisk simulator runs (asterisk.mode is not 'simulator')")
    return simulator


async def status(request: web.Request) -> web.Response:
    from ccserver.app import SERVICES

    require(request, "supervise")
    _simulator(request)
    async with request.app[SERVICES].require_sessions()() as s:
        rows = (
            await s.execute(
                select(Customer.display_name, CustomerIdentity.value)
                .join(CustomerIdentity, CustomerIdentity.customer_id == Customer.id)
                .where(CustomerIdentity.kind == "phone")
                .order_by(Customer.customer_number)
                .limit(8)
            )
        ).all()
    return web.json_response({
        "enabled": True,
        "default_digits": DEFAULT_DIGITS,
        "callers": [{"name": name, "phone": phone} for name, phone in rows],
    })  # fmt: skip


async def place_call(request: web.Request) -> web.Response:
    from ccserver.simulator import Press, Talk, WaitForAgent

    require(request, "supervise")
    simulator = _simulator(request)
    body = await read_model(request, CallBody)
    script = [*(Press(d) for d in body.digits), WaitForAgent(PATIENCE_S), Talk(TALK_S)]
    handle = simulator.place_call(body.caller, script)
    return web.json_response({"placed": True, "channel": handle.name}, status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/simulator", status)
    app.router.add_post("/api/v1/simulator/calls", place_call)
