"""API authentication and authorization: bearer API keys acting with their user's role.

Each operation names its capability in its route, `auth=requires(Capability.X)`. Ninja runs auth
before it parses the body, so a role without the capability gets 403 whatever it sends, and the
permission tests read the capability from the operation's auth.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.security import HttpBearer

from carereach.errors import PermissionDeniedError
from carereach.security.permissions import has_capability
from carereach.security.roles import CAPABILITY_LABELS, Capability
from carereach.security.services import apikey_authenticate


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer cr_<prefix>_<secret>`; a revoked or unknown key is a 401."""

    def __init__(self, capability: Capability | None = None) -> None:
        super().__init__()
        self.capability = capability

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        key = apikey_authenticate(token)
        if key is None:
            return None
        request.user = key.user
        if self.capability is not None and not has_capability(key.user, self.capability):
            raise PermissionDeniedError(
                f"Your role may not do this: it needs “{CAPABILITY_LABELS[self.capability]}”.",
                code="forbidden",
            )
        return key.user


def requires(capability: Capability) -> ApiKeyAuth:
    """The auth of an operation that needs `capability`."""
    return ApiKeyAuth(capability)
