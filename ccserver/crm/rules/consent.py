"""Whether a customer may be contacted on a channel for a purpose, from their consent flags.

Consent flags are the customer's booleans: ``phone``, ``email``, ``sms`` (contact by that
means), ``survey``, ``marketing`` and the blanket ``do_not_contact``. The rule:

* ``do_not_contact`` true blocks everything except ``service`` (answering the customer's
  own open case on the channel they used is part of handling it, not outreach).
* The channel's flag must not be false. A missing channel flag counts as allowed for
  ``service`` and ``follow_up`` (a complaint follow-up is part of the case the customer
  opened) and as refused for ``survey`` and ``marketing`` (those need an explicit yes).
* ``survey`` and ``marketing`` additionally need their own purpose flag to be true.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from ccserver.crm.rules.rows import get
from ccserver.domain import Channel


class Purpose(enum.StrEnum):
    SERVICE = "service"
    FOLLOW_UP = "follow_up"
    SURVEY = "survey"
    MARKETING = "marketing"


# Which consent flag governs each way of reaching a customer. Calls of every kind are "phone";
# web forms are answered by email. Chat and in-person visits have no flag of their own.
CHANNEL_FLAG: dict[str, str | None] = {
    Channel.VOICE.value: "phone",
    Channel.CALLBACK.value: "phone",
    Channel.FOLLOW_UP.value: "phone",
    "phone": "phone",
    Channel.EMAIL.value: "email",
    Channel.WEB.value: "email",
    "sms": "sms",
    Channel.CHAT.value: None,
    "visit": None,
}

_OPT_IN_PURPOSES = frozenset({Purpose.SURVEY, Purpose.MARKETING})
FLAGS = ("phone", "email", "sms", "survey", "marketing", "do_not_contact")


def consents_of(customer: Any) -> dict[str, bool | None]:
    """The consent flags of a customer row: a ``consents`` mapping when it has one, else the
    customers table's ``consent_<flag>`` columns (mapping or object)."""
    nested = get(customer, "consents")
    if isinstance(nested, Mapping):
        return {str(k): v for k, v in nested.items()}
    flags: dict[str, bool | None] = {}
    for flag in FLAGS:
        value = get(customer, f"consent_{flag}")
        if value is not None:
            flags[flag] = bool(value)
    return flags


def may_contact(
    customer_consents: Mapping[str, bool | None] | None,
    channel: str,
    purpose: str,
) -> bool:
    """True when the consent flags allow reaching the customer on ``channel`` for ``purpose``.

    Unknown channels or purposes are refused: a new outreach path must be mapped here first.
    """
    consents = customer_consents or {}
    try:
        purpose_ = Purpose(purpose)
    except ValueError:
        return False
    channel_key = str(channel)
    if channel_key not in CHANNEL_FLAG:
        return False
    if purpose_ is not Purpose.SERVICE and consents.get("do_not_contact") is True:
        return False
    flag = CHANNEL_FLAG[channel_key]
    opt_in = purpose_ in _OPT_IN_PURPOSES
    if flag is not None:
        channel_ok = consents.get(flag)
        if channel_ok is False or (channel_ok is None and opt_in):
            return False
    if opt_in:
        return consents.get(purpose_.value) is True
    return True
