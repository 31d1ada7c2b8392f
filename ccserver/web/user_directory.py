"""Auth's view of the CRM users table (ccserver.crm.users does hashing and tokens)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.errors import InvalidCredentials, InvalidToken, UserNotFound
from ccserver.crm.models import User
from ccserver.crm.users import UserService
from ccserver.runtime.contact_center import AgentInfo
from ccserver.web.auth import UserRecord


def _record(u: User) -> UserRecord:
    return UserRecord(u.id, u.username, u.display_name, u.role, u.active, u.password_hash or "")


class CrmUserDirectory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self.users = UserService(sessions)

    async def get_user(self, user_id: str) -> UserRecord | None:
        async with self._sessions() as s:
            u = await s.get(User, user_id)
            return _record(u) if u is not None else None

    async def authenticate(self, username: str, password: str) -> UserRecord | None:
        try:
            view = await self.users.verify_password(username, password)
        except (InvalidCredentials, UserNotFound):
            return None
        return await self.get_user(view.id)

    async def verify_token(self, token: str) -> tuple[UserRecord, frozenset[str]] | None:
        try:
            view = await self.users.verify_token(token)
        except (InvalidToken, UserNotFound):
            return None
        if view.user_id is None:
            return None
        owner = await self.get_user(view.user_id)
        return (owner, frozenset(view.scopes)) if owner is not None else None

    async def touch_login(self, user_id: str) -> None:
        """verify_password already stamps last_login_at; nothing more to do."""


async def agent_profile(sessions: async_sessionmaker[AsyncSession], user_id: str) -> AgentInfo:
    """The routing profile of a user: endpoint, skills with integer levels. Queues are left
    empty (= every queue) unless the user's skills name queues under ``queue.<name>``."""
    async with sessions() as s:
        u = await s.get(User, user_id)
        if u is None:
            raise UserNotFound(f"no user {user_id}")
        skills = {str(k): int(v) for k, v in (u.skills or {}).items() if isinstance(v, int | float)}
        queues = frozenset(k.removeprefix("queue.") for k in skills if k.startswith("queue."))
        return AgentInfo(
            u.id,
            u.username,
            u.display_name,
            u.endpoint,
            {k: v for k, v in skills.items() if not k.startswith("queue.")},
            queues,
        )
