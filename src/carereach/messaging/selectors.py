"""Reads of the messaging app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from carereach.messaging.models import Heartbeat, Message, MessageEvent, ProcessKind


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
