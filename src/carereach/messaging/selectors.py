"""Reads of the messaging app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.messaging.models import (
    Heartbeat,
    InboundMessage,
    Message,
    MessageEvent,
    MessageStatus,
    ProcessKind,
)


@dataclass(frozen=True)
class LiveProcesses:
    workers: int
    schedulers: int


def live_processes() -> LiveProcesses:
    """Processes whose heartbeat is fresher than CARE_WORKER_STALE_SECONDS, in one query."""
    since = timezone.now() - timedelta(seconds=settings.WORKER_STALE_SECONDS)
    counts = Heartbeat.objects.filter(beat_at__gte=since).aggregate(
        workers=Count("id", filter=Q(kind=ProcessKind.WORKER)),
        schedulers=Count("id", filter=Q(kind=ProcessKind.SCHEDULER)),
    )
    return LiveProcesses(workers=counts["workers"], schedulers=counts["schedulers"])


def messages_for_contact(*, contact_id: int, limit: int = 200) -> QuerySet[Message]:
    """A contact's messages and skips, newest first (the contact page's timeline)."""
    return (
        Message.objects.filter(contact_id=contact_id)
        .select_related("program")
        .order_by("-created_at", "-id")[:limit]
    )


def message_get(*, message_id: int) -> Message | None:
    return Message.objects.select_related("program", "contact").filter(pk=message_id).first()


def message_events(*, message: Message) -> QuerySet[MessageEvent]:
    return MessageEvent.objects.filter(message=message).order_by("at", "id")


def inbox_for_contacts(
    *, contacts: QuerySet[Contact], strangers: bool, review_only: bool, limit: int = 100
) -> list[InboundMessage]:
    """Inbound texts newest first: from the given contacts, and from unknown numbers when
    `strangers` (only roles that see every territory may)."""
    mine = Q(contact__in=contacts.values("pk"))
    rows = InboundMessage.objects.filter(mine | Q(contact__isnull=True) if strangers else mine)
    if review_only:
        rows = rows.filter(needs_review=True)
    return list(rows.select_related("contact").order_by("-received_at", "-id")[:limit])


def conversation(*, number: str, limit: int = 100) -> list[InboundMessage | Message]:
    """Texts both ways with one number, oldest first (the last `limit` of each)."""
    inbound = list(
        InboundMessage.objects.filter(from_number=number).order_by("-received_at")[:limit]
    )
    outbound = list(
        Message.objects.filter(address=number, channel="sms", sent_at__isnull=False).order_by(
            "-sent_at"
        )[:limit]
    )

    def when(item: InboundMessage | Message) -> datetime:
        if isinstance(item, InboundMessage):
            return item.received_at
        return item.sent_at or item.created_at

    return sorted([*inbound, *outbound], key=when)


def last_sent_message(*, contact_id: int, since: datetime, until: datetime) -> Message | None:
    """The last message the provider accepted for this contact in [since, until] that was not
    reported undelivered or failed: what a conversion at `until` is credited to."""
    return (
        Message.objects.filter(
            contact_id=contact_id, sent_at__gte=since, sent_at__lte=until, sent_at__isnull=False
        )
        .exclude(status__in=[MessageStatus.UNDELIVERED, MessageStatus.FAILED])
        .order_by("-sent_at", "-id")
        .first()
    )
