"""One error hierarchy for the whole product.

Every layer raises these; the API maps them to 4xx JSON once, the console shows the message next
to the field, and the CLI prints one line and exits 2.
"""

from __future__ import annotations


class CarereachError(Exception):
    """A failure the caller can understand and act on; never carries PHI in its message."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        return data


class ValidationError(CarereachError):
    """Input that breaks a rule; `field` names the input at fault."""

    code = "invalid"
    status = 400


class NotFoundError(CarereachError):
    """The object does not exist, or the actor may not know that it does."""

    code = "not_found"
    status = 404


class PermissionDeniedError(CarereachError):
    """The actor is known but their role may not do this."""

    code = "forbidden"
    status = 403


class ConflictError(CarereachError):
    """The request clashes with the current state (a duplicate, a stale version)."""

    code = "conflict"
    status = 409


class ConfigError(CarereachError):
    """A setting is missing or malformed; the message names the variable and what it expects."""

    code = "config"
    status = 500
