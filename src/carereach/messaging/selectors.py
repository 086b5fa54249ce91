"""Reads of the messaging app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from carereach.messaging.models import Heartbeat, ProcessKind


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
