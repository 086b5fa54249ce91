"""Request ids on every request, and automatic log-off after idle minutes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from carereach.security.audit import audit_record
from carereach.security.context import request_id_scope
from carereach.security.models import AuditAction

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
LAST_SEEN_KEY = "care_last_seen"


class RequestIdMiddleware:
    """Takes a sane X-Request-ID from a proxy or makes one; logs and audit entries carry it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        with request_id_scope(incoming if _SAFE_ID.match(incoming) else None) as request_id:
            request.request_id = request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            return response


class IdleLogoutMiddleware:
    """Signs a console user out after CARE_IDLE_LOGOUT_MINUTES without a request.

    The session cookie expires on the same clock; this also covers a session kept alive by
    other means, and says why the user is back at the sign-in page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last_seen = request.session.get(LAST_SEEN_KEY)
            idle_limit = settings.IDLE_LOGOUT_MINUTES * 60
            if isinstance(last_seen, int | float) and now - last_seen > idle_limit:
                audit_record(
                    actor=user,
                    action=AuditAction.SIGN_OUT,
                    object_type="session",
                    note="idle timeout",
                )
                logout(request)
                messages.info(
                    request,
                    f"You were signed out after {settings.IDLE_LOGOUT_MINUTES} idle minutes.",
                )
            else:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)
