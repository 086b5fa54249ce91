"""Background work of campaigns, called by the scheduler loop (one leader at a time).

`campaigns_start_due()` begins scheduled campaigns whose time has come and advances the
fan-out of running ones for a bounded time per tick, then marks finished ones done. The lead
wires it into `messaging.runtime.scheduler_tick`; tests call it directly.
"""

from __future__ import annotations

import logging
import time as clock
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.campaigns.services.lifecycle import campaign_stop
from carereach.campaigns.services.sending import campaign_advance
from carereach.errors import CarereachError

logger = logging.getLogger(__name__)

TICK_BUDGET_SECONDS = 5.0  # fan-out time per scheduler tick, shared by every due campaign


def campaigns_start_due(
    *, now: datetime | None = None, budget_seconds: float = TICK_BUDGET_SECONDS
) -> int:
    """One scheduler pass over due and running campaigns; returns the fan-out batches done."""
    at = now or timezone.now()
    due = (
        Campaign.objects.filter(
            Q(status=CampaignStatus.SCHEDULED, begins_at__lte=at) | Q(status=CampaignStatus.RUNNING)
        )
        .order_by("begins_at", "pk")
        .values_list("pk", flat=True)
    )
    deadline = clock.monotonic() + budget_seconds
    batches = 0
    for campaign_id in list(due):
        try:
            batches += campaign_advance(campaign_id=campaign_id, now=now, deadline=deadline)
        except CarereachError as error:  # e.g. its query no longer compiles: it cannot go on
            logger.warning("campaign %s stopped: %s", campaign_id, error.code)
            _stop(campaign_id, error, at)
        except Exception:  # one campaign's failure must not stop the others or the scheduler
            logger.exception("campaign %s could not advance; retried next tick", campaign_id)
    return batches


def _stop(campaign_id: int, error: CarereachError, at: datetime) -> None:
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).filter(pk=campaign_id).first()
        if campaign is not None and campaign.is_open:
            note = f"it could not continue: {error.message}"
            campaign_stop(campaign=campaign, at=at, problem=note)
