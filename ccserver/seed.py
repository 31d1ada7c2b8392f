"""First start: an empty database gets the demo data set and known logins, so a new user of
``./run.sh`` can open the console and the wallboard at once.

Demo logins are printed to the log (they are demo credentials, not secrets of a real site):
``admin`` / ``supervisor`` / ``agent1``…``agent4`` with the password ``ccserver-demo``, unless
``security.initial_admin_password`` sets the admin's.
"""

from __future__ import annotations

import secrets

from aiohttp import web
from sqlalchemy import func, select

from ccserver.app import SERVICES
from ccserver.crm.models import User
from ccserver.crm.users import UserService
from ccserver.logs import get_logger

log = get_logger(__name__)

DEMO_PASSWORD = "ccserver-demo"
DEMO_AGENTS = [
    ("agent1", "Alice Martin", "PJSIP/agent1001", {"lang.en": 3, "lang.ja": 2, "billing": 2}),
    ("agent2", "Kenji Tanaka", "PJSIP/agent1002", {"lang.ja": 3, "lang.en": 2, "technical": 3}),
    ("agent3", "Somchai Prasert", "PJSIP/agent1003", {"lang.th": 3, "lang.en": 2, "orders": 2}),
    ("agent4", "Li Wei", "PJSIP/agent1004", {"lang.zh": 3, "lang.en": 2, "complaints": 2}),
]


async def seed_demo_if_empty(app: web.Application) -> None:
    services = app[SERVICES]
    sessions = services.require_sessions()
    async with sessions() as s:
        if (await s.scalar(select(func.count()).select_from(User))) or 0:
            return
    users = UserService(sessions)
    admin_pw = services.settings.security.initial_admin_password.get_secret_value()
    generated = not admin_pw
    admin_pw = admin_pw or secrets.token_urlsafe(12)
    await users.create_user(
        services.settings.security.initial_admin_user,
        admin_pw,
        role="admin",
        display_name="Administrator",
    )
    await users.create_user(
        "supervisor",
        DEMO_PASSWORD,
        role="supervisor",
        display_name="Sam Supervisor",
        endpoint="PJSIP/supervisor",
    )
    for username, name, endpoint, skills in DEMO_AGENTS:
        await users.create_user(
            username,
            DEMO_PASSWORD,
            role="agent",
            display_name=name,
            endpoint=endpoint,
            skills=skills,
        )
    summary = await _demo_customers(app)
    log.warning(
        "first start: demo data loaded",
        admin=services.settings.security.initial_admin_user,
        admin_password=None if not generated else "(see the line below)",
        demo_logins="supervisor, agent1..agent4 with password " + DEMO_PASSWORD,
        customers=summary,
    )
    if generated:
        # Printed once, on purpose, so the operator can log in; change it after.
        print(f"ccserver: initial admin password: {admin_pw}", flush=True)


async def _demo_customers(app: web.Application) -> int:
    from ccserver.crm.demo_data import generate_demo_data

    services = app[SERVICES]
    assert services.engine is not None
    # The demo people are made above with their console skills, so the generator only adds
    # customers, orders, past contacts, complaints and follow-ups.
    summary = await generate_demo_data(services.engine, customers=2000, seed=1, with_users=False)
    return summary.customers
