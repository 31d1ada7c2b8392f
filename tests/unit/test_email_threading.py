"""Threading a mail into its case: headers first, subject token only for the case's customer."""

from __future__ import annotations

from email.message import EmailMessage

from ccserver.channels.email.parsing import ParsedEmail, parse_email
from ccserver.channels.email.threading import (
    MAX_REFERENCES,
    CaseRef,
    choose_case,
    find_case_number,
    is_our_message_id,
    references_for_reply,
    reply_subject,
    strip_reply_prefixes,
    thread_keys,
    with_case_token,
)

CASE_A = CaseRef("id-a", "C-100", customer_address="alice@mail.example.com", last_agent_id="ag-1")
CASE_B = CaseRef("id-b", "C-200", customer_address="bob@mail.example.com", last_agent_id="ag-2")


def mail(
    subject: str = "hello",
    sender: str = "alice@mail.example.com",
    in_reply_to: str | None = None,
    references: str | None = None,
) -> ParsedEmail:
    msg = EmailMessage()
    msg["From"] = sender
    msg["Subject"] = subject
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    msg.set_content("x")
    return parse_email(msg.as_bytes())


def test_case_token_found_with_our_prefix_only() -> None:
    assert find_case_number("Re: help [#C-12345]") == "C-12345"
    assert find_case_number("Re: help [# c-7 ]") == "C-7"
    assert find_case_number("[#T-99] other system") is None
    assert find_case_number("no token C-12345") is None
    assert find_case_number("[#T-1] and [#C-2]") == "C-2"


def test_subjects_get_one_prefix_and_one_token() -> None:
    assert reply_subject("RE: Fwd: AW: order [#C-1]", "C-1") == "Re: order [#C-1]"
    assert reply_subject("返信\uff1a注文", "C-9") == "Re: 注文 [#C-9]"
    assert reply_subject("", "C-9") == "Re: (no subject) [#C-9]"
    assert with_case_token("Got it [#C-1] [#C-1]", "C-1") == "Got it [#C-1]"
    assert strip_reply_prefixes("Re: Re[2]: x") == "x"


def test_keys_are_in_reply_to_then_references_newest_first() -> None:
    m = mail(in_reply_to="<c@x>", references="<a@x> <b@x> <c@x>", subject="[#C-100]")
    keys = thread_keys(m)
    assert keys.message_ids == ("c@x", "b@x", "a@x")
    assert keys.case_number == "C-100"


def test_in_reply_to_beats_references_and_token() -> None:
    m = mail(in_reply_to="<our-2@ccs>", references="<our-1@ccs>", subject="[#C-100]")
    match = choose_case(
        m, thread_keys(m), {"our-2@ccs": CASE_B, "our-1@ccs": CASE_A}, {"C-100": CASE_A}
    )
    assert match.case == CASE_B and match.matched_by == "in_reply_to"
    assert match.preferred_agent_id == "ag-2"


def test_references_match_when_in_reply_to_unknown() -> None:
    m = mail(in_reply_to="<unknown@x>", references="<our-1@ccs> <unknown@x>")
    match = choose_case(m, thread_keys(m), {"our-1@ccs": CASE_A}, {})
    assert match.case == CASE_A and match.matched_by == "references"


def test_token_joins_only_for_the_cases_customer() -> None:
    own = mail(subject="again [#C-100]", sender="Alice@Mail.Example.com")
    assert choose_case(own, thread_keys(own), {}, {"C-100": CASE_A}).matched_by == "subject_token"
    stranger = mail(subject="again [#C-100]", sender="eve@mail.example.net")
    match = choose_case(stranger, thread_keys(stranger), {}, {"C-100": CASE_A})
    assert match.case is None and match.note is not None and "ignored" in match.note


def test_unknown_token_and_no_keys_mean_new_case() -> None:
    m = mail(subject="[#C-999]")
    match = choose_case(m, thread_keys(m), {}, {})
    assert match.case is None and match.note is not None and "unknown" in match.note
    plain = mail()
    assert choose_case(plain, thread_keys(plain), {}, {}).case is None


def test_reply_references_are_bounded_and_keep_the_root() -> None:
    refs = tuple(f"m{i}@x" for i in range(50))
    out = references_for_reply("parent@x", refs)
    assert len(out) == MAX_REFERENCES
    assert out[0] == "m0@x" and out[-1] == "parent@x"
    assert references_for_reply("p@x", ("a@x", "p@x")) == ("a@x", "p@x")


def test_our_message_ids() -> None:
    assert is_our_message_id("0190-abc@CCServer.Local", "ccserver.local")
    assert not is_our_message_id("x@customer.example.com", "ccserver.local")
