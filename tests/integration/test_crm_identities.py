"""Identity normalisation: any way of writing a number or address gives the same key."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccserver.crm.identities import (
    IdentityError,
    normalise_email,
    normalise_identity,
    normalise_phone,
    phone_lookup_key,
)

FORMATS = [
    phonenumbers.PhoneNumberFormat.E164,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.RFC3966,
]
REGIONS = ["US", "GB", "DE", "FR", "IN", "BR", "JP", "AU"]


@st.composite
def example_numbers(draw: st.DrawFn) -> tuple[str, phonenumbers.PhoneNumber]:
    region = draw(st.sampled_from(REGIONS))
    kind = draw(
        st.sampled_from(
            [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
        )
    )
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None
    return region, number


@settings(max_examples=60, deadline=None)
@given(example_numbers(), st.sampled_from(FORMATS))
def test_every_format_normalises_to_e164(
    sample: tuple[str, phonenumbers.PhoneNumber], fmt: int
) -> None:
    region, number = sample
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    written = phonenumbers.format_number(number, fmt)
    if fmt == phonenumbers.PhoneNumberFormat.RFC3966:
        written = written.removeprefix("tel:")
    assert normalise_phone(written, region) == e164
    assert phone_lookup_key(written, region) == e164
    # International forms do not depend on the default region.
    if fmt != phonenumbers.PhoneNumberFormat.NATIONAL:
        assert normalise_phone(written, "US" if region != "US" else "GB") == e164


@pytest.mark.parametrize("raw", ["", "   ", "hello", "+1", "12", "+49 30 1"])
def test_invalid_phones_are_rejected(raw: str) -> None:
    with pytest.raises(IdentityError):
        normalise_phone(raw, "DE")


@pytest.mark.parametrize("raw", ["anonymous", "", "unknown", "+", "0"])
def test_lookup_key_of_non_numbers_is_none(raw: str) -> None:
    assert phone_lookup_key(raw, "DE") is None


def test_emails_lowercase_and_validated() -> None:
    assert normalise_email("  Jane.Doe@Example.ORG ") == "jane.doe@example.org"
    for bad in ["jane", "jane@", "@x.org", "a b@x.org", "x" * 330 + "@x.org"]:
        with pytest.raises(IdentityError):
            normalise_email(bad)


def test_other_kinds() -> None:
    assert normalise_identity("chat", " @Jane ", "US") == "@jane"
    assert normalise_identity("account", " AB-12 ", "US") == "AB-12"  # account ids keep case
    with pytest.raises(IdentityError):
        normalise_identity("fax", "123", "US")
    with pytest.raises(IdentityError):
        normalise_identity("account", "  ", "US")
