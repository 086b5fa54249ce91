"""Campaigns: one approved content version to a segment, on a channel, at a time, once.

A campaign is a trigger of the delivery pipeline (shared/DESIGN.md): its messages live in the
outbox under the key prefix `campaign:<id>:`, so progress is read from the outbox and a restart
resumes the fan-out where it stopped (`cursor`) without creating anything twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from carereach.vocabulary import Channel


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # being prepared; the only state in which it changes
    AWAITING_SIGNOFF = "awaiting_signoff", "Awaiting sign-off"  # promotional: for a reviewer
    SCHEDULED = "scheduled", "Scheduled"  # starts when its time comes (now: the next tick)
    RUNNING = "running", "Running"  # fanning out, or its messages still waiting to go
    PAUSED = "paused", "Paused"  # waiting messages held; nothing goes until it is resumed
    DONE = "done", "Done"  # every message reached an outcome
    CANCELLED = "cancelled", "Cancelled"  # stopped; what still waited was cancelled


# Statuses a campaign can still move out of; cancel works from each of them.
OPEN_STATUSES = (
    CampaignStatus.DRAFT,
    CampaignStatus.AWAITING_SIGNOFF,
    CampaignStatus.SCHEDULED,
    CampaignStatus.RUNNING,
    CampaignStatus.PAUSED,
)


class ScheduleKind(models.TextChoices):
    NOW = "now", "Now"  # as soon as it is started (or signed off)
    AT = "at", "At a time"  # at `send_at`, one moment for everyone
    LOCAL = "local", "At a local time in each recipient's zone"  # `local_date` `local_time`


class Campaign(models.Model):
    name = models.CharField(max_length=120)
    program = models.ForeignKey("consent.Program", on_delete=models.PROTECT, related_name="+")
    content_version = models.ForeignKey(
        "content.ContentVersion", on_delete=models.PROTECT, related_name="+"
    )
    # The audience: a saved segment (its query is copied in when the campaign is saved, so what
    # was previewed and signed off is what is sent) or a query written for this campaign.
    segment = models.ForeignKey(
        "audience.Segment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    query = models.TextField()
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # Further channels, in order, for recipients the first cannot reach (no consent, no address,
    # a landline): each person still gets one message, on the first channel that may be used.
    fallback_channels = models.JSONField(default=list, blank=True)
    schedule_kind = models.CharField(
        max_length=8, choices=ScheduleKind.choices, default=ScheduleKind.NOW
    )
    send_at = models.DateTimeField(null=True, blank=True)  # AT
    local_date = models.DateField(null=True, blank=True)  # LOCAL
    local_time = models.TimeField(null=True, blank=True)  # LOCAL
    expires_at = models.DateTimeField(null=True, blank=True)  # "" = 3 days after the last send
    status = models.CharField(
        max_length=20, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    status_note = models.CharField(max_length=300, blank=True)  # why it was cancelled, ...
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signoff_note = models.TextField(blank=True)
    # Who scheduled it: the fan-out reaches the contacts this user may see.
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scheduled_at = models.DateTimeField(null=True, blank=True)  # when it was scheduled
    begins_at = models.DateTimeField(null=True, blank=True)  # when the fan-out may begin
    started_at = models.DateTimeField(null=True, blank=True)  # when the fan-out began
    fanned_out_at = models.DateTimeField(null=True, blank=True)  # every recipient decided
    finished_at = models.DateTimeField(null=True, blank=True)  # done or cancelled
    # Fan-out progress: the last contact id decided, and what the decisions were.
    cursor = models.BigIntegerField(default=0)
    audience_size = models.PositiveIntegerField(null=True, blank=True)  # counted at the start
    planned = models.PositiveIntegerField(default=0)
    skip_reasons = models.JSONField(default=dict, blank=True)  # reason code -> count

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["begins_at"],
                name="campaign_due",
                condition=Q(status__in=["scheduled", "running"]),
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CampaignStatus.values), name="campaign_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(schedule_kind="at") | Q(send_at__isnull=False),
                name="campaign_at_has_send_at",
            ),
            models.CheckConstraint(
                condition=~Q(schedule_kind="local")
                | Q(local_date__isnull=False, local_time__isnull=False),
                name="campaign_local_has_date_and_time",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def trigger_key(self) -> str:
        """The key of its messages in the outbox: `campaign:<id>:<step>:<contact>:<channel>`."""
        return f"campaign:{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CampaignAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Edited"
    SUBMITTED = "submitted", "Sent for sign-off"
    RETURNED = "returned", "Returned to draft"
    SIGNED_OFF = "signed_off", "Signed off"
    SCHEDULED = "scheduled", "Scheduled"
    STARTED = "started", "Started sending"
    PAUSED = "paused", "Paused"
    RESUMED = "resumed", "Resumed"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"
    TEST_SENT = "test_sent", "Test sent"


class CampaignEvent(models.Model):
    """One step in a campaign's history, shown on its page (the audit log has them too)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=CampaignAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)  # user name, or "system"
    at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} campaign {self.campaign_id}"
