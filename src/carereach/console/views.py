"""Console shell pages: sign-in, sign-out, dashboard and one's own API keys."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from carereach.console.selectors import dashboard_counts
from carereach.errors import CarereachError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import acting_user, require_capability
from carereach.security.roles import Capability
from carereach.security.selectors import apikeys_for_user
from carereach.security.services import apikey_create, apikey_revoke


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = ""
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url or "console:dashboard")
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            user = form.get_user()
            login(request, user)
            audit_record(actor=user, action=AuditAction.SIGN_IN, object_type="session")
            return redirect(next_url or "console:dashboard")
        audit_record(
            actor=None,
            action=AuditAction.SIGN_IN_FAILED,
            object_type="session",
            note=f"username={request.POST.get('username', '')[:150]}",
        )
    status = 200 if not form.errors else 401
    return render(request, "console/login.html", {"form": form, "next": next_url}, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit_record(actor=request.user, action=AuditAction.SIGN_OUT, object_type="session")
    logout(request)
    messages.info(request, "You are signed out.")
    return redirect("console:login")


@require_capability(Capability.VIEW_DASHBOARD)
def dashboard_view(request: HttpRequest) -> HttpResponse:
    counts = dashboard_counts(user=acting_user(request))
    return render(request, "console/dashboard.html", {"counts": counts})


@require_capability(Capability.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def apikeys_view(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    issued = None
    error = None
    if request.method == "POST":
        try:
            if "revoke" in request.POST:
                apikey_revoke(
                    key_id=int(request.POST["revoke"]),
                    user=user,
                    actor=user,
                )
                messages.success(request, "The key is revoked; requests with it now get 401.")
                return redirect("console:apikeys")
            issued = apikey_create(
                user=user,
                name=request.POST.get("name", ""),
                actor=user,
            )
        except (CarereachError, ValueError) as exc:
            error = exc.message if isinstance(exc, CarereachError) else "Unknown key."
    context = {
        "keys": apikeys_for_user(user=user),
        "issued": issued,
        "error": error,
    }
    return render(request, "console/apikeys.html", context, status=400 if error else 200)


def forbidden_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def not_found_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error_view(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
