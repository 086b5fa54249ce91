"""Background work of journeys, called by the scheduler loop (one leader at a time)."""

from __future__ import annotations

import time as clock
from datetime import datetime

from carereach.journeys.services.engine import BATCH, enrolments_advance_due

TICK_BUDGET_SECONDS = 5.0


def journeys_advance_due(
    *, now: datetime | None = None, budget_seconds: float = TICK_BUDGET_SECONDS
) -> int:
    """Advance due enrolments, batch after batch, for up to `budget_seconds`; returns how many."""
    deadline = clock.monotonic() + budget_seconds
    total = 0
    while True:
        done = enrolments_advance_due(now=now, limit=BATCH)
        total += done
        if done < BATCH or clock.monotonic() > deadline:
            return total
