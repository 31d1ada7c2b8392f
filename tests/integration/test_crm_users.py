"""Users, passwords and API tokens on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import Actor, AuditLog
from ccserver.crm.errors import (
    DuplicateUser,
    InvalidCredentials,
    InvalidToken,
    UserNotFound,
    ValidationFailed,
)
from ccserver.crm.models import ApiToken, User
from ccserver.crm.users import UserService, hash_token

ADMIN = Actor("u-admin", "admin", "192.0.2.1")


@pytest.fixture
def users(sessions: async_sessionmaker[AsyncSession]) -> UserService:
    # Cheapest Argon2 parameters keep the suite fast; production uses the library default.
    return UserService(sessions, hasher=PasswordHasher.from_parameters(CHEAPEST))


async def test_create_and_verify_password(
    users: UserService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    u = await users.create_user(
        " Alice ", "correct horse battery", role="supervisor", teams=["north"], actor=ADMIN
    )
    assert (u.username, u.role, u.teams, u.active) == ("alice", "supervisor", ("north",), True)
    async with sessions() as s:
        stored = await s.scalar(select(User.password_hash).where(User.id == u.id))
    assert stored is not None and stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    logged_in = await users.verify_password("ALICE", "correct horse battery")
    assert logged_in.last_login_at is not None
    for name, pw in [("alice", "wrong password!"), ("nobody", "correct horse battery")]:
        with pytest.raises(InvalidCredentials) as info:
            await users.verify_password(name, pw)
        assert info.value.http_status == 401
        assert info.value.message == "wrong username or password"


async def test_user_validation_and_duplicates(users: UserService) -> None:
    await users.create_user("bob", "0123456789")
    with pytest.raises(DuplicateUser):
        await users.create_user("BOB", "0123456789")
    with pytest.raises(ValidationFailed) as info:
        await users.create_user("carl", "short")
    assert "password" in info.value.details["fields"]
    with pytest.raises(ValidationFailed):
        await users.create_user("dan", "0123456789", role="root")
    with pytest.raises(ValidationFailed):
        await users.create_user("-x y", "0123456789")


async def test_change_password_deactivate_and_list(users: UserService) -> None:
    u = await users.create_user("erin", "first-password")
    with pytest.raises(InvalidCredentials):
        await users.change_password(u.id, "second-password", old_password="not-it-at-all")
    await users.change_password(u.id, "second-password", old_password="first-password")
    with pytest.raises(InvalidCredentials):
        await users.verify_password("erin", "first-password")
    await users.verify_password("erin", "second-password")
    await users.update_user(u.id, {"active": False, "role": "admin"})
    with pytest.raises(InvalidCredentials):
        await users.verify_password("erin", "second-password")
    await users.create_user("fred", "0123456789")
    assert [x.username for x in (await users.list_users()).items] == ["erin", "fred"]
    assert [x.username for x in (await users.list_users(active=True)).items] == ["fred"]
    assert (await users.list_users(role="admin")).total == 1
    with pytest.raises(UserNotFound):
        await users.get("missing")
    with pytest.raises(ValidationFailed):
        await users.update_user(u.id, {"password_hash": "x"})


async def test_api_tokens_hashed_verified_revoked(
    users: UserService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await users.create_user("integrator", "0123456789")
    plain, record = await users.create_token(
        "erp sync", scopes=["orders:write", "customers:read"], user_id=owner.id, actor=ADMIN
    )
    assert plain.startswith("ccs_") and len(plain) > 40
    async with sessions() as s:
        rows = (await s.scalars(select(ApiToken))).all()
    assert [r.token_hash for r in rows] == [hash_token(plain)]
    assert plain not in {r.prefix for r in rows}
    seen = await users.verify_token(plain)
    assert seen.id == record.id and seen.allows("orders:write") and not seen.allows("admin")
    assert seen.last_used_at is not None
    for bad in ("", "ccs_nope", plain + "x", "Bearer " + plain):
        with pytest.raises(InvalidToken):
            await users.verify_token(bad)
    await users.revoke_token(record.id, actor=ADMIN)
    with pytest.raises(InvalidToken):
        await users.verify_token(plain)
    audit = await AuditLog(sessions).query(entity="api_token")
    assert [e.action for e in audit] == ["revoke", "create"]


async def test_expired_token_and_inactive_owner(users: UserService) -> None:
    owner = await users.create_user("temp", "0123456789")
    now = dt.datetime.now(dt.UTC)
    plain, _ = await users.create_token(
        "t", user_id=owner.id, expires_at=now + dt.timedelta(hours=1)
    )
    await users.verify_token(plain, now=now)
    with pytest.raises(InvalidToken):
        await users.verify_token(plain, now=now + dt.timedelta(hours=2))
    await users.update_user(owner.id, {"active": False})
    with pytest.raises(InvalidToken):
        await users.verify_token(plain, now=now)
    tokens = await users.list_tokens(user_id=owner.id)
    assert [t.name for t in tokens] == ["t"]
