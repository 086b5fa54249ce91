"""Background work of engagement, called by the scheduler loop (one leader at a time).

`engagement_tick()` begins series releases whose episode's window has opened, advances running
ones for a bounded time, and sends the meeting reminders that are due. Tests call it directly.
"""

from __future__ import annotations

import logging
import time as clock
from datetime import datetime

from django.db.models import Q
from django.utils import timezone

from carereach.engagement.models import ReleaseStatus, SeriesRelease
from carereach.engagement.services.followups import meetings_remind_due
from carereach.engagement.services.series import series_release_advance

logger = logging.getLogger(__name__)

TICK_BUDGET_SECONDS = 5.0


def engagement_tick(
    *, now: datetime | None = None, budget_seconds: float = TICK_BUDGET_SECONDS
) -> int:
    """One scheduler pass; returns the release batches done."""
    at = now or timezone.now()
    due = (
        SeriesRelease.objects.filter(
            Q(status=ReleaseStatus.SCHEDULED, begins_at__lte=at) | Q(status=ReleaseStatus.RUNNING)
        )
        .order_by("begins_at", "pk")
        .values_list("pk", flat=True)
    )
    deadline = clock.monotonic() + budget_seconds
    batches = 0
    for release_id in list(due):
        try:
            batches += series_release_advance(release_id=release_id, now=now, deadline=deadline)
        except Exception:  # one release's failure must not stop the others or the scheduler
            logger.exception("series release %s could not advance; retried next tick", release_id)
    try:
        meetings_remind_due(now=now)
    except Exception:
        logger.exception("meeting reminders failed; retried next tick")
    return batches
