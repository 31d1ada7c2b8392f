"""``ccserver users add|passwd|list`` (exit codes as in ccserver/cli.py: 0 done, 1 refused
— taken name, unknown user, unacceptable password —, 3 database unreachable)."""

from __future__ import annotations

import sys

from ccserver.cli_data import CLI_ACTOR, EXIT_FAILED, EXIT_OK, open_store
from ccserver.crm.database import session_factory
from ccserver.crm.errors import DuplicateUser, UserNotFound
from ccserver.crm.users import UserService
from ccserver.errors import ValidationFailed
from ccserver.settings import Settings


def _refused(e: ValidationFailed | DuplicateUser | UserNotFound) -> int:
    fields = e.details.get("fields")
    reasons = "; ".join(f"{k}: {v}" for k, v in fields.items()) if isinstance(fields, dict) else ""
    print(f"ccserver: {e.message}" + (f" ({reasons})" if reasons else ""), file=sys.stderr)
    return EXIT_FAILED


async def add_user(
    settings: Settings,
    username: str,
    password: str,
    role: str,
    display_name: str | None,
    endpoint: str | None,
) -> int:
    async with open_store(settings) as engine:
        users = UserService(session_factory(engine))
        try:
            view = await users.create_user(
                username,
                password,
                role=role,
                display_name=display_name,
                endpoint=endpoint,
                actor=CLI_ACTOR,
            )
        except (ValidationFailed, DuplicateUser) as e:
            return _refused(e)
    print(f"user {view.username} added ({view.role}), id {view.id}")
    return EXIT_OK


async def change_password(settings: Settings, username: str, password: str) -> int:
    async with open_store(settings) as engine:
        users = UserService(session_factory(engine))
        try:
            view = await users.get_by_username(username)
            await users.change_password(view.id, password, actor=CLI_ACTOR)
        except (ValidationFailed, UserNotFound) as e:
            return _refused(e)
    print(f"password of {view.username} changed")
    return EXIT_OK


async def list_users(settings: Settings) -> int:
    async with open_store(settings) as engine:
        users = UserService(session_factory(engine))
        rows = []
        offset = 0
        while True:
            page = await users.list_users(limit=500, offset=offset)
            rows.extend(page.items)
            offset += len(page.items)
            if not page.has_more or not page.items:
                break
    print(f"{'USERNAME':<24} {'ROLE':<11} {'ACTIVE':<7} {'ENDPOINT':<24} NAME")
    for u in rows:
        active = "yes" if u.active else "no"
        print(f"{u.username:<24} {u.role:<11} {active:<7} {u.endpoint or '-':<24} {u.display_name}")
    return EXIT_OK
