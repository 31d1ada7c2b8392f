"""Users, roles and API tokens.

Passwords are hashed with Argon2id (argon2-cffi) in a worker thread, because a hash costs
tens of milliseconds of CPU that must not stall the event loop. Hashes made with older
parameters are upgraded on the next successful login. API tokens are 256-bit random
strings shown once; only their SHA-256 is stored (a fast hash is enough for high-entropy
secrets, and it lets a token be found by an indexed equality lookup).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import SYSTEM, Actor, add_audit
from ccserver.crm.errors import (
    DuplicateUser,
    InvalidCredentials,
    InvalidToken,
    UserNotFound,
    ValidationFailed,
)
from ccserver.crm.models import ApiToken, User, utcnow
from ccserver.crm.pagination import DEFAULT_LIMIT, Page, clamp_page
from ccserver.errors import NotFound

ROLES = ("agent", "supervisor", "admin")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # Argon2 accepts more; a cap stops hashing megabytes on purpose
TOKEN_PREFIX = "ccs_"
TOKEN_TOUCH_INTERVAL = dt.timedelta(minutes=1)  # last_used_at precision, saves writes


@dataclass(frozen=True)
class UserView:
    id: str
    username: str
    display_name: str
    email: str | None
    role: str
    active: bool
    endpoint: str | None
    skills: dict[str, Any]
    teams: tuple[str, ...]
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "email": self.email,
            "role": self.role,
            "active": self.active,
            "endpoint": self.endpoint,
            "skills": self.skills,
            "teams": list(self.teams),
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
        }


@dataclass(frozen=True)
class TokenView:
    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    user_id: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


def user_view(u: User) -> UserView:
    return UserView(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        email=u.email,
        role=u.role,
        active=u.active,
        endpoint=u.endpoint,
        skills=dict(u.skills or {}),
        teams=tuple(u.teams or ()),
        created_at=u.created_at,
        last_login_at=u.last_login_at,
    )


def token_view(t: ApiToken) -> TokenView:
    return TokenView(
        id=t.id,
        name=t.name,
        prefix=t.prefix,
        scopes=tuple(t.scopes or ()),
        user_id=t.user_id,
        created_at=t.created_at,
        expires_at=t.expires_at,
        last_used_at=t.last_used_at,
        revoked_at=t.revoked_at,
    )


def hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationFailed(
            "password is not acceptable",
            details={"fields": {"password": f"{MIN_PASSWORD} to {MAX_PASSWORD} characters"}},
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationFailed(
            "unknown role", details={"fields": {"role": f"one of {', '.join(ROLES)}"}}
        )


class UserService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, hasher: PasswordHasher | None = None
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher or PasswordHasher()
        # Verified against unknown usernames so a miss costs as much time as a hit; made
        # on first use, in a thread, so building the service never stalls the event loop.
        self._dummy: str | None = None

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await asyncio.to_thread(self._hasher.hash, secrets.token_hex(16))
        return self._dummy

    # --- users ---------------------------------------------------------------------------
    async def create_user(
        self,
        username: str,
        password: str,
        *,
        role: str = "agent",
        display_name: str | None = None,
        email: str | None = None,
        endpoint: str | None = None,
        skills: Mapping[str, Any] | None = None,
        teams: Iterable[str] = (),
        actor: Actor = SYSTEM,
    ) -> UserView:
        name = username.strip().lower()
        if not USERNAME_RE.match(name):
            raise ValidationFailed(
                "username is not acceptable",
                details={"fields": {"username": "2-64 of a-z 0-9 . _ @ -, starting alphanumeric"}},
            )
        _check_password(password)
        _check_role(role)
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        try:
            async with self._sessions.begin() as session:
                user = User(
                    username=name,
                    display_name=(display_name or name).strip()[:200],
                    email=email,
                    password_hash=password_hash,
                    role=role,
                    endpoint=endpoint,
                    skills=dict(skills or {}),
                    teams=list(teams),
                )
                session.add(user)
                await session.flush()
                add_audit(session, actor, "create", "user", user.id, {"role": role})
                return user_view(user)
        except IntegrityError:
            raise DuplicateUser("username is taken", details={"username": name}) from None

    async def verify_password(self, username: str, password: str) -> UserView:
        """The user when the password is right; :class:`InvalidCredentials` otherwise.

        Unknown and inactive users fail the same way, after the same work, so the answer
        does not reveal which usernames exist.
        """
        async with self._sessions() as session:
            user = await session.scalar(
                select(User).where(User.username == username.strip().lower())
            )
        stored = user.password_hash if user is not None and user.password_hash else None
        ok = await asyncio.to_thread(self._verify, stored or await self._dummy_hash(), password)
        if user is None or stored is None or not ok or not user.active:
            raise InvalidCredentials("wrong username or password")
        async with self._sessions.begin() as session:
            row = await session.get(User, user.id)
            assert row is not None
            row.last_login_at = utcnow()
            if self._hasher.check_needs_rehash(stored):
                row.password_hash = await asyncio.to_thread(self._hasher.hash, password)
            return user_view(row)

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def change_password(
        self,
        user_id: str,
        new_password: str,
        *,
        old_password: str | None = None,
        actor: Actor = SYSTEM,
    ) -> None:
        """Set a new password; a user changing their own passes ``old_password``."""
        _check_password(new_password)
        user = await self._get(user_id)
        if old_password is not None:
            stored = user.password_hash or await self._dummy_hash()
            if not await asyncio.to_thread(self._verify, stored, old_password):
                raise InvalidCredentials("current password is wrong")
        new_hash = await asyncio.to_thread(self._hasher.hash, new_password)
        async with self._sessions.begin() as session:
            row = await session.get(User, user_id)
            assert row is not None
            row.password_hash = new_hash
            row.updated_at = utcnow()
            add_audit(session, actor, "change_password", "user", user_id)

    async def update_user(
        self, user_id: str, changes: Mapping[str, Any], *, actor: Actor = SYSTEM
    ) -> UserView:
        allowed = {"display_name", "email", "role", "active", "endpoint", "skills", "teams"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ValidationFailed(
                "unknown user fields", details={"fields": dict.fromkeys(unknown, "unknown field")}
            )
        if "role" in changes:
            _check_role(changes["role"])
        async with self._sessions.begin() as session:
            row = await session.get(User, user_id)
            if row is None:
                raise UserNotFound("no such user", details={"id": user_id})
            for key, value in changes.items():
                setattr(row, key, list(value) if key == "teams" else value)
            row.updated_at = utcnow()
            add_audit(session, actor, "update", "user", user_id, {"fields": sorted(changes)})
            await session.flush()
            return user_view(row)

    async def _get(self, user_id: str) -> User:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise UserNotFound("no such user", details={"id": user_id})
        return user

    async def get(self, user_id: str) -> UserView:
        return user_view(await self._get(user_id))

    async def get_by_username(self, username: str) -> UserView:
        async with self._sessions() as session:
            user = await session.scalar(
                select(User).where(User.username == username.strip().lower())
            )
        if user is None:
            raise UserNotFound("no such user", details={"username": username})
        return user_view(user)

    async def list_users(
        self,
        *,
        role: str | None = None,
        active: bool | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> Page[UserView]:
        limit, offset = clamp_page(limit, offset)
        conds = []
        if role is not None:
            conds.append(User.role == role)
        if active is not None:
            conds.append(User.active == active)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(User).where(*conds))
            rows = await session.scalars(
                select(User).where(*conds).order_by(User.username).limit(limit).offset(offset)
            )
            return Page([user_view(u) for u in rows], int(total or 0), limit, offset)

    # --- API tokens ----------------------------------------------------------------------
    async def create_token(
        self,
        name: str,
        *,
        scopes: Iterable[str] = (),
        user_id: str | None = None,
        expires_at: dt.datetime | None = None,
        actor: Actor = SYSTEM,
    ) -> tuple[str, TokenView]:
        """A new token: the plain text (show it once, it is not stored) and its record."""
        if not name.strip() or len(name) > 100:
            raise ValidationFailed(
                "token name is not acceptable", details={"fields": {"name": "1-100 characters"}}
            )
        if user_id is not None:
            await self._get(user_id)
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self._sessions.begin() as session:
            token = ApiToken(
                name=name.strip(),
                token_hash=hash_token(plain),
                prefix=plain[: len(TOKEN_PREFIX) + 6],
                scopes=sorted(set(scopes)),
                user_id=user_id,
                expires_at=expires_at,
            )
            session.add(token)
            await session.flush()
            add_audit(session, actor, "create", "api_token", token.id, {"scopes": token.scopes})
            return plain, token_view(token)

    async def verify_token(self, plain: str, *, now: dt.datetime | None = None) -> TokenView:
        """The token's record, or :class:`InvalidToken` if unknown, revoked or expired."""
        now = now or utcnow()
        if not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
            raise InvalidToken("invalid API token")
        async with self._sessions.begin() as session:
            token = await session.scalar(
                select(ApiToken).where(ApiToken.token_hash == hash_token(plain))
            )
            if token is None or token.revoked_at is not None:
                raise InvalidToken("invalid API token")
            if token.expires_at is not None and token.expires_at <= now:
                raise InvalidToken("API token has expired")
            if token.user_id is not None:
                owner = await session.get(User, token.user_id)
                if owner is None or not owner.active:
                    raise InvalidToken("invalid API token")
            if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_INTERVAL:
                token.last_used_at = now
            return token_view(token)

    async def revoke_token(self, token_id: str, *, actor: Actor = SYSTEM) -> TokenView:
        async with self._sessions.begin() as session:
            token = await session.get(ApiToken, token_id)
            if token is None:
                raise NotFound("no such API token", details={"id": token_id})
            if token.revoked_at is None:
                token.revoked_at = utcnow()
                add_audit(session, actor, "revoke", "api_token", token.id)
            return token_view(token)

    async def list_tokens(self, *, user_id: str | None = None) -> list[TokenView]:
        stmt = select(ApiToken).order_by(ApiToken.created_at)
        if user_id is not None:
            stmt = stmt.where(ApiToken.user_id == user_id)
        async with self._sessions() as session:
            return [token_view(t) for t in await session.scalars(stmt)]
