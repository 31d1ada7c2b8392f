"""The routing lease, run over the in-memory and the Redis implementation."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from ccserver.bus.lease import (
    InMemoryLease,
    Lease,
    LeaseKeeper,
    MemoryLeaseStore,
    RedisLease,
)
from ccserver.errors import BusUnavailable

LeaseFactory = Callable[..., Any]


@pytest.fixture(params=["memory", "redis"])
async def make_lease(request: pytest.FixtureRequest) -> AsyncIterator[LeaseFactory]:
    """Factory of leases on one shared back end: each call is another node."""
    kind: str = request.param
    created: list[Any] = []
    store = MemoryLeaseStore()
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    prefix = f"ccs:test:{uuid.uuid4().hex[:12]}:lease:"

    def factory(owner: str, ttl: float = 0.3) -> Any:
        lease: Any
        if kind == "memory":
            lease = InMemoryLease("routing", owner=owner, ttl=ttl, store=store)
        else:
            lease = RedisLease(url, "routing", owner=owner, ttl=ttl, prefix=prefix)
        created.append(lease)
        return lease

    yield factory
    for lease in created:
        await lease.close()
    if kind == "redis":
        client = redis.Redis.from_url(url)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_one_holder_at_a_time(make_lease: LeaseFactory) -> None:
    a, b = make_lease("node-a"), make_lease("node-b")
    assert isinstance(a, Lease)
    assert a.token is None and not a.is_held()
    token = await a.acquire()
    assert token is not None and token >= 1
    assert a.is_held() and a.token == token
    assert await b.acquire() is None
    assert not b.is_held()
    # Acquiring again while holding keeps the same token (re-entrant for its owner).
    assert await a.acquire() == token
    assert await a.holder() == ("node-a", token)


async def test_renewal_keeps_the_lease_past_its_ttl(make_lease: LeaseFactory) -> None:
    a, b = make_lease("node-a", ttl=0.3), make_lease("node-b", ttl=0.3)
    await a.acquire()
    for _ in range(4):  # 0.6 s in total: twice the TTL
        await asyncio.sleep(0.15)
        assert await a.renew() is True
        assert await b.acquire() is None
    assert a.is_held()


async def test_release_hands_over_with_a_higher_token(make_lease: LeaseFactory) -> None:
    a, b = make_lease("node-a"), make_lease("node-b")
    first = await a.acquire()
    assert await a.release() is True
    assert not a.is_held()
    assert await a.release() is False  # nothing left to release
    second = await b.acquire()
    assert first is not None and second is not None and second > first


async def test_fencing_tokens_strictly_increase_over_handovers(
    make_lease: LeaseFactory,
) -> None:
    nodes = [make_lease(f"node-{i}") for i in range(3)]
    tokens: list[int] = []
    for round_ in range(9):
        node = nodes[round_ % 3]
        token = await node.acquire()
        assert token is not None
        tokens.append(token)
        assert await node.release()
    assert all(later > earlier for earlier, later in itertools.pairwise(tokens))


async def test_expired_holder_cannot_renew_or_release_the_new_holding(
    make_lease: LeaseFactory,
) -> None:
    a, b = make_lease("node-a", ttl=0.2), make_lease("node-b", ttl=0.2)
    old = await a.acquire()
    await asyncio.sleep(0.3)  # a "pauses" past its TTL
    assert not a.is_held()  # local belief expires without asking the server
    new = await b.acquire()
    assert old is not None and new is not None and new > old
    assert await a.renew() is False
    assert await a.release() is False
    assert await b.holder() == ("node-b", new)
    assert b.is_held()


async def test_keeper_fails_over_when_the_leader_stops_renewing(
    make_lease: LeaseFactory,
) -> None:
    gained: list[tuple[str, int]] = []
    # TTL 1 s: renewals every ~0.33 s stay on time even on a loaded CI machine.
    a = LeaseKeeper(make_lease("node-a", ttl=1.0), on_acquired=lambda t: gained.append(("a", t)))
    b = LeaseKeeper(make_lease("node-b", ttl=1.0), on_acquired=lambda t: gained.append(("b", t)))
    try:
        await a.start()
        token_a = await asyncio.wait_for(a.wait_leader(), 5)
        await b.start()
        await asyncio.sleep(1.5)  # past one TTL: a keeps renewing, b stays standby
        assert a.is_leader and not b.is_leader
        await a.stop(release=False)  # a crashes: no release, renewals stop
        token_b = await asyncio.wait_for(b.wait_leader(), 5)
        assert token_b > token_a
        assert gained == [("a", token_a), ("b", token_b)]
        assert not a.is_leader
    finally:
        await a.stop(release=False)
        await b.stop()


async def test_keeper_reports_loss_and_returns_to_standby(make_lease: LeaseFactory) -> None:
    lost = asyncio.Event()
    lost_tokens: list[int] = []

    def on_lost(token: int) -> None:
        lost_tokens.append(token)
        lost.set()

    lease_a = make_lease("node-a")
    keeper = LeaseKeeper(lease_a, on_lost=on_lost)
    await keeper.start()
    token = await asyncio.wait_for(keeper.wait_leader(), 2)
    # Someone else takes over behind the keeper's back (e.g. after a long pause).
    assert await lease_a.release()
    thief = make_lease("node-b", ttl=5.0)
    assert await thief.acquire() is not None
    await asyncio.wait_for(lost.wait(), 2)
    assert lost_tokens == [token]
    assert not keeper.is_leader and keeper.token is None
    assert keeper.losses == 1
    # Standby again: it takes the lease back once the other node lets go.
    await thief.release()
    again = await asyncio.wait_for(keeper.wait_leader(), 2)
    assert again > token
    await keeper.stop()
    assert await thief.acquire() is not None  # stop() released it at once


async def test_redis_lease_when_redis_is_down(unused_port: int) -> None:
    lease = RedisLease(f"redis://127.0.0.1:{unused_port}/0", ttl=0.3, retries=1)
    with pytest.raises(BusUnavailable):
        await lease.acquire()
    assert not lease.is_held()
    keeper = LeaseKeeper(lease)
    await keeper.start()
    await asyncio.sleep(0.25)  # the keeper keeps trying without crashing
    assert not keeper.is_leader
    await keeper.stop()
    await lease.close()


def test_in_memory_lease_follows_the_store_clock() -> None:
    now = [100.0]
    store = MemoryLeaseStore(clock=lambda: now[0])
    a = InMemoryLease(owner="a", ttl=10, store=store)
    b = InMemoryLease(owner="b", ttl=10, store=store)

    async def scenario() -> None:
        assert await a.acquire() == 1
        now[0] += 8.9
        assert a.is_held()  # inside ttl * (1 - drift)
        now[0] += 0.2
        assert not a.is_held()  # local belief ends before the store's expiry...
        assert await b.acquire() is None  # ...which has not come yet
        now[0] += 1.0
        assert await b.acquire() == 2

    asyncio.run(scenario())


def test_invalid_lease_settings() -> None:
    with pytest.raises(ValueError):
        InMemoryLease(ttl=0)
    with pytest.raises(ValueError):
        RedisLease("redis://127.0.0.1:1/0", owner="a|b")
