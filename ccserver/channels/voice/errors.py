"""Errors of the voice channel (rooted in the shared error tree)."""

from __future__ import annotations

import time
from typing import Any

from ccserver.errors import CcserverError, Conflict, ValidationFailed


class VoiceError(CcserverError):
    code = "voice_error"
    http_status = 502


class CallGone(Conflict):
    """The call's channel no longer exists (or left AsyncAGI) - nothing reaches the caller."""

    code = "call_gone"


class NoCallControl(ValidationFailed):
    """A call-control request the current call cannot honour (e.g. unhold when not held)."""

    code = "no_call_control"


class ConsultConflict(Conflict):
    """A consult step out of sequence (complete or cancel with no consult, a second consult,
    complete before the consulted party answered): the call is left as it was."""

    code = "consult_conflict"


class ConsultTargetUnavailable(NoCallControl):
    """The agent to consult is not logged in, has no phone, or is the consulting agent."""

    code = "consult_target_unavailable"


class VoiceOff(VoiceError):
    """Voice is configured off (``asterisk.mode = "off"``) or the AMI link never came up."""

    code = "voice_off"
    http_status = 503


class AgiLinkLost(CallGone):
    """The AMI link dropped while an AGI command was in flight: the caller may well still be
    there, waiting in AsyncAGI (Asterisk keeps the channel) - reconcile, don't abandon."""

    code = "agi_link_lost"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.at = time.monotonic()  # a reconciliation finished after this serves the call
