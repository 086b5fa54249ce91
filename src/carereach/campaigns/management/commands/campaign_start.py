"""`carereach campaign-start ID --user NAME`: start (or sign off) a campaign and fan it out now.

For operators who would rather not wait for the scheduler: the campaign is scheduled as the
console's Start button would (as that user, with their rights and contact scope), and when its
time has come the whole fan-out runs here, in this process, batch by batch; a summary follows.
A campaign already scheduled or running is only advanced.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model

from carereach.campaigns.models import CampaignStatus
from carereach.campaigns.selectors import campaign_get, campaign_progress
from carereach.campaigns.services.lifecycle import campaign_start
from carereach.campaigns.services.sending import campaign_advance
from carereach.commands import CarereachCommand
from carereach.errors import NotFoundError, PermissionDeniedError
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability


class Command(CarereachCommand):
    help = (
        "Start a draft campaign as USER (or advance a scheduled or running one) and run its "
        "fan-out to the end now; prints what the outbox holds for it."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("campaign_id", type=int, help="the campaign's id")
        parser.add_argument("--user", required=True, help="who starts it (needs run_campaigns)")

    def run(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise NotFoundError(f"No active user {options['user']!r}.", field="user")
        if not has_capability(user, Capability.RUN_CAMPAIGNS):
            raise PermissionDeniedError(f"{user.get_username()} may not run campaigns.")
        campaign = campaign_get(campaign_id=options["campaign_id"])
        if campaign.status == CampaignStatus.DRAFT:
            campaign = campaign_start(campaign=campaign, actor=user)
        batches = campaign_advance(campaign_id=campaign.pk)
        campaign = campaign_get(campaign_id=campaign.pk)
        counts = campaign_progress(campaign=campaign).as_dict()
        summary = ", ".join(f"{name} {count}" for name, count in counts.items())
        self.stdout.write(
            f"campaign {campaign.pk} {campaign.status}: {batches} batch(es) this run; {summary}"
        )
        if campaign.status == CampaignStatus.SCHEDULED:
            self.stdout.write(f"it begins {campaign.begins_at:%Y-%m-%d %H:%M} UTC")
