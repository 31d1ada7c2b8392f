"""Files attached to complaints: stored under the data directory (not in the database),
bounded in size and count, named by a generated id so a client-chosen name never becomes
a path. The complaint row keeps the list ``{id, name, content_type, size, sha256, at, by}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.audit import Actor, add_audit
from ccserver.crm.models import Complaint, utcnow
from ccserver.domain import new_id
from ccserver.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed

_ID = re.compile(r"^[0-9a-f-]{36}$")


def safe_name(name: str) -> str:
    """A display name without path parts or control characters (kept for the download)."""
    # Clients may percent-encode the multipart filename (aiohttp does): decode, then drop
    # any directory part, whichever separator it uses.
    base = unicodedata.normalize("NFC", unquote(name)).replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>|*?:')
    return cleaned.strip(" .")[:200] or "attachment"


@dataclass(frozen=True)
class StoredAttachment:
    id: str
    name: str
    content_type: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class AttachmentStore:
    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def path(self, owner: str, attachment_id: str) -> Path:
        if not _ID.match(attachment_id) or not _ID.match(owner):
            raise NotFound("no such attachment")
        return self.root / owner / attachment_id

    async def save(
        self, owner: str, name: str, content_type: str, chunks: AsyncIterator[bytes]
    ) -> StoredAttachment:
        """Stream ``chunks`` to disk; over ``max_bytes`` the partial file is removed and
        PayloadTooLarge (413) raised."""
        attachment_id = new_id()
        target = self.path(owner, attachment_id)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        digest, size = hashlib.sha256(), 0
        fh = await asyncio.to_thread(open, tmp, "wb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_bytes:
                    raise PayloadTooLarge(
                        f"attachment is larger than {self.max_bytes} bytes",
                        details={"limit_bytes": self.max_bytes},
                    )
                digest.update(chunk)
                await asyncio.to_thread(fh.write, chunk)
            await asyncio.to_thread(fh.flush)
            await asyncio.to_thread(os.fsync, fh.fileno())
        except BaseException:
            fh.close()
            tmp.unlink(missing_ok=True)
            raise
        fh.close()
        if size == 0:
            tmp.unlink(missing_ok=True)
            raise ValidationFailed("the attachment is empty")
        await asyncio.to_thread(os.replace, tmp, target)
        ctype = content_type if re.fullmatch(r"[\w.+-]+/[\w.+-]+", content_type) else ""
        return StoredAttachment(
            attachment_id, safe_name(name), ctype or "application/octet-stream", size,
            digest.hexdigest(),
        )  # fmt: skip

    async def remove(self, owner: str, attachment_id: str) -> None:
        """Delete a stored file (a caller refusing it after it was stored); absent is fine."""
        await asyncio.to_thread(self.path(owner, attachment_id).unlink, missing_ok=True)


async def attach_to_complaint(
    sessions: async_sessionmaker[AsyncSession],
    complaint_id: str,
    stored: StoredAttachment,
    actor: Actor,
    max_count: int,
) -> dict[str, Any]:
    """Record the stored file on the complaint (audited); refuses past ``max_count``."""
    async with sessions.begin() as session:
        row = await session.get(Complaint, complaint_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no complaint {complaint_id}")
        current = list(row.attachments or [])
        if len(current) >= max_count:
            raise Conflict(
                f"a complaint keeps at most {max_count} attachments",
                details={"limit": max_count},
            )
        entry = {**stored.to_json(), "at": utcnow().isoformat(), "by": actor.id}
        row.attachments = [*current, entry]
        row.updated_at = utcnow()
        add_audit(
            session,
            actor,
            "attach",
            "complaint",
            complaint_id,
            {"attachment_id": stored.id, "name": stored.name, "size": stored.size},
        )
        return entry


async def find_attachment(
    sessions: async_sessionmaker[AsyncSession], complaint_id: str, attachment_id: str
) -> dict[str, Any]:
    async with sessions() as session:
        row = await session.get(Complaint, complaint_id)
        for entry in (row.attachments or []) if row is not None else []:
            if entry.get("id") == attachment_id:
                return dict(entry)
    raise NotFound("no such attachment")
