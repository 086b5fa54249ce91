"""Letter batches for operators: the list, and each day's PDF and manifest to download.

The files hold names and postal addresses, so downloading needs `view_phi` besides
`run_campaigns`, and every download is audited (what and which day, never the content).
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from carereach.channels.selectors import letter_batch_on, letter_batches
from carereach.channels.services import letter_batch_pdf
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import acting_user, has_capability, require_capability
from carereach.security.roles import Capability


@require_capability(Capability.RUN_CAMPAIGNS)
@require_GET
def letters_view(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    return render(
        request,
        "messaging/letters.html",
        {"batches": letter_batches(), "may_download": has_capability(user, Capability.VIEW_PHI)},
    )


@require_capability(Capability.RUN_CAMPAIGNS)
@require_GET
def letter_batch_file_view(request: HttpRequest, day: str, kind: str) -> HttpResponse:
    user = acting_user(request)
    if not has_capability(user, Capability.VIEW_PHI):
        raise PermissionDenied
    try:
        batch = letter_batch_on(day=date.fromisoformat(day))
    except ValueError:
        batch = None
    if batch is None or kind not in ("pdf", "csv"):
        raise Http404("No letter batch for that day.")
    if kind == "pdf":
        response = HttpResponse(letter_batch_pdf(batch), content_type="application/pdf")
    else:
        response = HttpResponse(batch.manifest or "", content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="letters-{batch.date}.{kind}"'
    response["Cache-Control"] = "no-store"
    audit_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type="letter_batch",
        object_id=batch.pk,
        note=f"{kind} of {batch.date}: {batch.letters} letters",
    )
    return response
