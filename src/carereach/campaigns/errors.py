"""Errors of the campaigns app: every problem of a campaign at once, each by its field."""

from __future__ import annotations

from carereach.errors import ValidationError


class CampaignInvalidError(ValidationError):
    """A campaign that may not be saved or started; `problems` lists (field, message) pairs.

    The console shows each message by its field; the API returns them as `errors`."""

    code = "invalid"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        field, message = problems[0]
        super().__init__(message, field=field or None)
        self.problems = problems

    def as_dict(self) -> dict[str, object]:
        return {
            **super().as_dict(),
            "errors": [{"field": field, "message": message} for field, message in self.problems],
        }
