"""When the outbox retries: which database errors mean "not now" (retry with back-off) and
which mean "this record cannot be written" (dead-letter it), and the back-off itself."""

from __future__ import annotations

import random
from collections.abc import Iterator

from sqlalchemy import exc as sa_exc

# SQLSTATE classes that mean "the server is not there / not now", not "this row is wrong":
# 08 connection exception, 40 transaction rollback (serialisation, deadlock), 53 insufficient
# resources, 57 operator intervention (shutdown), 58 system error.
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def is_connectivity_error(exc: BaseException) -> bool:
    """True when ``exc`` says the main database is unreachable or busy (retry later), False
    when it says the record itself cannot be written (dead-letter it)."""
    for e in _chain(exc):
        if isinstance(e, sa_exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(e, OSError | TimeoutError | sa_exc.TimeoutError | sa_exc.DisconnectionError):
            return True
        sqlstate = getattr(e, "sqlstate", None)
        if isinstance(sqlstate, str) and len(sqlstate) == 5:
            return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES
    # SQLite reports "database is locked" / "unable to open database file" as OperationalError;
    # so does asyncpg's adapter for lost connections without a SQLSTATE.
    return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)


class Backoff:
    """Capped exponential back-off with full jitter (the shape of redis-py's ``Retry``)."""

    def __init__(self, base: float = 0.05, cap: float = 5.0, factor: float = 2.0) -> None:
        self.base, self.cap, self.factor = base, cap, factor
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * self.factor**self.attempt)
        self.attempt += 1
        return ceiling / 2 + random.random() * ceiling / 2

    def reset(self) -> None:
        self.attempt = 0
