"""Files in the web chat, the way Genesys and Twilio Flex webchat do it: the widget uploads
over HTTP (``POST /chat/upload``, see ``files_http.py``) with the chat's id and resume token,
the bytes stream to disk through the complaint attachments' :class:`AttachmentStore`, and the
file becomes a chat line ``{kind: "file", file: {id, name, content_type, size, url}}`` for the
customer, the agent, the watchers and the ``messages`` table (its ``attachments`` column).

Limits come from :class:`ChatOptions`: bytes per file (413), files per chat (409), allowed
types (415, ``file_types.py``), uploads per chat and minute (429). A refused or interrupted
upload leaves nothing on disk: the store removes its partial file, and a file refused after
it was stored (the chat ended meanwhile) is removed here.

The agent sends a file the same way (``POST /api/v1/interactions/{id}/files``): the same
types and size, counted in the same per-chat limit, an ``outbound`` messages row. The customer
downloads any file of the chat by POSTing the chat id and resume token to
``/chat/files/{file_id}`` (the ``url`` of the widget's file lines): the token never sits in a
URL (access logs, history, Referer) and no cookie is involved.

Agents download through ``GET /api/v1/interactions/{id}/files/{file_id}``: the agent of that
chat, an agent who took it over after a transfer, or a supervisor / admin. While the chat is
live its files are known in memory (the ``messages`` row may still be in the outbox);
afterwards the CRM rows say which file belongs to which interaction and agent, and each
transferred leg's contact names the one before it (``related_contact_id``).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.channels.chat.file_types import checked, type_of
from ccserver.channels.chat.options import ChatOptions
from ccserver.channels.chat.service import ChatService
from ccserver.channels.chat.session import ChatSession, TokenBucket, find_chat
from ccserver.crm.attachments import AttachmentStore, StoredAttachment, safe_name
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


class NotYourChat(Forbidden):
    """An agent sending a file into a chat another agent (or nobody) is handling."""

    code = "not_your_chat"


# A chat transferred more often than this is not followed further when looking for the
# agents who handled it (a bound on the queries, far above any real conversation).
MAX_LEGS = 50


def file_url(interaction_id: str, file_id: str) -> str:
    return f"/api/v1/interactions/{interaction_id}/files/{file_id}"


def customer_file_url(file_id: str) -> str:
    return f"/chat/files/{file_id}"


def for_widget(line: dict[str, Any]) -> dict[str, Any]:
    """A file line as the widget gets it: its url is the customer's download route (the
    console's route would ask for a login the customer does not have)."""
    return {**line, "file": {**line["file"], "url": customer_file_url(line["file"]["id"])}}


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
    def authenticate(self, chat_id: object, token: object) -> ChatSession:
        s = find_chat(self.chat.sessions, chat_id, token)
        if s is None:
            raise UnknownChat("this chat is unknown or over; start a new one")
        return s

    async def accept(
        self, s: ChatSession, name: str, chunks: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        """Check the limits, stream the file to disk and post it as the customer's line."""
        if s.state not in ACTIVE_STATES:
            raise ChatNotActive("files can be sent only during an active chat")
        self._take_upload_token(s)
        stored, owner = await self._store(s, name, chunks, lambda: s.state in ACTIVE_STATES)
        entry, public = _entry(stored, owner)
        now = self.chat.cc.clock()
        async with s.lock:
            s.files[stored.id] = entry
            line = s.add_line("customer", stored.name, now, kind="file", file=public)
            seq = await s.emit("msg", {**for_widget(line), "interaction_id": s.id})
            s.last_customer_seq = seq
        await self.chat.writer.write(
            s.contact_id, "inbound", stored.name, sender="customer",
            headers={"kind": "file"}, attachments=[entry],
        )  # fmt: skip
        await self.chat.share_line(s, line)
        return {**public, "seq": seq}

    def customer_file(self, s: ChatSession, file_id: str) -> tuple[dict[str, Any], Path]:
        """A file of the customer's own chat (either side sent it, on any of its legs)."""
        entry = s.files.get(file_id)
        if entry is None:
            raise NotFound("no such file in this chat")
        path = self.store.path(str(entry["interaction_id"]), file_id)
        if not path.is_file():
            raise NotFound("no such file in this chat")
        return entry, path

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

    async def _store(
        self, s: ChatSession, name: str, chunks: AsyncIterator[bytes], still: Callable[[], bool]
    ) -> tuple[StoredAttachment, str]:
        """Count, type and size checks, then the bytes on disk under the current leg; a file
        whose chat ended, moved or changed hands meanwhile (``still`` false) is removed."""
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
        if s.id != owner or not still():
            await self.store.remove(owner, stored.id)
            raise ChatNotActive("the chat ended (or moved) while the file was being sent")
        return stored, owner

    # --- the agent ------------------------------------------------------------------------
    def agent_chat(self, interaction_id: str, user_id: str) -> ChatSession:
        """The live chat ``user_id`` is connected to as ``interaction_id`` (checked before a
        byte of the agent's file is read)."""
        s = self.chat.get(interaction_id)
        if s.agent_id != user_id:
            raise NotYourChat("this chat is not connected to you")
        if s.state != "connected":
            raise ChatNotActive("files can be sent only while the chat is connected")
        return s

    async def send_from_agent(
        self, s: ChatSession, user_id: str, display_name: str, name: str,
        chunks: AsyncIterator[bytes],
    ) -> dict[str, Any]:  # fmt: skip
        """The agent's file as their line: to the customer's widget, the watchers and an
        ``outbound`` messages row; the answer is the line (the console adds it itself)."""
        stored, owner = await self._store(
            s, name, chunks, lambda: s.agent_id == user_id and s.state == "connected"
        )
        entry, public = _entry(stored, owner)
        entry["by"] = user_id
        now = self.chat.cc.clock()
        async with s.lock:
            s.files[stored.id] = entry
            line = s.add_line("agent", stored.name, now, name=display_name, kind="file",
                              file=public)  # fmt: skip
            seq = await s.emit("msg", for_widget(line))
        await self.chat.writer.write(
            s.contact_id, "outbound", stored.name, sender=user_id,
            headers={"kind": "file"}, attachments=[entry],
        )  # fmt: skip
        await self.chat.share_line(s, line, to_agent=False)
        return {"seq": seq, **line}

    async def find(
        self, interaction_id: str, file_id: str, user_id: str, *, supervisor: bool
    ) -> tuple[dict[str, Any], Path]:
        """The stored file's entry and path, if ``user_id`` may download it: the agent of
        the chat (live) or of the interaction or a later leg of it (in the CRM), or any
        supervisor."""
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
        # The session's agent is the one on its current leg: after a transfer, the agent who
        # took the chat over reads the files sent before it.
        for s in self.chat.sessions.values():
            entry = s.files.get(file_id)
            if entry is not None and entry["interaction_id"] == interaction_id:
                return entry, {s.agent_id} if s.agent_id else set()
        return None, set()

    async def _recorded(
        self, interaction_id: str, file_id: str
    ) -> tuple[dict[str, Any] | None, set[str]]:
        legs = select(Contact.id, Contact.agent_id).where(Contact.channel == "chat")
        found: dict[str, Any] | None = None
        async with self.sessions() as db:
            rows = (await db.execute(legs.where(Contact.interaction_id == interaction_id))).all()
            contacts = [c for c, _ in rows]
            agents = {a for _, a in rows if a}
            messages = select(Message.attachments).where(
                Message.contact_id.in_(contacts), Message.direction.in_(("inbound", "outbound"))
            )
            for (attachments,) in (await db.execute(messages)).all() if contacts else []:
                for a in attachments or []:
                    if isinstance(a, dict) and a.get("id") == file_id:
                        found = dict(a)
            # The legs the chat was transferred to: their agents carried the conversation on.
            seen, frontier = set(contacts), contacts
            for _ in range(MAX_LEGS):
                if not frontier:
                    break
                later = (
                    await db.execute(legs.where(Contact.related_contact_id.in_(frontier)))
                ).all()
                frontier = [c for c, _ in later if c not in seen]
                seen.update(frontier)
                agents.update(a for c, a in later if a and c in frontier)
        return found, agents


def _entry(stored: StoredAttachment, owner: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The file as the messages row keeps it, and as chat lines show it."""
    entry = {**stored.to_json(), "interaction_id": owner}
    public = {
        "id": stored.id,
        "name": stored.name,
        "content_type": stored.content_type,
        "size": stored.size,
        "url": file_url(owner, stored.id),
    }
    return entry, public
