"""Errors of the routing core; every one roots in :mod:`ccserver.errors`."""

from __future__ import annotations

from ccserver.errors import CcserverError, ConfigError, Conflict, NotFound


class RoutingError(CcserverError):
    """Root of the routing core's own errors."""

    code = "routing_error"


class RoutingConfigError(ConfigError):
    """Bad routing configuration: the message names the file and the dotted key."""

    code = "routing_config_invalid"

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}", details={"file": source, "key": key})
        self.source = source
        self.key = key


class UnknownTask(NotFound):
    code = "routing_unknown_task"


class UnknownAgent(NotFound):
    code = "routing_unknown_agent"


class UnknownQueue(NotFound):
    code = "routing_unknown_queue"


class DuplicateTask(Conflict):
    code = "routing_duplicate_task"


class DuplicateAgent(Conflict):
    code = "routing_duplicate_agent"


class NotOffered(Conflict):
    """accept/reject for a task that is not currently offered to that agent."""

    code = "routing_not_offered"


class NotConnected(Conflict):
    """end/complete for a task that the agent is not connected to / wrapping up."""

    code = "routing_not_connected"
