"""CRM workflow services: complaints, follow-ups, surveys, privacy, retention, segmentation.

They sit between the pure rules (:mod:`ccserver.crm.rules`) and the store: load rows into
rule objects, apply the rule, write back with an audit row in the same transaction.
:class:`WorkflowServices` bundles them for the web routes and the scheduler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ccserver.crm.rules.config import CrmRules
from ccserver.crm.services.complaints import ComplaintService
from ccserver.crm.services.followups import FollowUpService
from ccserver.crm.services.privacy import PrivacyService
from ccserver.crm.services.surveys import SurveyService


@dataclass(frozen=True)
class WorkflowServices:
    rules: CrmRules
    complaints: ComplaintService
    followups: FollowUpService
    surveys: SurveyService
    privacy: PrivacyService


def workflow_services(
    sessions: async_sessionmaker[AsyncSession], rules: CrmRules, data_dir: Path | None = None
) -> WorkflowServices:
    """``data_dir``: where received files live (erasure deletes a customer's files)."""
    return WorkflowServices(
        rules=rules,
        complaints=ComplaintService(sessions, rules),
        followups=FollowUpService(sessions, rules),
        surveys=SurveyService(sessions, rules),
        privacy=PrivacyService(sessions, data_dir),
    )


__all__ = [
    "ComplaintService",
    "FollowUpService",
    "PrivacyService",
    "SurveyService",
    "WorkflowServices",
    "workflow_services",
]
