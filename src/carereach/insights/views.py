"""Console fragment: next best content on an HCP's page, for the rep who visits them."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from carereach.audience.selectors import contact_get_for_user
from carereach.errors import NotFoundError
from carereach.insights.next_content import next_best_content
from carereach.security.permissions import acting_user, require_capability
from carereach.security.roles import Capability


@require_capability(Capability.VIEW_CONTACTS)
@require_GET
def next_content_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    try:  # another territory's HCP is "not found", like everywhere else
        contact = contact_get_for_user(user=acting_user(request), contact_id=contact_id)
    except NotFoundError as error:
        raise Http404(error.message) from None
    context = {"contact": contact, "suggestions": next_best_content(contact=contact)}
    return render(request, "insights/next_content_part.html", context)
