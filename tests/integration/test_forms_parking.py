"""Written work that arrives while its queue is closed is parked (not handed to the
queue's after-hours action) and enqueued once the queue opens; withdrawn work is dropped."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from ccserver.channels.forms.parking import ParkedWork
from ccserver.domain import Channel, Interaction, InteractionEvent
from ccserver.runtime.pending_work import DurableInteractions


class Hours:
    def __init__(self) -> None:
        self.open = False

    def is_open(self, now: float) -> bool:
        return self.open


class FakeCenter:
    """The part of the ContactCenter ParkedWork uses: queue_open (queues' hours), clock,
    enqueue."""

    def __init__(self, hours: Hours) -> None:
        queues = {"general": SimpleNamespace(hours=hours)}
        self.routing = SimpleNamespace(config=SimpleNamespace(queues=queues))
        self.interactions: dict[str, Interaction] = {}
        self.enqueued: list[tuple[str, str, dict[str, Any]]] = []
        self.durable = DurableInteractions(None)  # no store: nothing kept across restarts

    def clock(self) -> float:
        return 1_800_000_000.0

    def queue_open(self, queue: str, now: float | None = None) -> bool:
        q = self.routing.config.queues.get(queue)
        return True if q is None else bool(q.hours.is_open(self.clock() if now is None else now))

    async def enqueue(self, iid: str, queue: str, **kw: Any) -> None:
        self.enqueued.append((iid, queue, kw))
        self.interactions[iid].apply(InteractionEvent.ENQUEUE, self.clock())


async def test_closed_queue_parks_work_until_it_opens() -> None:
    hours = Hours()
    cc = FakeCenter(hours)
    for iid in ("mail", "form"):
        cc.interactions[iid] = Interaction(id=iid, channel=Channel.EMAIL)
    parking = ParkedWork(cast(Any, cc))
    assert await parking.enqueue("mail", "general", preferred_agent_id="a1") is False
    assert await parking.enqueue("form", "general") is False
    assert cc.enqueued == [] and cc.interactions["mail"].attributes["parked_until_open"]
    cc.interactions.pop("form")  # withdrawn meanwhile
    assert await parking.release() == 0  # still night
    hours.open = True
    assert await parking.release() == 1
    assert cc.enqueued == [("mail", "general", {"preferred_agent_id": "a1"})]
    assert "parked_until_open" not in cc.interactions["mail"].attributes
    assert parking.parked == []
    cc.interactions["now"] = Interaction(id="now", channel=Channel.WEB)
    assert await parking.enqueue("now", "general") is True  # open: straight in
