"""Tracked links after sending: delivery receipts and clicks.

`link_delivered` is called by the delivery engine when a message's delivery receipt arrives; it
stamps the message's links so a request within a second of delivery counts as a machine's, and
re-counts clicks that arrived before the receipt did. `link_click_record` is what `GET /l/<token>`
calls: it records every request, says where to redirect, and whether the content is still
available (expired or withdrawn content gets a "no longer available" page instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from carereach.bulk import insert_rows
from carereach.content.clicks import PREFETCH_WINDOW, click_kind
from carereach.content.eligibility import Reason, version_availability
from carereach.content.models import ClickKind, ContentVersion, LinkClick, TrackedLink

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


@dataclass(frozen=True)
class LinkTarget:
    """What a token stands for; never changes once the link exists."""

    link_id: int
    url: str
    version_id: int


@dataclass(frozen=True)
class ClickRecord:
    """One request for a tracked link, answered already, waiting to be stored."""

    link_id: int
    at: datetime
    method: str
    user_agent: str
    available: bool


def link_targets(*, tokens: Sequence[str]) -> dict[str, LinkTarget]:
    """What each of these tokens stands for (one query); unknown tokens are left out."""
    rows = TrackedLink.objects.filter(token__in=set(tokens)).values_list(
        "token", "pk", "url", "version_id"
    )
    return {
        token: LinkTarget(link_id=pk, url=url, version_id=version_id)
        for token, pk, url, version_id in rows
    }


def link_version(*, version_id: int) -> ContentVersion | None:
    """The version a link belongs to, with what `version_available` reads."""
    return ContentVersion.objects.filter(pk=version_id).first()


def version_available(version: ContentVersion, at: datetime) -> bool:
    return version_availability(version, at) == Reason.ELIGIBLE


_CLICK_COLUMNS = ("link_id", "at", "kind", "method", "user_agent", "available")


def link_clicks_record(*, clicks: Sequence[ClickRecord]) -> int:
    """Store a batch of link requests in one transaction; returns how many.

    Each is classified (HEAD, scanner, prefetch, person) against its link's delivery time as
    read now, in the same transaction, so a request answered before the receipt arrived still
    counts as a prefetch when it came within a second of delivery. On PostgreSQL the commit does
    not wait for the disk (`synchronous_commit = off`): the row is visible at once and durable
    within a fraction of a second; a click is worth less than the throughput that would cost.
    """
    if not clicks:
        return 0
    link_ids = {click.link_id for click in clicks}
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        delivered = dict(
            TrackedLink.objects.filter(pk__in=link_ids).values_list("pk", "delivered_at")
        )
        rows = [
            (
                click.link_id,
                adapt(click.at),
                click_kind(
                    method=click.method,
                    user_agent=click.user_agent,
                    at=click.at,
                    delivered_at=delivered.get(click.link_id),
                ).value,
                click.method.upper()[:8],
                click.user_agent[:300],
                click.available,
            )
            for click in clicks
            if click.link_id in delivered  # a link erased meanwhile takes its clicks along
        ]
        return insert_rows(table=LinkClick._meta.db_table, columns=_CLICK_COLUMNS, rows=rows)
