"""Template context shared by every console page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from carereach.console.navigation import NAVIGATION
from carereach.security.permissions import capabilities_of, roles_of
from carereach.security.roles import ROLE_LABELS


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    capabilities = capabilities_of(user)
    current = request.path
    items = []
    for item in NAVIGATION:
        if item.capability in capabilities:
            url = reverse(item.url_name)
            items.append({"label": item.label, "url": url, "current": current == url})
    roles = roles_of(user)
    return {
        "nav_items": items,
        "role_label": ", ".join(ROLE_LABELS[role] for role in roles),
        "idle_logout_minutes": settings.IDLE_LOGOUT_MINUTES,
    }
