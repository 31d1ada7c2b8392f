"""One page of a listing, with the total so a client can page through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

DEFAULT_LIMIT = 25
MAX_LIMIT = 500


def clamp_page(limit: int, offset: int) -> tuple[int, int]:
    """Bound client-supplied paging so one request cannot ask for the whole table."""
    return max(1, min(limit, MAX_LIMIT)), max(0, offset)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total

    def to_json(self, item_to_json: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
        return {
            "items": [item_to_json(i) for i in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
        }
