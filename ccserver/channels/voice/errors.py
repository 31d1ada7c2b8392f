"""Errors of the voice channel (rooted in the shared error tree)."""

from __future__ import annotations

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


class VoiceOff(VoiceError):
    """Voice is configured off (``asterisk.mode = "off"``) or the AMI link never came up."""

    code = "voice_off"
    http_status = 503
