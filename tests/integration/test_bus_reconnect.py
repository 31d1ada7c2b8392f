"""Redis bus across a Redis outage: a TCP proxy between the bus and Redis is cut and
restored, and the subscriber still receives every event published meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis

from ccserver.bus import BusUnavailable, Subscription
from ccserver.bus.redis_streams import RedisBus


class CuttableProxy:
    """Loopback TCP proxy to Redis whose connections can be cut and later allowed again."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Stop listening and drop every live connection (Redis 'goes away')."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        for writer in list(self._writers):
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update((writer, up_writer))
        tasks = [
            asyncio.create_task(self._pipe(reader, up_writer)),
            asyncio.create_task(self._pipe(up_reader, writer)),
        ]
        self._pipes.update(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pipes.difference_update(tasks)
        for w in (writer, up_writer):
            w.close()
            self._writers.discard(w)
            with contextlib.suppress(OSError):
                await w.wait_closed()

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        dst.close()


@pytest.fixture
async def proxy(redis_url: str, unused_port: int) -> AsyncIterator[CuttableProxy]:
    parts = urlsplit(redis_url)
    p = CuttableProxy(unused_port, (parts.hostname or "127.0.0.1", parts.port or 6379))
    await p.open()
    yield p
    await p.cut()


async def take(sub: Subscription, n: int, within: float = 10.0) -> list[str]:
    ids: list[str] = []
    async with asyncio.timeout(within):
        while len(ids) < n:
            ids.append((await anext(sub)).id)
    return ids


async def test_subscriber_catches_up_after_redis_comes_back(
    proxy: CuttableProxy, redis_url: str
) -> None:
    prefix = f"ccs:test:{uuid.uuid4().hex[:12]}:"
    db = urlsplit(redis_url).path or "/0"
    via_proxy = RedisBus(
        f"redis://127.0.0.1:{proxy.port}{db}",
        prefix=prefix,
        retries=1,
        backoff_cap=0.05,
        socket_timeout=1.0,
        block_ms=200,
    )
    direct = RedisBus(redis_url, prefix=prefix)
    await via_proxy.start()
    await direct.start()
    try:
        async with via_proxy.subscribe(["agent.1"]) as sub:
            before = [await direct.publish("agent.1", {"n": i}) for i in range(3)]
            assert await take(sub, 3) == before

            await proxy.cut()
            assert await via_proxy.ping() is False
            with pytest.raises(BusUnavailable):
                await via_proxy.publish("agent.1", {"lost": True})
            # Other nodes keep publishing while this node cannot reach Redis.
            during = [await direct.publish("agent.1", {"n": i}) for i in range(3, 8)]

            await proxy.open()
            assert await take(sub, 5) == during  # resumed from its cursor: nothing lost
            assert await via_proxy.ping() is True
            after = await via_proxy.publish("agent.1", {"n": 8})
            assert await take(sub, 1) == [after]
            assert via_proxy.reader_connected
    finally:
        await via_proxy.close()
        await direct.close()
        client = redis.Redis.from_url(redis_url)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_scripts_are_reloaded_when_redis_forgot_them(redis_url: str) -> None:
    """After a Redis restart the script cache is empty (NOSCRIPT); simulated here by
    pointing the bus at digests Redis has never seen."""
    prefix = f"ccs:test:{uuid.uuid4().hex[:12]}:"
    bus = RedisBus(redis_url, prefix=prefix)
    await bus.start()
    try:
        bus._xadd_sha = bus._read_sha = "0" * 40
        async with bus.subscribe(["agent.1"]) as sub:
            ids = await bus.publish_many([("agent.1", {"n": i}) for i in range(40)])
            assert await take(sub, 40) == ids
        assert len(await bus.read_since("agent.1", None, 100)) == 40
    finally:
        await bus.close()
        client = redis.Redis.from_url(redis_url)
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()
