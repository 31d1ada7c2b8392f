"""ACD routing core (sans-I/O): one universal queue for every channel.

The runtime owns the clock and the I/O; it calls the engine and carries out the decisions
it gets back. Every call takes ``now`` (seconds; the runtime's clock, e.g. ``time.time()``)
and returns ``list[Decision]``, in the order they must be applied.

Stable API (the runtime calls exactly this)::

    config = load_routing_config("config/routing.toml")       # or parse_routing_config(data, src)
    engine = RoutingEngine(config)

    # tasks
    engine.submit(Task(id, channel, queue, arrived_at, priority=0, skills={}, attributes={},
                       customer_id=None, customer_tier=None, preferred_agent_id=None), now)
    engine.cancel(task_id, now, reason="abandoned")   # left before an answer
    engine.accept(task_id, agent_id, now)             # agent took the offer
    engine.reject(task_id, agent_id, now)             # agent declined -> RONA, task to head
    engine.end(task_id, agent_id, now)                # conversation over, wrap-up starts
    engine.complete(task_id, agent_id, now)           # wrap-up done

    # agents (AgentProfile(id, skills={"billing": 3}, queues=frozenset(...), teams=...))
    engine.agent_login(profile, now, ready=False)
    engine.agent_ready(agent_id, now)
    engine.agent_not_ready(agent_id, reason, now)     # reason from config not_ready_reasons
    engine.agent_changed(profile, now)                # new skills / queues / capacity
    engine.agent_logout(agent_id, now)                # refused (AgentBusy) while connected
    engine.agent_disconnected(agent_id, now)          # console gone: grace timer starts
    engine.agent_reconnected(agent_id, now)

    # time, config, read side
    engine.tick(now)                                  # call at engine.next_timer_at() or ~1 s
    engine.reload(config) / engine.reload_from(data, source)   # old config kept on error
    engine.position_and_ewt(task_id, now) -> PositionEstimate
    engine.queue_stats(queue, now) -> QueueSnapshot   # 15 min / 1 h / today windows
    engine.agent_report(agent_id, now) -> AgentReport # time per state / not-ready reason
    engine.snapshot() -> dict                         # wallboard view

Decisions (frozen dataclasses in :mod:`routing.task`): ``Offer`` (push the offer; reserved
until ``expires_at``), ``OfferRevoked``, ``Requeue``, ``AgentTimeout`` (RONA),
``AgentStateChanged`` (a timer moved an agent), ``WorkDropped``, ``Overflow``, ``QueueFull``,
``AfterHours``, ``Widened``, ``Announce``. Errors derive from :mod:`ccserver.errors`
(``UnknownTask``/``UnknownAgent``/``UnknownQueue`` are NotFound, ``NotOffered``/
``NotConnected``/``Duplicate*`` are Conflict, ``RoutingConfigError`` is ConfigError and
names file and key; agent-level errors come from :mod:`agents.errors`).

Runtime tip (garbage collector): the engine keeps a large, long-lived graph (every task,
agent, heap and pool). Call ``gc.freeze()`` once the floor is loaded (after start-up and
after a reload): later full collections then skip that graph, which cut the one full
collection of a 10k-agent benchmark from about 1.1 s to about 0.3 s (``bench.routing``
reports ``gc_collections``/``gc_total_ms``/``gc_max_ms``; ``--no-freeze`` compares).
Raising the gen-0 threshold (``--gc-threshold``) traded many small pauses for a few
~100 ms ones without a throughput gain beyond the noise of a shared host: not advised.
"""

from routing.config import (
    Boosts,
    ExitAction,
    QueueConfig,
    RoutingConfig,
    WideningStep,
    load_routing_config,
    parse_routing_config,
)
from routing.engine import RoutingEngine
from routing.errors import (
    DuplicateAgent,
    DuplicateTask,
    NotConnected,
    NotOffered,
    RoutingConfigError,
    RoutingError,
    UnknownAgent,
    UnknownQueue,
    UnknownTask,
)
from routing.estimate import erlang_c, erlang_c_new_arrival_wait
from routing.reporting import AgentReport, QueueSnapshot
from routing.stats import WindowStats
from routing.task import (
    AfterHours,
    AgentStateChanged,
    AgentTimeout,
    Announce,
    Decision,
    Offer,
    OfferRevoked,
    Overflow,
    PositionEstimate,
    QueueFull,
    Requeue,
    Task,
    Widened,
    WorkDropped,
)

__all__ = [
    "AfterHours",
    "AgentReport",
    "AgentStateChanged",
    "AgentTimeout",
    "Announce",
    "Boosts",
    "Decision",
    "DuplicateAgent",
    "DuplicateTask",
    "ExitAction",
    "NotConnected",
    "NotOffered",
    "Offer",
    "OfferRevoked",
    "Overflow",
    "PositionEstimate",
    "QueueConfig",
    "QueueFull",
    "QueueSnapshot",
    "Requeue",
    "RoutingConfig",
    "RoutingConfigError",
    "RoutingEngine",
    "RoutingError",
    "Task",
    "UnknownAgent",
    "UnknownQueue",
    "UnknownTask",
    "Widened",
    "WideningStep",
    "WindowStats",
    "WorkDropped",
    "erlang_c",
    "erlang_c_new_arrival_wait",
    "load_routing_config",
    "parse_routing_config",
]
