"""A campaign as a trigger of the delivery pipeline: its audience, its Trigger, its renderer.

Shared by the preview (which decides without writing) and the fan-out (which writes), so the
two can never disagree about who would get the message and why not.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from carereach.audience.models import Contact
from carereach.audience.segments.compiler import segment_filter
from carereach.audience.segments.fields import default_contact_schema
from carereach.audience.selectors import Reach, contacts_for_user
from carereach.campaigns.models import Campaign
from carereach.consent.models import Program, ProgramType
from carereach.content.eligibility import (
    REASON_TEXT,
    content_eligible_q,
    version_availability,
)
from carereach.content.eligibility import Reason as ContentReason
from carereach.content.models import ContentVersion
from carereach.messaging.models import Lane
from carereach.messaging.services.fanout import BatchRenderer, Trigger
from carereach.messaging.services.rendering import RenderFailures, content_batch_renderer
from carereach.sqlvalues import many
from carereach.vocabulary import Channel

ELIGIBLE_WINDOW = 2000  # contacts whose content eligibility is known at once


def campaign_audience(*, query: str, user: User | None) -> QuerySet[Contact]:
    """The contacts `query` selects among those `user` may see (none without a user)."""
    if user is None:
        return Contact.objects.none()
    return segment_filter(contacts_for_user(user=user), query, default_contact_schema())


def needs_signoff(program: Program, version: ContentVersion) -> bool:
    """Promotional campaigns (a marketing program, or drug promotion) need a compliance
    reviewer's sign-off before they may start."""
    return program.type == ProgramType.MARKETING or version.promotional


def campaign_sender(program: Program, channel: str) -> str:
    """The program's first sender for the channel ("" when it has none for texts or calls)."""
    if channel == Channel.EMAIL:
        emails = list(program.sender_emails or [])
        return str(emails[0]) if emails else str(settings.DEFAULT_EMAIL_SENDER)
    numbers = list(program.sender_numbers or [])
    return str(numbers[0]) if numbers else ""


class EligibleWindow:
    """The content's audience rules for a stream of contacts in ascending id order.

    The fan-out and the preview ask about one contact at a time, in id order; this answers from
    one query per window of `size` contacts of the audience (memory stays flat)."""

    def __init__(self, audience: QuerySet[Contact], condition: Q, size: int) -> None:
        self.audience = audience
        self.condition = condition
        self.size = size
        self.low = 0
        self.high = -1
        self.eligible: set[int] = set()

    def __call__(self, reach: Reach) -> bool:
        pk = reach.contact_id
        if not self.low <= pk <= self.high:
            ids = list(
                self.audience.filter(pk__gte=pk)
                .order_by("pk")
                .values_list("pk", flat=True)[: self.size]
            )
            self.low, self.high = pk, max([pk, *ids])
            self.eligible = set(
                Contact.objects.filter(pk__in=many(ids))
                .filter(self.condition)
                .values_list("pk", flat=True)
            )
        return pk in self.eligible


def content_problem(version: ContentVersion, at: datetime | None = None) -> str:
    """ "" when the version may go out at `at`, else why not, for a person."""
    availability = version_availability(version, at)
    if availability == ContentReason.ELIGIBLE:
        return ""
    return f"Version {version.label}: {REASON_TEXT[availability]}."


def campaign_trigger(
    campaign: Campaign,
    *,
    audience: QuerySet[Contact],
    at: datetime | None = None,
    eligible: Callable[[Reach], bool] | None = None,
) -> Trigger:
    version = campaign.content_version
    fallback = tuple(campaign.fallback_channels or ())
    # With a cascade the content's rules are weighed for any of its channels here; a channel
    # with no body in the contact's language is refused by the renderer (a skip, with why).
    rules_channel = None if fallback else campaign.channel
    return Trigger(
        key=campaign.trigger_key,
        origin="campaign",
        program=campaign.program,
        channel=campaign.channel,
        lane=Lane.BULK,
        sender=campaign_sender(campaign.program, campaign.channel),
        expires_at=campaign.expires_at,
        promotional=version.promotional,
        content_version_id=version.pk,
        content_problem=content_problem(version, at),
        fallback=fallback,
        eligible=eligible
        or EligibleWindow(
            audience,
            content_eligible_q(version=version, channel=rules_channel, now=at),
            ELIGIBLE_WINDOW,
        ),
    )


def campaign_renderer(
    campaign: Campaign,
    *,
    channel: str,
    version: ContentVersion,
    failures: RenderFailures,
    at: datetime | None = None,
) -> BatchRenderer:
    """The content rendered for a whole batch of the campaign's recipients; a recipient the
    content refuses is noted in `failures`, not fatal.

    Without a cascade the trigger's audience rules (`EligibleWindow`) are the content's for this
    very channel: the renderer need not ask again. With one, they were weighed for any channel,
    so the renderer checks its own."""
    return content_batch_renderer(
        version=version,
        channel=channel,
        failures=failures,
        at=at,
        audience_checked=not campaign.fallback_channels and channel == campaign.channel,
    )
