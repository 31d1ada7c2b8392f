"""Options of the web chat (``[chat]`` in channels.toml)."""

from __future__ import annotations

from dataclasses import dataclass

from ccserver.channels.chat.file_types import DEFAULT_FILE_TYPES, allowed_types


@dataclass(frozen=True, slots=True)
class ChatOptions:
    default_queue: str = "general"
    flow: str = "main"
    rate_per_s: float = 1.0  # sustained customer messages per second
    burst: float = 8.0
    max_sessions: int = 5000
    abandon_after_s: float = 120.0  # no widget attached this long: the customer left
    # New chats per client IP per window (an office behind one NAT shares an address).
    max_starts_per_ip: int = 60
    starts_window_s: float = 600.0
    # Files the customer attaches (chat/uploads.py): size, count per chat, the allowed
    # extensions (only from file_types.FILE_TYPES: never HTML, SVG or executables) and a
    # per-chat upload rate (burst, then so many a minute).
    max_file_bytes: int = 10 * 1024 * 1024
    max_files: int = 10
    file_types: tuple[str, ...] = DEFAULT_FILE_TYPES
    uploads_per_minute: float = 6.0
    upload_burst: float = 3.0

    def __post_init__(self) -> None:
        # channels.toml gives a list: keep a checked tuple (the options stay hashable).
        object.__setattr__(self, "file_types", allowed_types(self.file_types))
