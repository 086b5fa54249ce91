"""Security pages of the console: the audit log for admins."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from carereach.security.forms import AuditFilterForm
from carereach.security.permissions import require_capability
from carereach.security.roles import Capability
from carereach.security.selectors import AuditFilter, audit_entries, audit_object_types

PAGE_SIZE = 50


@require_capability(Capability.VIEW_AUDIT)
def audit_view(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    entries = audit_entries(filters=AuditFilter())
    status = 200
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            entries = audit_entries(
                filters=AuditFilter(
                    actor=data["actor"],
                    action=data["action"],
                    object_type=data["object_type"],
                    object_id=data["object_id"],
                    since=data["since"],
                    until=data["until"],
                )
            )
        else:
            entries = entries.none()
            status = 400
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "object_types": audit_object_types(),
        "query": query.urlencode(),
    }
    return render(request, "security/audit_list.html", context, status=status)
