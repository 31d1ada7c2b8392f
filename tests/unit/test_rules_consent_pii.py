"""Consent rules and PII masking by role."""

from __future__ import annotations

import pytest

from ccserver.crm.rules import pii
from ccserver.crm.rules.consent import may_contact
from ccserver.crm.rules.pii import MaskRule
from ccserver.errors import ConfigError


@pytest.mark.parametrize(
    ("consents", "channel", "purpose", "allowed"),
    [
        ({"phone": True}, "voice", "follow_up", True),
        ({}, "phone", "follow_up", True),  # no refusal on record: part of the case
        ({"phone": False}, "phone", "follow_up", False),
        ({"phone": False}, "callback", "service", False),
        ({"email": False}, "web", "service", False),
        ({"do_not_contact": True}, "email", "service", True),  # answering their own case
        ({"do_not_contact": True, "email": True}, "email", "follow_up", False),
        ({"email": True}, "email", "survey", False),  # survey needs its own opt-in
        ({"email": True, "survey": True}, "email", "survey", True),
        ({"survey": True}, "email", "survey", False),  # and the channel's opt-in
        ({"phone": True, "survey": True}, "voice", "survey", True),
        ({"sms": True, "marketing": True}, "sms", "marketing", True),
        ({"sms": True, "marketing": False}, "sms", "marketing", False),
        ({"marketing": True}, "chat", "marketing", True),
        ({}, "visit", "follow_up", True),
        (None, "phone", "follow_up", True),
        ({"phone": True}, "pigeon", "follow_up", False),  # unknown channel: refused
        ({"phone": True}, "phone", "gossip", False),  # unknown purpose: refused
    ],
)
def test_may_contact(
    consents: dict[str, bool] | None, channel: str, purpose: str, allowed: bool
) -> None:
    assert may_contact(consents, channel, purpose) is allowed


CARD = "4111 1111 1111 1234"
RECORD = {
    "name": "Ann",
    "card": CARD,
    "national_id": "AB123456789",
    "phone": "+81 3 1234 5678",
    "missing": None,
}
FIELDS = {
    "card": "card_number",
    "national_id": "id_number",
    "phone": "phone",
    "missing": "card_number",
}


def test_masking_by_role() -> None:
    agent = pii.mask_record(RECORD, FIELDS, "agent")
    assert agent["card"] == "**** **** **** 1234"
    assert agent["national_id"] == "*******6789"
    assert agent["phone"] == RECORD["phone"] and agent["name"] == "Ann"
    assert agent["missing"] is None
    sup = pii.mask_record(RECORD, FIELDS, "supervisor")
    assert sup["card"] == "4111 11** **** 1234"
    assert sup["national_id"] == "AB*****6789"
    assert pii.mask_record(RECORD, FIELDS, "admin") == RECORD
    assert RECORD["card"] == CARD  # the input is not modified


def test_unknown_role_sees_nothing_and_short_values_are_fully_hidden() -> None:
    out = pii.mask_record(RECORD, FIELDS, "intern")
    assert out["card"] == "**** **** **** ****"
    assert out["phone"] == "+** * **** ****"
    assert pii.mask_value("1234", MaskRule(0, 4)) == "****"
    assert pii.mask_value("12-34", MaskRule(2, 4)) == "**-**"
    assert pii.mask_value("12345", MaskRule(0, 4)) == "*2345"


def test_parse_policy_overrides_and_names_bad_keys() -> None:
    policy = pii.parse_pii_policy(
        {"card_number": {"agent": {"keep_last": 2}}, "email": {"agent": {"keep_first": 1}}}
    )
    assert pii.mask_record({"c": CARD}, {"c": "card_number"}, "agent", policy)["c"] == (
        "**** **** **** **34"
    )
    assert pii.mask_value("ann@example.com", policy["email"]["agent"]) == "a**@*******.***"
    assert policy["id_number"] == pii.DEFAULT_POLICY["id_number"]
    with pytest.raises(ConfigError) as info:
        pii.parse_pii_policy({"card_number": {"janitor": {"keep_last": 4}}}, "crm.toml")
    assert info.value.details["key"] == "pii.card_number.janitor"
    with pytest.raises(ConfigError) as info:
        pii.parse_pii_policy({"card_number": {"agent": {"keep_last": -1}}}, "crm.toml")
    assert info.value.details["key"] == "pii.card_number.agent.keep_last"


def test_consents_from_customer_table_columns_or_mapping() -> None:
    from dataclasses import dataclass

    from ccserver.crm.rules.consent import consents_of

    @dataclass
    class Customer:
        consent_phone: bool = True
        consent_email: bool = False
        consent_sms: bool = False
        consent_survey: bool = True
        consent_marketing: bool = False

    flags = consents_of(Customer())
    assert flags == {
        "phone": True,
        "email": False,
        "sms": False,
        "survey": True,
        "marketing": False,
    }
    assert may_contact(flags, "voice", "survey") and not may_contact(flags, "email", "survey")
    assert consents_of({"consents": {"email": True}}) == {"email": True}
    assert consents_of({"consent_phone": False}) == {"phone": False}
    assert consents_of({}) == {}
