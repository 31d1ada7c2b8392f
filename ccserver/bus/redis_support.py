"""Pieces of the Redis bus that are not the bus itself: the Lua scripts that batch its hot
paths, the wire constants they share with it, and cancellation helpers for redis-py."""

from __future__ import annotations

import asyncio
import hashlib

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

FIELD = b"d"
WAKE_COUNT = 16
RECORD_SEP = b"\x1e"
FIELD_SEP = b"\x1f"

# KEYS: streams; ARGV: maxlen, '~' or '=', one payload per stream. Returns "id,id,...".
XADD_BATCH = """
local ids = {}
for i = 1, #KEYS do
  ids[i] = redis.call('XADD', KEYS[i], 'MAXLEN', ARGV[2], ARGV[1], '*', 'd', ARGV[i + 2])
end
return table.concat(ids, ',')
"""

# KEYS: streams; ARGV: total count, then the cursor of each stream (entries after it).
# Returns records "<key index>\x1f<id>\x1f<payload>" joined by \x1e; stops at the count.
READ_BATCH = r"""
local out = {}
local budget = tonumber(ARGV[1])
for i = 1, #KEYS do
  if #out >= budget then break end
  local entries = redis.call('XRANGE', KEYS[i], '(' .. ARGV[i + 1], '+', 'COUNT', budget - #out)
  for _, e in ipairs(entries) do
    local f = e[2]
    local payload = ''
    for j = 1, #f, 2 do
      if f[j] == 'd' then payload = f[j + 1] end
    end
    out[#out + 1] = i .. '\31' .. e[1] .. '\31' .. payload
  end
end
return table.concat(out, '\30')
"""


def raise_if_cancelling() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def reraise_if_cancelled(exc: BaseException) -> None:
    """redis-py can turn a cancellation mid-read into a connection/timeout error; a task
    being cancelled must still end, not treat that as a Redis failure and carry on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc


def sha1(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


def make_retry(retries: int, cap: float, base: float) -> Retry:
    return Retry(ExponentialBackoff(cap=cap, base=base), retries)
