"""Retention rules from crm.toml ``[retention.<table>]``: parsed with errors that name the
key, and applied by the scheduler's retention job to the database (SQLite, PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.models import AuditEntry, Contact, Message, PendingWork, SurveyResponse
from ccserver.crm.rules.config import CrmRules, load_crm_rules, parse_crm_rules
from ccserver.crm.rules.retention import DEFAULT_RULES, RetentionRule
from ccserver.crm.services import workflow_services
from ccserver.errors import ConfigError
from ccserver.runtime.scheduler import WorkflowJobs
from ccserver.settings import PACKAGE_ROOT

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def test_shipped_file_holds_the_default_rules() -> None:
    rules = load_crm_rules(PACKAGE_ROOT / "config" / "crm.toml")
    assert rules.retention == DEFAULT_RULES == CrmRules().retention


def test_named_tables_override_and_keep_switches_off() -> None:
    rules = parse_crm_rules(
        {
            "retention": {
                "messages": {"days": 30, "action": "delete"},
                "audit_log": {"action": "keep"},
            }
        }
    ).retention
    assert set(rules) == {
        RetentionRule("messages", 30, "delete"),
        RetentionRule("survey_responses", 730, "clear"),  # not named: the default
        RetentionRule("pending_work", 30, "delete"),
    }


@pytest.mark.parametrize(
    ("section", "key", "problem"),
    [
        ({"contacts": {"days": 1, "action": "delete"}}, "retention.contacts", "unknown table"),
        ({"messages": {"dayz": 1, "action": "clear"}}, "retention.messages.dayz", "unknown key"),
        ({"audit_log": {"days": 9, "action": "clear"}}, "retention.audit_log.action", "one of"),
        ({"messages": {"days": 9}}, "retention.messages.action", "required"),
        ({"messages": {"days": 0, "action": "clear"}}, "retention.messages.days", ">= 1"),
        ({"messages": 5}, "retention.messages", "table"),
    ],
)
def test_bad_retention_names_the_key(section: dict[str, object], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_crm_rules({"retention": section}, "site.toml")
    assert caught.value.details == {"file": "site.toml", "key": key}
    assert problem in str(caught.value) and str(caught.value).startswith("site.toml: ")


async def test_scheduler_applies_the_configured_rules(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    crm_toml = tmp_path / "crm.toml"
    shutil.copy(PACKAGE_ROOT / "config" / "crm.toml", crm_toml)
    # A site edits the shipped tables: messages deleted after 30 days, audit log rule gone
    # (then the default applies - so it is switched off with action = "keep").
    text = crm_toml.read_text(encoding="utf-8")
    text = text.replace(
        '[retention.messages]\ndays = 730\naction = "clear"',
        '[retention.messages]\ndays = 30\naction = "delete"',
    ).replace(
        '[retention.audit_log]\ndays = 2555\naction = "delete"',
        '[retention.audit_log]\naction = "keep"',
    )
    crm_toml.write_text(text, encoding="utf-8")
    rules = load_crm_rules(crm_toml)
    assert {r.table for r in rules.retention} == {"messages", "survey_responses", "pending_work"}

    async with sessions.begin() as s:
        contact = Contact(interaction_id="ret", channel="email", started_at=T0)
        s.add(contact)
        await s.flush()
        for age, body in ((40, "old"), (10, "new")):
            s.add(
                Message(
                    contact_id=contact.id,
                    direction="inbound",
                    body_text=body,
                    created_at=T0 - age * DAY,
                )
            )
        s.add(SurveyResponse(csat=5, text="lovely", created_at=T0 - 800 * DAY))
        s.add(AuditEntry(actor="x", action="read", entity="customer", at=T0 - 9000 * DAY))
        # Ended work goes after 30 days; work still pending stays however old it is.
        for item, state, age in (("sent-old", "sent", 40), ("sent-new", "sent", 5),
                                 ("waiting-old", "pending", 400)):  # fmt: skip
            s.add(PendingWork(id=item, kind="email_delivery", state=state,
                              updated_at=T0 - age * DAY))  # fmt: skip

    jobs = WorkflowJobs(sessions=sessions, services=workflow_services(sessions, rules))
    counts = await jobs.retention(now=T0)
    assert counts == {"messages:delete": 1, "survey_responses:clear": 1, "pending_work:delete": 1}
    async with sessions() as s:
        assert list(await s.scalars(select(Message.body_text))) == ["new"]
        assert list(await s.scalars(select(SurveyResponse.text))) == [None]
        assert list(await s.scalars(select(SurveyResponse.csat))) == [5]  # scores stay
        kept = await s.scalars(select(PendingWork.id).order_by(PendingWork.id))
        assert list(kept) == ["sent-new", "waiting-old"]
        # The audit log rule was switched off: the 25-year-old row is still there.
        old = await s.scalars(select(AuditEntry.action).where(AuditEntry.action == "read"))
        assert list(old) == ["read"]


async def test_files_of_cleared_messages_are_deleted_with_them(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """The mail as received and chat files sit on disk; when retention clears the messages
    that point at them, the files go too (a newer message keeps its file)."""
    from ccserver.crm.services.retention import apply_retention

    data = tmp_path / "data"
    old_mail, old_chat, new_mail = (
        data / "mail/aa/old.eml",
        data / "attachments/chat/chat-9/f-old",
        data / "mail/bb/new.eml",
    )
    for path in (old_mail, old_chat, new_mail):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"customer data")
    async with sessions.begin() as s:
        contact = Contact(interaction_id="files", channel="email", started_at=T0)
        s.add(contact)
        await s.flush()
        s.add(Message(contact_id=contact.id, direction="inbound", body_text="old mail",
                      headers={"raw_ref": "aa/old.eml"}, created_at=T0 - 800 * DAY))  # fmt: skip
        s.add(Message(contact_id=contact.id, direction="inbound", body_text="photo.png",
                      attachments=[{"id": "f-old", "interaction_id": "chat-9"}],
                      created_at=T0 - 800 * DAY))  # fmt: skip
        s.add(Message(contact_id=contact.id, direction="inbound", body_text="new mail",
                      headers={"raw_ref": "bb/new.eml"}, created_at=T0 - 10 * DAY))  # fmt: skip
    rules = (RetentionRule("messages", 730, "clear"),)
    counts = await apply_retention(sessions, rules, T0, data)
    assert counts == {"messages:clear": 2, "files:delete": 2}
    assert (old_mail.exists(), old_chat.exists(), new_mail.exists()) == (False, False, True)
    # The next run finds the cleared rows without references: nothing more to delete.
    assert await apply_retention(sessions, rules, T0, data) == {
        "messages:clear": 2,
        "files:delete": 0,
    }
