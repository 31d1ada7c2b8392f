"""Errors of the AMI layer (codec, connection). Rooted in :mod:`ccserver.errors`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ccserver.ami.protocol import AmiEncodeError
from ccserver.errors import AuthError, CcserverError

if TYPE_CHECKING:
    from ccserver.ami.protocol import Response

__all__ = [
    "AmiActionFailed",
    "AmiAuthError",
    "AmiBackpressure",
    "AmiClosed",
    "AmiConnectionError",
    "AmiEncodeError",
    "AmiError",
    "AmiTimeout",
]


class AmiError(CcserverError):
    """Root of every AMI error."""

    code = "ami_error"
    http_status = 502


class AmiConnectionError(AmiError):
    """The AMI socket could not be opened, or was lost while an action was in flight."""

    code = "ami_unavailable"
    http_status = 503


class AmiAuthError(AuthError):
    """Asterisk refused the Login (wrong user, secret or ACL)."""

    code = "ami_auth_failed"


class AmiTimeout(AmiError):
    """No response to an action within its timeout."""

    code = "ami_timeout"
    http_status = 504


class AmiBackpressure(AmiError):
    """The bounded send queue stayed full for the whole timeout."""

    code = "ami_backpressure"
    http_status = 503


class AmiClosed(AmiError):
    """The connection was closed by the application."""

    code = "ami_closed"
    http_status = 503


class AmiActionFailed(AmiError):
    """Asterisk answered an action with ``Response: Error`` (or ``Failure``)."""

    code = "ami_action_failed"

    def __init__(self, action: str, response: Response, **extra: Any) -> None:
        message = response.get("Message") or response.status
        super().__init__(
            f"AMI action {action} failed: {message}",
            details={"action": action, "response": response.status, "message": message, **extra},
        )
        self.action = action
        self.response = response
