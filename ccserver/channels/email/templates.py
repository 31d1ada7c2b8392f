# ruff: noqa: RUF001  (Chinese and Japanese text uses full-width punctuation on purpose)
"""Acknowledgement and reply templates, localised (en, ja, th, zh). Pure.

Placeholders use ``string.Template`` (``$case_number``): no attribute access or format
specs, so a template edited by an administrator cannot reach into Python objects.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from ccserver.errors import ValidationFailed

LANGUAGES = ("en", "ja", "th", "zh")


@dataclass(frozen=True, slots=True)
class MailTemplate:
    subject: str
    body: str


ACK_TEMPLATES: dict[str, MailTemplate] = {
    "en": MailTemplate(
        "We received your message: $subject",
        "Dear $customer_name,\n\n"
        "Thank you for contacting us. Your message has been received and registered as case "
        "$case_number. An agent will answer you as soon as possible.\n\n"
        "Please keep $case_token in the subject if you write to us again about this matter.\n\n"
        "$signature\n",
    ),
    "ja": MailTemplate(
        "お問い合わせを受け付けました: $subject",
        "$customer_name 様\n\n"
        "お問い合わせいただきありがとうございます。お問い合わせ番号 $case_number "
        "として受け付けました。担当者より順次ご連絡いたします。\n\n"
        "本件について再度ご連絡いただく際は、件名の $case_token をそのまま残してください。\n\n"
        "$signature\n",
    ),
    "th": MailTemplate(
        "เราได้รับข้อความของคุณแล้ว: $subject",
        "เรียน คุณ$customer_name\n\n"
        "ขอบคุณที่ติดต่อเรา เราได้รับข้อความของคุณแล้ว หมายเลขเรื่องของคุณคือ $case_number "
        "เจ้าหน้าที่จะติดต่อกลับโดยเร็วที่สุด\n\n"
        "หากต้องการติดต่อเกี่ยวกับเรื่องนี้อีกครั้ง กรุณาคง $case_token ไว้ในหัวเรื่อง\n\n"
        "$signature\n",
    ),
    "zh": MailTemplate(
        "我们已收到您的来信：$subject",
        "尊敬的 $customer_name：\n\n"
        "感谢您联系我们。您的来信已受理，案件编号为 $case_number。客服人员将尽快回复您。\n\n"
        "如就此事再次来信，请在邮件主题中保留 $case_token。\n\n"
        "$signature\n",
    ),
}

DEFAULT_NAME = {"en": "Customer", "ja": "お客", "th": "ลูกค้า", "zh": "客户"}


class TemplateError(ValidationFailed):
    code = "email_template_invalid"


def detect_language(text: str, default: str = "en") -> str:
    """A cheap script-based guess (kana -> ja, Thai -> th, Han without kana -> zh)."""
    han = kana = thai = 0
    for ch in text[:2000]:
        code = ord(ch)
        if 0x3040 <= code <= 0x30FF:
            kana += 1
        elif 0x0E00 <= code <= 0x0E7F:
            thai += 1
        elif unicodedata.category(ch) == "Lo" and 0x4E00 <= code <= 0x9FFF:
            han += 1
    if kana:
        return "ja"
    if thai >= max(han, 1):
        return "th"
    if han:
        return "zh"
    return default if default in LANGUAGES else "en"


def render(template: MailTemplate, values: Mapping[str, str]) -> MailTemplate:
    """Fill a template; an unknown placeholder is a configuration error, not a silent gap."""
    try:
        return MailTemplate(
            string.Template(template.subject).substitute(values).strip(),
            string.Template(template.body).substitute(values),
        )
    except (KeyError, ValueError) as exc:
        raise TemplateError(
            f"template placeholder problem: {exc}", details={"placeholder": str(exc)}
        ) from exc


def render_ack(
    language: str,
    *,
    case_number: str,
    subject: str,
    customer_name: str,
    signature: str,
    templates: Mapping[str, MailTemplate] = ACK_TEMPLATES,
) -> MailTemplate:
    lang = language if language in templates else "en"
    return render(
        templates[lang],
        {
            "case_number": case_number,
            "case_token": f"[#{case_number}]",
            "subject": subject or "-",
            "customer_name": customer_name or DEFAULT_NAME.get(lang, "Customer"),
            "signature": signature,
        },
    )


class ReplyTemplates:
    """Named agent reply templates (canned responses) per language."""

    def __init__(self, templates: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._templates: dict[str, dict[str, str]] = {
            name: dict(by_lang) for name, by_lang in (templates or {}).items()
        }

    def names(self) -> list[str]:
        return sorted(self._templates)

    def catalogue(self) -> list[dict[str, object]]:
        """Each template with its languages and texts (placeholders unfilled), by name."""
        return [
            {"name": name, "languages": sorted(self._templates[name]),
             "texts": dict(sorted(self._templates[name].items()))}
            for name in self.names()
        ]  # fmt: skip

    def add(self, name: str, language: str, body: str) -> None:
        # Validate at registration so a broken template fails when saved, not when used.
        string.Template(body).get_identifiers()
        if not string.Template(body).is_valid():
            raise TemplateError(f"template {name!r} ({language}) has an invalid placeholder")
        self._templates.setdefault(name, {})[language] = body

    def render(self, name: str, language: str, values: Mapping[str, str]) -> str:
        by_lang = self._templates.get(name)
        if not by_lang:
            raise TemplateError(f"no reply template named {name!r}", details={"name": name})
        body = by_lang.get(language) or by_lang.get("en") or next(iter(by_lang.values()))
        return render(MailTemplate("", body), values).body
