"""`GET /l/<token>`: a tracked link in a message. Public: the token is all it takes.

Every request is recorded (HEAD requests, scanners and prefetches too, marked as such); a person
is redirected to the link's target, or shown a "no longer available" page when the content was
withdrawn or expired. An unknown or malformed token gets a plain 404 that says nothing more.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from carereach.content.tracking import TOKEN_PATTERN, link_click_record

_TOKEN = re.compile(TOKEN_PATTERN)


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "content/link_not_found.html", status=404)


@never_cache
@require_http_methods(["GET", "HEAD"])
def link_view(request: HttpRequest, token: str) -> HttpResponse:
    if not _TOKEN.fullmatch(token):
        return _not_found(request)
    outcome = link_click_record(
        token=token,
        method=request.method or "GET",
        user_agent=str(request.META.get("HTTP_USER_AGENT", "")),
    )
    if not outcome.found:
        return _not_found(request)
    if not outcome.available:
        return render(request, "content/link_unavailable.html", status=410)
    response = HttpResponseRedirect(outcome.url)
    response["Referrer-Policy"] = "no-referrer"
    return response
