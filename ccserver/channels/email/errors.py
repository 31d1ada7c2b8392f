"""Errors of the email channel, rooted in the ccserver error tree."""

from __future__ import annotations

from ccserver.errors import CcserverError, ConfigError, PayloadTooLarge


class EmailError(CcserverError):
    code = "email_error"


class EmailConfigError(ConfigError):
    code = "email_config_invalid"


class MessageTooLarge(PayloadTooLarge):
    """A message is over the configured size limit (the SMTP layer answers 552)."""

    code = "email_too_large"


class RelayError(EmailError):
    """The outbound SMTP relay refused or could not be reached."""

    code = "email_relay_failed"
    http_status = 502

    def __init__(self, message: str, *, permanent: bool, smtp_code: int | None = None) -> None:
        super().__init__(message, details={"permanent": permanent, "smtp_code": smtp_code})
        self.permanent = permanent
        self.smtp_code = smtp_code


class UnknownDelivery(EmailError):
    code = "email_delivery_not_found"
    http_status = 404
