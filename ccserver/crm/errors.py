"""Errors of the CRM store. Each keeps the HTTP status of its parent in ccserver.errors."""

from __future__ import annotations

from ccserver.errors import (
    AuthError,
    Conflict,
    DuplicateCustomer,
    NotFound,
    StaleWrite,
    ValidationFailed,
)


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class CustomerMerged(Conflict):
    """The customer was merged into another; changes go to the survivor."""

    code = "customer_merged"


class OrderNotFound(NotFound):
    code = "order_not_found"


class ContactNotFound(NotFound):
    code = "contact_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


class DuplicateOrder(Conflict):
    code = "duplicate_order"


class DuplicateUser(Conflict):
    code = "duplicate_username"


class IdentityInUse(Conflict):
    """A phone/email/handle already belongs to another customer (details name which)."""

    code = "identity_in_use"


class MergeRefused(Conflict):
    code = "merge_refused"


class InvalidCredentials(AuthError):
    """Wrong username or password; the message never says which one."""

    code = "invalid_credentials"


class InvalidToken(AuthError):
    code = "invalid_token"


__all__ = [
    "ContactNotFound",
    "CustomerMerged",
    "CustomerNotFound",
    "DuplicateCustomer",
    "DuplicateOrder",
    "DuplicateUser",
    "IdentityInUse",
    "InvalidCredentials",
    "InvalidToken",
    "MergeRefused",
    "OrderNotFound",
    "StaleWrite",
    "UserNotFound",
    "ValidationFailed",
]
