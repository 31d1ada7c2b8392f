# ruff: noqa: RUF001, RUF003  (CJK test data uses full-width punctuation on purpose)
"""Parsing inbound mail: charsets, HTML-only, attachments with limits, malformed input."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccserver.channels.email.config import AttachmentLimits
from ccserver.channels.email.decoding import decode_bytes
from ccserver.channels.email.html_text import html_to_text
from ccserver.channels.email.parsing import MailFlag, msgids, parse_email

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "subject", "text", "sender"),
    [
        (
            "iso2022jp.eml",
            "注文について",
            "山田様\nご注文の件でお問い合わせです。\n",
            "hanako@mail.example.jp",
        ),
        # CP932-only characters (①, ～) in mail labelled Shift_JIS
        (
            "shift_jis.eml",
            "返品①",
            "お問い合わせ番号①について～確認お願いします。\n",
            "taro@mail.example.jp",
        ),
        # GBK-only character (喆) in mail labelled GB2312
        ("gb2312.eml", "订单查询", "您好，我叫王喆，订单还没有到。\n", "wang@mail.example.cn"),
        ("tis620.eml", "สอบถามสินค้า", "สวัสดีครับ สินค้ายังไม่ได้รับ\n", "somchai@mail.example.co.th"),
        ("utf8_alternative.eml", "Café order ☕", "Café ☕ please", "zoe@mail.example.org"),
    ],
)
def test_stored_fixtures_decode_in_every_charset(
    name: str, subject: str, text: str, sender: str
) -> None:
    mail = parse_email(fixture(name))
    assert mail.subject == subject
    assert mail.text == text
    assert mail.from_address == sender
    assert MailFlag.MALFORMED not in mail.flags
    assert MailFlag.CHARSET_FALLBACK not in mail.flags


@pytest.mark.parametrize(
    "charset", ["iso-2022-jp", "shift_jis", "gb2312", "gbk", "tis-620", "utf-8"]
)
def test_built_messages_round_trip_each_charset(charset: str) -> None:
    body = {
        "iso-2022-jp": "お世話になっております。",
        "shift_jis": "お世話になっております。",
        "gb2312": "您好，请问我的订单。",
        "gbk": "您好，请问我的订单。",
        "tis-620": "สวัสดีค่ะ",
        "utf-8": "Grüße 👋",
    }[charset]
    msg = EmailMessage()
    msg["From"] = "a@mail.example.com"
    msg["Subject"] = "x"
    msg.set_content(body, charset=charset)
    mail = parse_email(msg.as_bytes())
    assert mail.text.strip() == body


def test_multipart_alternative_keeps_both_and_prefers_plain_text() -> None:
    mail = parse_email(fixture("utf8_alternative.eml"))
    assert mail.html is not None and "<b>please</b>" in mail.html
    assert MailFlag.HTML_ONLY not in mail.flags
    assert mail.from_name == "Zoë"  # raw UTF-8 header (RFC 6532) is legitimate
    assert mail.in_reply_to == ("0190f0aa-0000-7000-8000-000000000001@ccserver.local",)
    assert mail.references[0] == "root@mail.example.org"
    [att] = mail.attachments
    assert att.filename == "invoice.pdf"  # path components removed
    assert att.content_type == "application/pdf"
    assert att.data == b"%PDF-1.4 fake" and att.size == 13


def test_html_only_mail_keeps_html_and_derives_inert_text() -> None:
    mail = parse_email(fixture("html_only_script.eml"))
    assert MailFlag.HTML_ONLY in mail.flags
    assert mail.html is not None and "document.cookie" in mail.html  # original kept as is
    for hostile in ("document.cookie", "alert(1)", "alert(2)", "javascript:", "body{x:y}", "inner"):
        assert hostile not in mail.text
    assert "see order <https://shop.example.com/o/42>" in mail.text
    # Entity-escaped markup becomes literal characters (the console escapes text).
    assert "<script>alert(3)</script>" in mail.text
    assert mail.text.endswith("Bye")


def test_html_to_text_structure_and_controls() -> None:
    html = (
        "<h1>Title</h1><ul><li>one</li><li>two</li></ul>a<br>b\u202e"
        "<table><tr><td>x</td><td>y</td></tr></table>"
    )
    text = html_to_text(html)
    assert "Title" in text and "- one\n- two" in text and "a\nb" in text
    assert "\u202e" not in text  # bidi override removed
    assert html_to_text("<script>never closed") == ""


def test_malformed_mail_is_kept_and_flagged() -> None:
    raw = fixture("malformed.eml")
    mail = parse_email(raw)
    assert mail.raw == raw
    assert MailFlag.MALFORMED in mail.flags
    assert MailFlag.CHARSET_FALLBACK in mail.flags
    assert mail.text == "still readable text"
    assert any("CloseBoundaryNotFound" in n for n in mail.notes)
    assert [a.filename for a in mail.attachments] == ["blob.bin"]


def test_header_without_colon_and_binary_garbage_are_kept() -> None:
    raw = b"From: a@mail.example.com\r\nnot a header line\r\nSubject: lost\r\n\r\nbody"
    mail = parse_email(raw)
    assert MailFlag.MALFORMED in mail.flags
    assert "not a header line" in mail.text
    garbage = parse_email(b"\x00\xff\xfe binary \x1b[31m")
    assert garbage.raw.startswith(b"\x00\xff")
    assert MailFlag.NO_MESSAGE_ID in garbage.flags
    assert "\x1b" not in garbage.text


def test_raw_8bit_legacy_subject_is_decoded_and_flagged() -> None:
    raw = (
        b"From: a@mail.example.jp\r\nSubject: \x82\xb1\x82\xf1\r\n"
        b"Content-Type: text/plain; charset=shift_jis\r\n\r\n\x82\xb1\x82\xf1\r\n"
    )
    mail = parse_email(raw)
    assert mail.subject == "こん"
    assert MailFlag.MALFORMED in mail.flags


def _with_attachments(sizes: list[int]) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@mail.example.com"
    msg["Subject"] = "files"
    msg.set_content("see attached")
    for i, size in enumerate(sizes):
        msg.add_attachment(
            b"x" * size, maintype="application", subtype="octet-stream", filename=f"f{i}.bin"
        )
    return msg.as_bytes()


def test_attachment_limits_drop_with_flag_and_note_but_keep_mail() -> None:
    limits = AttachmentLimits(max_count=3, max_bytes_each=1000, max_total_bytes=1500)
    mail = parse_email(_with_attachments([500, 2000, 600, 600, 10, 10]), limits)
    assert [a.filename for a in mail.attachments] == ["f0.bin", "f2.bin", "f4.bin"]
    dropped = {d.filename: d.reason for d in mail.dropped_attachments}
    assert "larger than" in dropped["f1.bin"]
    assert "total" in dropped["f3.bin"]
    assert "more than 3" in dropped["f5.bin"]
    assert MailFlag.ATTACHMENTS_DROPPED in mail.flags
    assert any("f1.bin" in n and "dropped" in n for n in mail.notes)
    assert mail.text.strip() == "see attached"


def test_within_limits_nothing_dropped() -> None:
    mail = parse_email(_with_attachments([10, 20]))
    assert len(mail.attachments) == 2 and not mail.dropped_attachments
    assert MailFlag.ATTACHMENTS_DROPPED not in mail.flags


def test_invalid_sender_flagged() -> None:
    mail = parse_email(b"From: not-an-address\r\nSubject: x\r\n\r\nhi")
    assert mail.from_address is None
    assert MailFlag.INVALID_SENDER in mail.flags


def test_decode_bytes_and_msgids() -> None:
    assert decode_bytes("①".encode("cp932"), "shift_jis") == ("①", False)
    text, lenient = decode_bytes(b"\xff\xfe", "no-such-charset")
    assert lenient and text
    assert msgids("<a@x> <b@y>\r\n <a@x>") == ("a@x", "b@y")
    assert msgids("bare@id.example") == ("bare@id.example",)
    assert msgids("no id here") == ()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_never_raises_and_never_loses_raw(raw: bytes) -> None:
    mail = parse_email(raw)
    assert mail.raw == raw


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.sampled_from(["multipart/mixed", "text/html", "text/plain"]))
def test_arbitrary_text_bodies_parse(body: str, ctype: str) -> None:
    raw = f"From: a@mail.example.com\r\nContent-Type: {ctype}; boundary=Q\r\n\r\n{body}".encode(
        "utf-8", "surrogatepass"
    )
    assert parse_email(raw).raw == raw


def test_absurd_mime_nesting_is_cut_off_but_outer_text_kept() -> None:
    inner = "Content-Type: text/plain\r\n\r\ndeep\r\n"
    for i in range(40):
        head = f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n'
        inner = f"{head}--b{i}\r\n{inner}\r\n--b{i}--\r\n"
    raw = (
        "From: a@mail.example.com\r\nSubject: nest\r\n"
        'Content-Type: multipart/mixed; boundary="top"\r\n\r\n'
        "--top\r\nContent-Type: text/plain\r\n\r\nouter text\r\n"
        f"--top\r\n{inner}\r\n--top--\r\n"
    ).encode()
    mail = parse_email(raw)
    assert mail.text.startswith("outer text")
    assert "deep" not in mail.text
    assert MailFlag.MALFORMED in mail.flags
    assert any("nesting" in n for n in mail.notes)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="abcXYZ019 .,;()'\"=/{}", min_size=1, max_size=40),
    st.sampled_from(["script", "SCRIPT", "style", "iframe", "template", "noscript"]),
    # Whole tags around it: a fragment such as "<a" would make "<a<script" one tag name
    # (for browsers too), and then the content is ordinary text, not a script.
    st.lists(st.sampled_from(["x", " ", "<p>", "</p>", "<b>", "</div>", "<br/>", "&amp;"])).map(
        "".join
    ),
)
def test_active_content_never_reaches_derived_text(payload: str, tag: str, around: str) -> None:
    marker = f"ZZ{payload}ZZ"
    html = f"{around}<{tag} type=x>{marker}</{tag}>{around}<p>ok</p>"
    assert marker not in html_to_text(html)
