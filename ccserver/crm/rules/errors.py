"""Errors of the CRM practice rules, rooted in the ccserver error tree."""

from __future__ import annotations

from ccserver.errors import Conflict, ValidationFailed


class CrmRuleError(ValidationFailed):
    """A CRM rule rejected the input (422): the payload is well-formed but not acceptable."""

    code = "crm_rule_violation"


class UnknownCategory(CrmRuleError):
    code = "complaint_category_unknown"


class UnknownSeverity(CrmRuleError):
    code = "complaint_severity_unknown"


class InvalidValidity(CrmRuleError):
    code = "complaint_validity_invalid"


class ValidityNotAllowed(Conflict):
    """Validity can only be assessed while the complaint is being investigated."""

    code = "complaint_validity_not_allowed"


class ReviewIncomplete(CrmRuleError):
    """Closing a complaint needs the full plan-do-check-act review."""

    code = "complaint_review_incomplete"


class ResolutionMissing(CrmRuleError):
    code = "complaint_resolution_missing"


class InvalidAnswer(CrmRuleError):
    """A follow-up answer does not fit its question."""

    code = "followup_answer_invalid"


class UnknownChannel(CrmRuleError):
    code = "followup_channel_unknown"


class MissingAnswers(CrmRuleError):
    code = "followup_answers_missing"


class InvalidSurveyAnswer(CrmRuleError):
    code = "survey_answer_invalid"
