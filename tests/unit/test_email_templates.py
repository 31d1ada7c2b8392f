"""Localised acknowledgements, reply templates, settings validation, and the service
pipeline with an in-memory sink and a scripted relay."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest

from ccserver.channels.email.compose import ParentMessage, compose_reply
from ccserver.channels.email.config import (
    DEFAULT_CONFIG,
    EmailSettings,
    OutboundSettings,
    load_email_settings,
    settings_from_mapping,
)
from ccserver.channels.email.errors import EmailConfigError
from ccserver.channels.email.memory_sink import InMemoryEmailSink
from ccserver.channels.email.outbound import OutboundMailer
from ccserver.channels.email.service import EmailChannelService
from ccserver.channels.email.templates import (
    MailTemplate,
    ReplyTemplates,
    TemplateError,
    detect_language,
    render,
    render_ack,
)
from ccserver.channels.email.threading import CaseRef


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("注文した商品が届きません", "ja"),
        ("我的订单还没有到", "zh"),
        ("สินค้ายังไม่ได้รับ", "th"),
        ("Where is my order?", "en"),
    ],
)
def test_language_detection(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize("lang", ["en", "ja", "th", "zh"])
def test_ack_in_each_language_carries_case_number_and_token(lang: str) -> None:
    ack = render_ack(lang, case_number="C-42", subject="S", customer_name="", signature="Team")
    assert "C-42" in ack.body and "[#C-42]" in ack.body and "Team" in ack.body
    assert "$" not in ack.body + ack.subject


def test_unknown_language_falls_back_to_english() -> None:
    ack = render_ack("xx", case_number="C-1", subject="S", customer_name="Al", signature="T")
    assert ack.body.startswith("Dear Al")


def test_templates_refuse_unknown_placeholders() -> None:
    with pytest.raises(TemplateError):
        render(MailTemplate("x", "Hello $nobody"), {})
    templates = ReplyTemplates()
    with pytest.raises(TemplateError):
        templates.add("bad", "en", "Hi ${unclosed")
    templates.add("shipped", "en", "Dear $customer_name, case $case_number has shipped.")
    templates.add("shipped", "ja", "$customer_name 様、$case_number は発送済みです。")
    assert templates.render("shipped", "ja", {"customer_name": "山田", "case_number": "C-1"}) == (
        "山田 様、C-1 は発送済みです。"
    )
    assert templates.render(
        "shipped", "th", {"customer_name": "A", "case_number": "C-1"}
    ).startswith("Dear A")
    with pytest.raises(TemplateError):
        templates.render("missing", "en", {})
    assert templates.names() == ["shipped"]


def test_shipped_config_file_loads_and_typos_are_refused(tmp_path: Path) -> None:
    settings = load_email_settings(DEFAULT_CONFIG)
    assert settings.listener.max_message_bytes == 25 * 1024 * 1024
    with pytest.raises(EmailConfigError, match="unknown key 'max_mesage_bytes'"):
        settings_from_mapping({"listener": {"max_mesage_bytes": 1}})
    with pytest.raises(EmailConfigError, match=r"autoack\.enabled must be true or false"):
        settings_from_mapping({"autoack": {"enabled": "yes"}})
    with pytest.raises(EmailConfigError, match="non-negative integer"):
        settings_from_mapping({"attachments": {"max_count": -1}})
    bad = tmp_path / "email.toml"
    bad.write_text("[email\n")
    with pytest.raises(EmailConfigError):
        load_email_settings(bad)
    with pytest.raises(EmailConfigError, match="cannot read"):
        load_email_settings(tmp_path / "missing.toml")


def test_reply_headers_thread_under_the_parent() -> None:
    settings = EmailSettings(message_id_domain="ccs.example.com", from_address="help@example.com")
    case = CaseRef("id", "C-7")
    msg, mid = compose_reply(
        settings,
        case,
        "c@x.example.com",
        "ok",
        1_700_000_000.0,
        agent_name="Bob",
        parent=ParentMessage("p@x.example.com", ("root@x.example.com",), "Fwd: Broken [#C-7]"),
    )
    assert mid.endswith("@ccs.example.com")
    assert msg["Message-ID"] == f"<{mid}>"
    assert msg["In-Reply-To"] == "<p@x.example.com>"
    assert msg["References"] == "<root@x.example.com> <p@x.example.com>"
    assert msg["Subject"] == "Re: Broken [#C-7]"
    assert msg["X-Ccserver-Case"] == "C-7"
    assert "Bob" in str(msg["From"])


class Recorder:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, sender: str, recipients: Sequence[str], data: bytes) -> str:
        msg = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.sent.append(msg)
        return "250"


async def test_service_acks_in_the_customers_language_and_threads_follow_ups() -> None:
    relay = Recorder()
    sink = InMemoryEmailSink()
    async with OutboundMailer(OutboundSettings(), relay) as mailer:
        service = EmailChannelService(EmailSettings(), sink, mailer, clock=lambda: 1000.0)
        first = EmailMessage()
        first["From"] = "山田 <yamada@mail.example.jp>"
        first["Subject"] = "注文について"
        first["Message-ID"] = "<q1@mail.example.jp>"
        first.set_content("商品が届きません。", charset="iso-2022-jp")
        result = await service.receive(first.as_bytes(), envelope_from="yamada@mail.example.jp")
        assert result.new_case and result.ack.send
        async with asyncio.timeout(10):
            await mailer.wait_idle()
        [ack] = relay.sent
        assert ack["Subject"] == "お問い合わせを受け付けました: 注文について [#C-10001]"
        assert "C-10001" in ack.get_content()

        reply = await service.send_reply(
            result.case,
            to="yamada@mail.example.jp",
            body="発送しました。",
            agent_id="agent-3",
            parent=ParentMessage("q1@mail.example.jp", (), "注文について"),
        )
        follow = EmailMessage()
        follow["From"] = "yamada@mail.example.jp"
        follow["Subject"] = "Re: 注文について [#C-10001]"
        follow["In-Reply-To"] = f"<{reply.id}>"
        follow.set_content("ありがとう")
        again = await service.receive(follow.as_bytes(), envelope_from="yamada@mail.example.jp")
        assert not again.new_case and again.matched_by == "in_reply_to"
        assert again.preferred_agent_id == "agent-3"
        assert again.case.case_number == "C-10001"


def test_shipped_reply_templates_render_in_every_language() -> None:
    import tomllib

    from ccserver.settings import PACKAGE_ROOT

    shipped = tomllib.loads((PACKAGE_ROOT / "config" / "channels.toml").read_text("utf-8"))
    templates = ReplyTemplates(shipped["reply_templates"])
    values = {"customer_name": "Ana", "case_number": "C-42", "agent_name": "Bo"}
    catalogue = templates.catalogue()
    assert [t["name"] for t in catalogue] == ["more_information", "resolved", "thanks"]
    for entry in catalogue:
        assert entry["languages"] == ["en", "ja", "th", "zh"]
        for language in ("en", "ja", "th", "zh"):
            text = templates.render(str(entry["name"]), language, values)
            assert "C-42" in text and "$" not in text, (entry["name"], language)
    # A language without a text falls back to English.
    assert templates.render("thanks", "de", values).startswith("Dear Ana,")
