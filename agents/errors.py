"""Errors of the agent core; every one roots in :mod:`ccserver.errors`."""

from __future__ import annotations

from ccserver.errors import CcserverError, Conflict, IllegalTransition, ValidationFailed


class AgentError(CcserverError):
    """Root of the agent core's own errors."""

    code = "agent_error"


class IllegalAgentTransition(IllegalTransition):
    """The presence or work table has no entry for (state, event)."""

    code = "agent_illegal_transition"


class UnknownReason(ValidationFailed):
    """A not-ready reason code that the configuration does not define."""

    code = "agent_unknown_reason"


class CapacityExceeded(Conflict):
    """A reservation would take the agent over its capacity (or break voice exclusivity)."""

    code = "agent_capacity_exceeded"


class UnknownWork(Conflict):
    """The agent holds no work item for that task (stale accept/reject/end)."""

    code = "agent_unknown_work"


class AgentBusy(Conflict):
    """Logging out while still connected to a customer."""

    code = "agent_busy"
