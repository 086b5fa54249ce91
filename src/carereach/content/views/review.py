"""The compliance reviewer's pages: the queue; one version with its diff, preview and decision."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from carereach.content.diffing import version_diff
from carereach.content.forms import ApproveForm, ChangesForm, WithdrawForm
from carereach.content.models import ContentVersion, VersionStatus
from carereach.content.rendering import version_phi, version_problems
from carereach.content.samples import SAMPLE_RECIPIENTS
from carereach.content.selectors import (
    phi_terms_all,
    version_get,
    version_previous_approved,
    version_text,
    versions_approved,
    versions_in_review,
    versions_retired,
)
from carereach.content.services import version_approve, version_request_changes, version_withdraw
from carereach.content.views.common import is_htmx
from carereach.content.views.composer import preview_response
from carereach.errors import CarereachError, NotFoundError
from carereach.security.permissions import acting_user, require_capability
from carereach.security.roles import Capability


def _version_or_404(version_id: int) -> ContentVersion:
    try:
        return version_get(version_id=version_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


@require_capability(Capability.REVIEW_CONTENT)
def review_queue_view(request: HttpRequest) -> HttpResponse:
    context = {
        "waiting": versions_in_review(),
        "approved": versions_approved(),
        "retired": versions_retired(),
        "now": timezone.now(),
        "phi_terms": phi_terms_all(),
    }
    return render(request, "content/review_queue.html", context)


def _review_context(version: ContentVersion, **forms: Any) -> dict[str, Any]:
    previous = version_previous_approved(version=version) or (
        version_get(version_id=version.based_on_id) if version.based_on_id else None
    )
    sections = version_diff(version_text(previous), version_text(version)) if previous else []
    return {
        "version": version,
        "item": version.item,
        "previous": previous,
        "sections": sections,
        "problems": version_problems(version) if version.status == VersionStatus.IN_REVIEW else [],
        "phi": version_phi(version),
        "events": version.events.select_related("actor").order_by("at", "id"),
        "samples": SAMPLE_RECIPIENTS,
        "approve_form": forms.get("approve_form") or ApproveForm(initial=ApproveForm.defaults()),
        "changes_form": forms.get("changes_form") or ChangesForm(),
        "withdraw_form": forms.get("withdraw_form") or WithdrawForm(),
        "error": forms.get("error"),
    }


@require_capability(Capability.REVIEW_CONTENT)
@require_http_methods(["GET", "POST"])
def review_view(request: HttpRequest, version_id: int) -> HttpResponse:
    """One version under review (or approved): approve, request changes, or withdraw."""
    version = _version_or_404(version_id)
    if request.method == "GET":
        return render(request, "content/review_detail.html", _review_context(version))
    actor = acting_user(request)
    action = request.POST.get("action", "")
    forms: dict[str, Any] = {}
    try:
        if action == "approve":
            form = ApproveForm(request.POST)
            forms["approve_form"] = form
            if form.is_valid():
                data = form.cleaned_data
                version_approve(
                    version=version,
                    actor=actor,
                    review_code=data["review_code"],
                    valid_from=data["valid_from"],
                    valid_until=data["valid_until"],
                    comments=data["comments"],
                    supersede=data["supersede"],
                )
                messages.success(request, f"{version.item.title} {version.label} approved.")
                return redirect("content:review_queue")
        elif action == "changes":
            changes = ChangesForm(request.POST)
            forms["changes_form"] = changes
            if changes.is_valid():
                version_request_changes(
                    version=version, actor=actor, comments=changes.cleaned_data["comments"]
                )
                messages.success(request, f"{version.label} sent back to its author.")
                return redirect("content:review_queue")
        elif action == "withdraw":
            withdraw = WithdrawForm(request.POST)
            forms["withdraw_form"] = withdraw
            if withdraw.is_valid():
                retirement = version_withdraw(
                    version=version, actor=actor, reason=withdraw.cleaned_data["reason"]
                )
                messages.success(
                    request,
                    f"{version.item.title} {version.label} withdrawn; "
                    f"{retirement.cancelled} queued message(s) cancelled and its links disabled.",
                )
                return redirect("content:review_queue")
        else:
            raise Http404("No such action.")
    except CarereachError as error:
        forms["error"] = error
    version = _version_or_404(version_id)
    return render(
        request, "content/review_detail.html", _review_context(version, **forms), status=400
    )


@require_capability(Capability.REVIEW_CONTENT)
def review_preview_view(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version_or_404(version_id)
    if is_htmx(request):
        return preview_response(request, version)
    return preview_response(request, version, template="content/version_preview.html")
