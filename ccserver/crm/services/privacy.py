"""Data-subject requests over HTTP-free services: export everything held about a customer
(JSON) and erase (anonymise keeping statistics), both audited.

The customer store does the core of both (:mod:`ccserver.crm.customer_privacy`); this
service adds the workflow records it does not clear — follow-up outcomes, complaint
order references and PDCA texts that may quote the customer — and the CSI ratings kept
in survey audit rows, so an erased customer leaves only counts, scores and times behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm import stored_files
from ccserver.crm.audit import SYSTEM, Actor
from ccserver.crm.customers import CustomerService
from ccserver.crm.models import AuditEntry, Complaint, Contact, FollowUp, Message, SurveyResponse


class PrivacyService:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], data_dir: Path | None = None
    ) -> None:
        self._sessions = sessions
        self._customers = CustomerService(sessions)
        # Files the customer sent live under the data directory, not in the database:
        # mail as received, chat files, complaint attachments. Erasure removes them too.
        self._data_dir = data_dir

    async def export(self, customer_id: str, *, actor: Actor = SYSTEM) -> dict[str, Any]:
        """Every record linked to the customer, as JSON-ready data (audited as ``export``)."""
        # Survey ratings are a column of survey_responses (migration 0002): exported as is.
        return await self._customers.export(customer_id, actor=actor)

    async def erase(self, customer_id: str, *, actor: Actor = SYSTEM) -> dict[str, Any]:
        """Anonymise the customer and its workflow records; counts and scores stay. The
        files they sent are deleted once the records no longer point at them."""
        files = await self._files(customer_id)  # read first: erasure clears the references
        view = await self._customers.erase(customer_id, actor=actor)
        async with self._sessions.begin() as session:
            await session.execute(
                update(FollowUp).where(FollowUp.customer_id == customer_id).values(outcome=None)
            )
            await session.execute(
                update(Complaint)
                .where(Complaint.customer_id == customer_id)
                .values(order_ref=None, root_cause=None, corrective_action=None, attachments=[])
            )
            ids = select(SurveyResponse.id).where(SurveyResponse.customer_id == customer_id)
            # Ratings are scores, not PII, but follow-up ids in the same details link back.
            rows = await session.execute(
                select(AuditEntry).where(
                    AuditEntry.entity == "survey_response", AuditEntry.entity_id.in_(ids)
                )
            )
            for (entry,) in rows.all():
                entry.details = {"ratings": dict(entry.details.get("ratings") or {})}
        removed = await asyncio.to_thread(stored_files.remove, files)
        return {"id": view.id, "erased": True, "files_removed": removed}

    @property
    def data_dir(self) -> Path | None:
        return self._data_dir

    async def _files(self, customer_id: str) -> list[Path]:
        """Files under the data directory that hold what this customer sent."""
        if self._data_dir is None:
            return []
        refs: list[str] = []
        async with self._sessions() as session:
            contacts = select(Contact.id).where(Contact.customer_id == customer_id)
            messages = await session.execute(
                select(Message.headers, Message.attachments).where(Message.contact_id.in_(contacts))
            )
            for headers, attachments in messages.all():
                refs += stored_files.message_refs(headers, attachments)
            complaints = await session.execute(
                select(Complaint.id, Complaint.attachments).where(
                    Complaint.customer_id == customer_id
                )
            )
            for complaint_id, attachments in complaints.all():
                refs += stored_files.complaint_refs(complaint_id, attachments)
        return stored_files.under(self._data_dir, refs)
