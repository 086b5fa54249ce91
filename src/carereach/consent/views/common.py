"""What the consent pages share: reason texts, the acting person's evidence, public headers."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from carereach.consent import links
from carereach.vocabulary import Channel

REASONS = {
    "consented": "Yes",
    "no_consent": "No: never given",
    "consent_pending": "No: waiting for confirmation",
    "consent_revoked": "No: revoked",
    "consent_expired": "No: expired",
    "program_closed": "No: program closed",
    "channel_not_in_program": "No: program no longer uses this channel",
}


def client_evidence(request: HttpRequest) -> dict[str, str]:
    """IP and user agent of the person acting (REMOTE_ADDR: the proxy must set it right)."""
    return {
        "ip": str(request.META.get("REMOTE_ADDR", "")),
        "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:300],
    }


def channel_label(channel: str) -> str:
    return Channel(channel).label if channel in Channel.values else channel


def posted(request: HttpRequest) -> Any:
    """The form data of a POST, even an empty one (which must fail, not show a blank form)."""
    return request.POST if request.method == "POST" else None


def private(response: HttpResponse) -> HttpResponse:
    # same-origin, not no-referrer: the token in the address must not leak to other sites (the
    # program's terms link), but under no-referrer browsers send `Origin: null` with the page's
    # own POST, and Django's CSRF check refuses it.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def link_failed(
    request: HttpRequest, error: links.LinkInvalid, *, days: int = links.LINK_MAX_AGE.days
) -> HttpResponse:
    """A plain page that says nothing about whose link it was."""
    expired = isinstance(error, links.LinkExpired)
    response = render(
        request,
        "consent/link_invalid.html",
        {"expired": expired, "days": days},
        status=410 if expired else 404,
    )
    return private(response)
