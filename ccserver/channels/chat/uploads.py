"""Files in the web chat, the way Genesys and Twilio Flex webchat do it: the widget uploads
over HTTP (``POST /chat/upload``, see ``files_http.py``) with the chat's id and resume token,
the bytes stream to disk through the complaint attachments' :class:`AttachmentStore`, and the
file becomes a chat line ``{kind: "file", file: {id, name, content_type, size, url}}`` for the
customer, the agent, the watchers and the ``messages`` table (its ``attachments`` column).

Limits come from :class:`ChatOptions`: bytes per file (413), files per chat (409), allowed
types (415, ``file_types.py``), uploads per chat and minute (429). A refused or interrupted
upload leaves nothing on disk: the store removes its partial file, and a file refused after
it was stored (the chat ended meanwhile) is removed here.

Agents download through ``GET /api/v1/interactions/{id}/files/{file_id}``: the agent of that
chat, or a supervisor / admin. While the chat is live its files are known in memory (the
``messages`` row may still be in the outbox); afterwards the CRM rows say which file belongs
to which interaction and agent.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.channels.chat.file_types import checked, type_of
from ccserver.channels.chat.service import ChatOptions, ChatService
from ccserver.channels.chat.session import ChatSession, TokenBucket
from ccserver.crm.attachments import AttachmentStore, safe_name
from ccserver.crm.models import Contact, Message
from ccserver.errors import AuthError, Conflict, Forbidden, NotFound, RateLimited

# A customer can attach files from the end of the pre-chat form (IVR) until the chat ends.
ACTIVE_STATES = frozenset({"ivr", "queued", "connected"})


class UnknownChat(AuthError):
    """No chat with this id and resume token (one answer for both: no probing of ids)."""

    code = "unknown_chat"


class ChatNotActive(Conflict):
    code = "chat_not_active"


class TooManyFiles(Conflict):
    code = "too_many_files"


def file_url(interaction_id: str, file_id: str) -> str:
    return f"/api/v1/interactions/{interaction_id}/files/{file_id}"


def widget_limits(options: ChatOptions) -> dict[str, Any]:
    """What the widget needs to refuse a file before sending it (the server still checks)."""
    return {
        "max_bytes": options.max_file_bytes,
        "max_files": options.max_files,
        "accept": ",".join("." + ext for ext in options.file_types),
    }


class ChatUploads:
    def __init__(
        self, chat: ChatService, root: Path, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.chat = chat
        self.options = chat.options
        self.store = AttachmentStore(root, self.options.max_file_bytes)
        self.sessions = sessions

    # --- the customer ---------------------------------------------------------------------
    def authenticate(self, chat_id: str, token: str) -> ChatSession:
        s = self.chat.sessions.get(chat_id)
        if s is None or not hmac.compare_digest(token.encode(), s.token.encode()):
            raise UnknownChat("this chat is unknown or over; start a new one")
        return s

    async def accept(
        self, s: ChatSession, name: str, chunks: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        """Check the limits, stream the file to disk and post it as the customer's line."""
        if s.state not in ACTIVE_STATES:
            raise ChatNotActive("files can be sent only during an active chat")
        self._take_upload_token(s)
        if len(s.files) + s.uploading >= self.options.max_files:
            raise TooManyFiles(
                f"a chat takes at most {self.options.max_files} files",
                details={"limit": self.options.max_files},
            )
        ext, content_type = type_of(safe_name(name), self.options.file_types)
        owner = s.id  # the leg the file arrived on (a transfer starts a new one)
        s.uploading += 1  # reserved now: concurrent uploads cannot pass the count together
        try:
            stored = await self.store.save(owner, name, content_type, checked(chunks, ext))
        finally:
            s.uploading -= 1
        if s.state not in ACTIVE_STATES or s.id != owner:
            await self.store.remove(owner, stored.id)
            raise ChatNotActive("the chat ended (or moved) while the file was being sent")
        entry = {**stored.to_json(), "interaction_id": owner}
        public = {
            "id": stored.id,
            "name": stored.name,
            "content_type": stored.content_type,
            "size": stored.size,
            "url": file_url(owner, stored.id),
        }
        now = self.chat.cc.clock()
        async with s.lock:
            s.files[stored.id] = entry
            line = s.add_line("customer", stored.name, now, kind="file", file=public)
            seq = await s.emit("msg", {**line, "interaction_id": s.id})
            s.last_customer_seq = seq
        await self.chat.writer.write(
            s.contact_id, "inbound", stored.name, sender="customer",
            headers={"kind": "file"}, attachments=[entry],
        )  # fmt: skip
        await self.chat.share_line(s, line)
        return {**public, "seq": seq}

    def _take_upload_token(self, s: ChatSession) -> None:
        now = self.chat.cc.clock()
        rate = self.options.uploads_per_minute / 60.0
        if s.upload_bucket is None:
            s.upload_bucket = TokenBucket(rate, self.options.upload_burst, now)
        if not s.upload_bucket.take(now):
            wait = math.ceil((1.0 - s.upload_bucket.tokens) / rate) if rate > 0 else 60
            raise RateLimited(
                f"too many files at once; try again in {wait} s",
                details={"retry_after_s": wait},
            )

    # --- the agent ------------------------------------------------------------------------
    async def find(
        self, interaction_id: str, file_id: str, user_id: str, *, supervisor: bool
    ) -> tuple[dict[str, Any], Path]:
        """The stored file's entry and path, if ``user_id`` may download it: the agent of
        the chat (live) or of the interaction (in the CRM), or any supervisor."""
        path = self.store.path(interaction_id, file_id)  # NotFound for ids that are not ids
        entry, agents = self._live(interaction_id, file_id)
        if entry is None or not (supervisor or user_id in agents):
            found, past_agents = await self._recorded(interaction_id, file_id)
            entry, agents = entry or found, agents | past_agents
        if entry is None or not path.is_file():
            raise NotFound("no such file")
        if not (supervisor or user_id in agents):
            raise Forbidden("this file belongs to a chat you did not handle")
        return entry, path

    def _live(self, interaction_id: str, file_id: str) -> tuple[dict[str, Any] | None, set[str]]:
        for s in self.chat.sessions.values():
            entry = s.files.get(file_id)
            if entry is not None and entry["interaction_id"] == interaction_id:
                return entry, {s.agent_id} if s.agent_id else set()
        return None, set()

    async def _recorded(
        self, interaction_id: str, file_id: str
    ) -> tuple[dict[str, Any] | None, set[str]]:
        query = (
            select(Message.attachments, Contact.agent_id)
            .join(Contact, Contact.id == Message.contact_id)
            .where(Contact.interaction_id == interaction_id, Contact.channel == "chat")
            .where(Message.direction == "inbound")
        )
        found: dict[str, Any] | None = None
        agents: set[str] = set()
        async with self.sessions() as db:
            for attachments, agent_id in (await db.execute(query)).all():
                if agent_id:
                    agents.add(agent_id)
                for a in attachments or []:
                    if isinstance(a, dict) and a.get("id") == file_id:
                        found = dict(a)
        return found, agents
