"""Agent core (sans-I/O): presence and work state machines, capacity, skills.

Public API::

    from agents import Agent, AgentProfile, AgentPolicy, CapacityRule, AgentState

    agent = Agent(AgentProfile("a1", skills={"billing": 3}, queues=frozenset({"billing"})),
                  AgentPolicy(), now)
    agent.login(now); agent.go_ready(now)
    agent.reserve("t1", "voice", now, expires_at=now + 20); agent.accept("t1", now)
    agent.end("t1", now)             # -> wrap-up deadline
    agent.finish_wrap_up("t1", now)  # summary back to ready

The model (presence per agent, work phase per interaction, summary state) is described in
:mod:`agents.states`. The routing engine owns Agent objects; the runtime talks to the engine.
"""

from agents.agent import Agent, AgentPolicy, AgentProfile, WorkItem
from agents.capacity import DEFAULT_CAPACITY, CapacityRule
from agents.errors import (
    AgentBusy,
    AgentError,
    CapacityExceeded,
    IllegalAgentTransition,
    UnknownReason,
    UnknownWork,
)
from agents.states import (
    PRESENCE_TRANSITIONS,
    WORK_TRANSITIONS,
    AgentState,
    Presence,
    PresenceEvent,
    WorkEvent,
    WorkPhase,
    next_presence,
    next_work_phase,
    summarise,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "PRESENCE_TRANSITIONS",
    "WORK_TRANSITIONS",
    "Agent",
    "AgentBusy",
    "AgentError",
    "AgentPolicy",
    "AgentProfile",
    "AgentState",
    "CapacityExceeded",
    "CapacityRule",
    "IllegalAgentTransition",
    "Presence",
    "PresenceEvent",
    "UnknownReason",
    "UnknownWork",
    "WorkEvent",
    "WorkItem",
    "WorkPhase",
    "next_presence",
    "next_work_phase",
    "summarise",
]
