"""The one error tree of ccserver.

Every part raises a subclass of :class:`CcserverError`. Each class carries a stable
``code`` (a short snake-case string that API clients and logs can match on) and the
HTTP status the web layer maps it to, so an error crossing the REST API is always
``{"error": {"code", "message", "details"}}`` with the right status and never a trace.
"""

from __future__ import annotations

from typing import Any, ClassVar


class CcserverError(Exception):
    """Root of every error ccserver raises on purpose."""

    code: ClassVar[str] = "internal"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


# --- configuration -------------------------------------------------------------------------
class ConfigError(CcserverError):
    """A configuration file or environment override is invalid; names file and key."""

    code = "config_invalid"


# --- input validation (API payloads, imports, forms) ---------------------------------------
class ValidationFailed(CcserverError):
    code = "validation_failed"
    http_status = 422


class BadRequest(CcserverError):
    code = "bad_request"
    http_status = 400


class PayloadTooLarge(CcserverError):
    code = "payload_too_large"
    http_status = 413


class NotFound(CcserverError):
    code = "not_found"
    http_status = 404


class Conflict(CcserverError):
    code = "conflict"
    http_status = 409


class DuplicateCustomer(Conflict):
    code = "duplicate_customer"


class StaleWrite(Conflict):
    """An update carried an ETag / updated_at that no longer matches the stored row."""

    code = "stale_write"
    http_status = 412


# --- security ------------------------------------------------------------------------------
class AuthError(CcserverError):
    code = "unauthenticated"
    http_status = 401


class Forbidden(CcserverError):
    code = "forbidden"
    http_status = 403


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class RateLimited(CcserverError):
    code = "rate_limited"
    http_status = 429


# --- state machines ------------------------------------------------------------------------
class IllegalTransition(CcserverError):
    """A state machine was asked for a transition its table does not have."""

    code = "illegal_transition"
    http_status = 409

    def __init__(self, machine: str, state: str, event: str) -> None:
        super().__init__(
            f"{machine}: event {event!r} is not allowed in state {state!r}",
            details={"machine": machine, "state": state, "event": event},
        )
        self.machine = machine
        self.state = state
        self.event = event


# --- infrastructure ------------------------------------------------------------------------
class StoreUnavailable(CcserverError):
    code = "store_unavailable"
    http_status = 503


class BusUnavailable(CcserverError):
    code = "bus_unavailable"
    http_status = 503
