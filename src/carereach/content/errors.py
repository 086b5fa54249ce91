"""Errors of the content app, all CarereachErrors: the API maps them once, the console by field."""

from __future__ import annotations

from carereach.errors import ConflictError, ValidationError


class ContentUnavailableError(ConflictError):
    """The version may not be sent: a draft, in review, outside its window, or withdrawn."""

    code = "content_unavailable"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "reason": self.reason}


class NotEligibleError(ValidationError):
    """The version may not go to this contact (kind, specialty, language, territory, PHI)."""

    code = "not_eligible"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "reason": self.reason}


class RequiredBlockError(ValidationError):
    """A required block (fair balance, STOP line, postal address, unsubscribe) is missing."""

    code = "required_block"


class PhiFoundError(ValidationError):
    """The PHI guard found health information in a patient-facing body."""

    code = "phi"


class SegmentLimitError(ValidationError):
    """An SMS body needs more segments than its program allows."""

    code = "segment_limit"
