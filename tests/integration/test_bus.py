"""One behavioural suite run over every EventBus implementation (in-memory and Redis)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as redis

from ccserver.bus import (
    BusClosed,
    BusMessage,
    BusPayloadInvalid,
    BusPayloadTooLarge,
    BusUnavailable,
    EventBus,
    InMemoryBus,
    InMemoryLease,
    InvalidEventId,
    InvalidTopic,
    SubscriberLagged,
    Subscription,
    create_bus,
    create_lease,
)
from ccserver.bus.redis_streams import RedisBus
from ccserver.errors import ConfigError, PayloadTooLarge

BusFactory = Callable[..., Awaitable[Any]]


async def _delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Factory of started buses. On Redis every bus of one test shares a unique prefix, so
    two buses are two nodes of one site; on memory the factory returns the same bus."""
    kind: str = request.param
    created: list[Any] = []
    url = request.getfixturevalue("redis_url") if kind == "redis" else ""
    prefix = f"ccs:test:{uuid.uuid4().hex[:12]}:"

    async def factory(**kwargs: Any) -> Any:
        if kind == "memory":
            if created:
                return created[0]
            bus: Any = InMemoryBus(**kwargs)
        else:
            bus = RedisBus(url, prefix=prefix, **kwargs)
        await bus.start()
        created.append(bus)
        return bus

    factory.kind = kind  # type: ignore[attr-defined]
    yield factory
    for bus in created:
        await bus.close()
    if kind == "redis":
        await _delete_prefix(url, prefix)


async def take(sub: Subscription, n: int, within: float = 5.0) -> list[BusMessage]:
    out: list[BusMessage] = []
    async with asyncio.timeout(within):
        while len(out) < n:
            out.append(await anext(sub))
    return out


async def nothing_within(sub: Subscription, seconds: float = 0.2) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await anext(sub)
    except TimeoutError:
        return True
    return False


def key(event_id: str) -> tuple[int, int]:
    ms, _, seq = event_id.partition("-")
    return int(ms), int(seq)


async def test_implements_protocol(make_bus: BusFactory) -> None:
    bus = await make_bus()
    assert isinstance(bus, EventBus)
    assert await bus.ping() is True


async def test_publish_subscribe_in_order(make_bus: BusFactory) -> None:
    bus = await make_bus()
    async with bus.subscribe(["agent.7"]) as sub:
        ids = [await bus.publish("agent.7", {"n": i, "text": "é"}) for i in range(200)]
        got = await take(sub, 200)
    assert [m.id for m in got] == ids
    assert [m.data for m in got] == [{"n": i, "text": "é"} for i in range(200)]
    assert all(m.topic == "agent.7" for m in got)
    assert [key(i) for i in ids] == sorted(key(i) for i in ids)
    assert len(set(ids)) == 200
    assert all(abs(m.published_at - got[0].published_at) < 60 for m in got)


async def test_subscriber_sees_only_its_topics_and_only_new_messages(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus()
    await bus.publish("queue.stats", {"before": True})
    async with bus.subscribe(["queue.stats", "supervisor.alerts"]) as sub:
        await bus.publish("agent.1", {"other": True})
        a = await bus.publish("queue.stats", {"q": 1})
        b = await bus.publish("supervisor.alerts", {"alert": "x"})
        got = await take(sub, 2)
        assert [(m.id, m.topic) for m in got] == [(a, "queue.stats"), (b, "supervisor.alerts")]
        assert await nothing_within(sub)


async def test_multiple_subscribers_each_get_everything(make_bus: BusFactory) -> None:
    bus = await make_bus()
    async with (
        bus.subscribe(["interaction.1"]) as s1,
        bus.subscribe(["interaction.1"]) as s2,
        bus.subscribe(["interaction.1", "interaction.2"]) as s3,
    ):
        ids = [await bus.publish("interaction.1", {"i": i}) for i in range(20)]
        other = await bus.publish("interaction.2", {"i": 99})
        assert [m.id for m in await take(s1, 20)] == ids
        assert [m.id for m in await take(s2, 20)] == ids
        assert [m.id for m in await take(s3, 21)] == [*ids, other]


async def test_publisher_mutation_after_publish_does_not_leak(make_bus: BusFactory) -> None:
    bus = await make_bus()
    async with bus.subscribe(["agent.1"]) as sub:
        payload: dict[str, Any] = {"items": [1]}
        await bus.publish("agent.1", payload)
        payload["items"].append(2)
        (msg,) = await take(sub, 1)
    assert msg.data == {"items": [1]}


async def test_resume_from_id_replays_history_then_live_without_gaps(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus()
    ids = [await bus.publish("agent.9", {"n": i}) for i in range(10)]
    async with bus.subscribe(["agent.9"], from_id=ids[4]) as sub:
        replayed = await take(sub, 5)
        live = await bus.publish("agent.9", {"n": 10})
        (after,) = await take(sub, 1)
        assert await nothing_within(sub)
    assert [m.id for m in replayed] == ids[5:]
    assert [m.data["n"] for m in replayed] == [5, 6, 7, 8, 9]
    assert after.id == live
    assert sub.last_ids == {"agent.9": live}


async def test_resume_from_zero_replays_every_topic_in_order(make_bus: BusFactory) -> None:
    bus = await make_bus()
    ids = []
    for i in range(6):
        ids.append(await bus.publish("agent.1" if i % 2 else "agent.2", {"n": i}))
    async with bus.subscribe(["agent.1", "agent.2"], from_id="0") as sub:
        got = await take(sub, 6)
    # Order is guaranteed per topic; across topics, by millisecond (Redis numbers each
    # stream on its own, so two topics can share an id's millisecond).
    assert sorted(m.data["n"] for m in got) == list(range(6))
    assert [m.data["n"] for m in got if m.topic == "agent.1"] == [1, 3, 5]
    assert [m.data["n"] for m in got if m.topic == "agent.2"] == [0, 2, 4]
    assert [key(m.id)[0] for m in got] == sorted(key(m.id)[0] for m in got)


async def test_read_since_pages_through_history(make_bus: BusFactory) -> None:
    bus = await make_bus()
    ids = [await bus.publish("queue.stats", {"n": i}) for i in range(25)]
    first = await bus.read_since("queue.stats", None, 10)
    assert [m.id for m in first] == ids[:10]
    second = await bus.read_since("queue.stats", first[-1].id, 10)
    assert [m.id for m in second] == ids[10:20]
    rest = await bus.read_since("queue.stats", second[-1].id, 100)
    assert [m.data["n"] for m in rest] == list(range(20, 25))
    assert await bus.read_since("queue.stats", ids[-1], 10) == []
    assert await bus.read_since("never.published", None, 10) == []
    assert await bus.read_since("queue.stats", None, 0) == []


async def test_history_is_bounded_to_the_newest_messages(make_bus: BusFactory) -> None:
    maxlen = 100
    bus = await make_bus(history_maxlen=maxlen)
    ids = [await bus.publish("queue.stats", {"n": i}) for i in range(450)]
    kept = await bus.read_since("queue.stats", None, 10_000)
    # Redis trims with MAXLEN ~ (whole 100-entry stream nodes), so it may keep up to one
    # node more than asked; the in-memory ring is exact.
    slack = 0 if make_bus.kind == "memory" else 100  # type: ignore[attr-defined]
    assert maxlen <= len(kept) <= maxlen + slack
    assert [m.id for m in kept] == ids[-len(kept) :]


async def test_slow_subscriber_is_detached_not_buffered_without_bound(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus(queue_size=5)
    async with bus.subscribe(["agent.1"]) as fast, bus.subscribe(["agent.1"]) as slow:
        ids = []
        fast_got: list[BusMessage] = []
        for i in range(20):
            ids.append(await bus.publish("agent.1", {"n": i}))
            # The fast consumer keeps up (reads as it goes); the slow one never reads.
            fast_got.extend(await take(fast, 1))
        assert [m.id for m in fast_got] == ids
        assert slow.lagging
        assert not fast.lagging
        assert slow.pending == 5
        delivered = [m.id for m in await take(slow, 5)]
        assert delivered == ids[:5]
        with pytest.raises(SubscriberLagged) as info:
            await anext(slow)
        assert info.value.last_ids == {"agent.1": ids[4]}
        assert info.value.code == "bus_subscriber_lagged"
    # The documented recovery: resume from the last delivered id using the history.
    async with bus.subscribe(["agent.1"], from_id=ids[4]) as again:
        assert [m.id for m in await take(again, 15)] == ids[5:]


async def test_cancelled_reader_loses_nothing(make_bus: BusFactory) -> None:
    bus = await make_bus()
    async with bus.subscribe(["agent.3"]) as sub:
        waiter = asyncio.create_task(anext(sub))
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        event_id = await bus.publish("agent.3", {"x": 1})
        (msg,) = await take(sub, 1)
    assert msg.id == event_id


async def test_exiting_subscription_stops_delivery(make_bus: BusFactory) -> None:
    bus = await make_bus()
    sub = bus.subscribe(["agent.4"])
    with pytest.raises(RuntimeError):
        await anext(sub)  # not entered yet
    async with sub:
        await bus.publish("agent.4", {"x": 1})
        await take(sub, 1)
    assert sub.closed
    await bus.publish("agent.4", {"x": 2})
    with pytest.raises(StopAsyncIteration):
        await anext(sub)
    with pytest.raises(RuntimeError):
        async with sub:
            pass


async def test_close_ends_subscriptions_and_leaves_no_tasks(make_bus: BusFactory) -> None:
    bus = await make_bus()
    sub = bus.subscribe(["agent.5"])
    await sub.__aenter__()
    consumer = asyncio.create_task(take(sub, 1_000))
    await asyncio.sleep(0.05)
    await bus.close()
    await bus.close()  # idempotent
    with pytest.raises(StopAsyncIteration):
        await consumer
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert await bus.ping() is False
    with pytest.raises(BusClosed):
        await bus.publish("agent.5", {"x": 1})
    with pytest.raises(BusClosed):
        async with bus.subscribe(["agent.5"]):
            pass
    await sub.aclose()


async def test_invalid_input_is_rejected_with_typed_errors(make_bus: BusFactory) -> None:
    bus = await make_bus(max_payload_bytes=1024)
    with pytest.raises(BusPayloadTooLarge) as too_big:
        await bus.publish("agent.1", {"blob": "x" * 2000})
    assert isinstance(too_big.value, PayloadTooLarge)
    assert too_big.value.http_status == 413
    assert too_big.value.details["limit"] == 1024
    with pytest.raises(BusPayloadInvalid):
        await bus.publish("agent.1", {"when": object()})
    with pytest.raises(BusPayloadInvalid):
        await bus.publish("agent.1", ["not", "an", "object"])
    with pytest.raises(BusPayloadInvalid):
        await bus.publish("agent.1", {"x": float("nan")})
    for bad in ("", "has space", "x" * 201, "~wake", "a/b"):
        with pytest.raises(InvalidTopic):
            await bus.publish(bad, {})
    with pytest.raises(InvalidTopic):
        bus.subscribe([])
    with pytest.raises(InvalidEventId):
        bus.subscribe(["agent.1"], from_id="yesterday")
    # A bare string is one topic, not a list of one-letter topics.
    assert bus.subscribe("agent.1").topics == ("agent.1",)
    # Nothing invalid reached the history.
    assert await bus.read_since("agent.1", None, 10) == []


async def test_two_nodes_exchange_events(make_bus: BusFactory) -> None:
    node_a = await make_bus()
    node_b = await make_bus()
    async with (
        node_a.subscribe(["interaction.42"]) as on_a,
        node_b.subscribe(["interaction.42"]) as on_b,
    ):
        from_a = await node_a.publish("interaction.42", {"by": "a"})
        from_b = await node_b.publish("interaction.42", {"by": "b"})
        assert [m.id for m in await take(on_a, 2)] == [from_a, from_b]
        assert [m.id for m in await take(on_b, 2)] == [from_a, from_b]
    assert [m.data for m in await node_b.read_since("interaction.42", None, 10)] == [
        {"by": "a"},
        {"by": "b"},
    ]


async def test_redis_down_reports_unavailable(unused_port: int) -> None:
    bus = RedisBus(
        f"redis://127.0.0.1:{unused_port}/0", retries=2, backoff_cap=0.02, socket_timeout=1.0
    )
    await bus.start()  # starting never fails because a server is down
    try:
        assert await bus.ping() is False
        with pytest.raises(BusUnavailable) as info:
            await bus.publish("agent.1", {"x": 1})
        assert info.value.http_status == 503
        with pytest.raises(BusUnavailable):
            await bus.read_since("agent.1", None, 10)
        with pytest.raises(BusUnavailable):
            async with bus.subscribe(["agent.1"]):
                pass
        assert bus.reader_connected is False
    finally:
        await bus.close()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_publish_many_is_ordered_and_all_or_nothing(make_bus: BusFactory) -> None:
    bus = await make_bus(max_payload_bytes=1024)
    async with bus.subscribe(["agent.1", "agent.2"]) as sub:
        ids = await bus.publish_many(
            [("agent.1", {"n": 0}), ("agent.2", {"n": 1}), ("agent.1", {"n": 2})]
        )
        got = await take(sub, 3)
        assert sorted(m.id for m in got) == sorted(ids)
        assert [m.data["n"] for m in got if m.topic == "agent.1"] == [0, 2]
        with pytest.raises(BusPayloadTooLarge):
            await bus.publish_many([("agent.1", {"n": 3}), ("agent.1", {"x": "y" * 2000})])
        with pytest.raises(InvalidTopic):
            await bus.publish_many([("agent.1", {"n": 3}), ("bad topic", {})])
        assert await nothing_within(sub)
    assert [m.data["n"] for m in await bus.read_since("agent.1", None, 10)] == [0, 2]
    assert await bus.publish_many([]) == []


def test_create_bus_picks_the_implementation_from_the_url() -> None:
    assert isinstance(create_bus(None), InMemoryBus)
    assert isinstance(create_bus("memory", history_maxlen=5), InMemoryBus)
    assert isinstance(create_bus("redis://127.0.0.1:6379/15"), RedisBus)
    assert isinstance(create_lease("memory"), InMemoryLease)
    with pytest.raises(ConfigError) as info:
        create_bus("amqp://user:secret@host/")
    assert "secret" not in info.value.message  # credentials never echoed
