"""A campaign's history rows, written beside the audit entry by every service that acts."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User

from carereach.campaigns.models import Campaign, CampaignAction, CampaignEvent


def event_add(
    campaign: Campaign, action: CampaignAction, actor: User | None, at: datetime, note: str = ""
) -> CampaignEvent:
    return CampaignEvent.objects.create(
        campaign=campaign,
        action=action,
        actor=actor,
        actor_label=actor.get_username() if actor is not None else "system",
        at=at,
        note=note[:300],
    )
