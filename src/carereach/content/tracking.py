"""Tracked links after sending: delivery receipts and clicks.

`link_delivered` is called by the delivery engine when a message's delivery receipt arrives; it
stamps the message's links so a request within a second of delivery counts as a machine's, and
re-counts clicks that arrived before the receipt did. `link_click_record` is what `GET /l/<token>`
calls: it records every request, says where to redirect, and whether the content is still
available (expired or withdrawn content gets a "no longer available" page instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from carereach.content.clicks import PREFETCH_WINDOW, click_kind
from carereach.content.eligibility import Reason, version_availability
from carereach.content.models import ClickKind, LinkClick, TrackedLink

TOKEN_PATTERN = r"[A-Za-z0-9]{8,32}"  # noqa: S105 - a regular expression, not a secret


@dataclass(frozen=True)
class ClickOutcome:
    found: bool  # False: unknown token (a plain 404)
    available: bool = False  # False: the content was expired or withdrawn
    url: str = ""  # where to send the person when available
    kind: str = ""  # how the request was counted (ClickKind)


def link_delivered(*, message_key: str, at: datetime) -> int:
    """Record that the message was delivered at `at`; returns how many links it carries."""
    with transaction.atomic():
        links = TrackedLink.objects.filter(message_key=message_key)
        count = links.update(delivered_at=at)
        LinkClick.objects.filter(
            link__message_key=message_key, kind=ClickKind.HUMAN, at__lt=at + PREFETCH_WINDOW
        ).update(kind=ClickKind.PREFETCH)
    return count


def link_click_record(
    *, token: str, method: str, user_agent: str, at: datetime | None = None
) -> ClickOutcome:
    """Record one request for a tracked link and say what to answer."""
    at = at or timezone.now()
    link = TrackedLink.objects.select_related("version").filter(token=token).first()
    if link is None:
        return ClickOutcome(found=False)
    available = version_availability(link.version, at) == Reason.ELIGIBLE
    kind = click_kind(method=method, user_agent=user_agent, at=at, delivered_at=link.delivered_at)
    LinkClick.objects.create(
        link=link,
        at=at,
        kind=kind,
        method=method.upper()[:8],
        user_agent=user_agent[:300],
        available=available,
    )
    return ClickOutcome(found=True, available=available, url=link.url, kind=kind)
