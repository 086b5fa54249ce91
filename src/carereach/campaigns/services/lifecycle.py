"""A campaign's life: sign-off, start, pause, resume, cancel.

```
draft ──start──► scheduled ──(its time)──► running ──► done
  │ ▲                 ▲  │                  │  ▲
  │ └──back to draft──┤  └──pause──► paused ┘  └──resume──┘
  └─submit (promotional)─► awaiting sign-off ──sign off (another person, review_content)──┘
any open status ──cancel──► cancelled      content withdrawn or expired ──► cancelled
```

Each step locks the campaign row, writes a history row and an audit entry in one transaction.
Pause, resume and cancel act on the campaign's waiting messages through
`messaging.services.triggers`; none of them ever sends anything, so resuming never re-sends.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.campaigns.models import (
    OPEN_STATUSES,
    Campaign,
    CampaignAction,
    CampaignStatus,
)
from carereach.campaigns.pipeline import content_problem, needs_signoff
from carereach.campaigns.scheduling import default_expiry
from carereach.campaigns.services.editing import campaign_check, input_of, send_moments
from carereach.campaigns.services.history import event_add
from carereach.content.hooks import RetiredVersion
from carereach.errors import ConflictError, PermissionDeniedError, ValidationError
from carereach.messaging.services.outbox import Reason
from carereach.messaging.services.triggers import (
    ResumeReport,
    messages_cancel_paused_for_version,
    trigger_cancel,
    trigger_pause,
    trigger_resume,
)
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability


def _locked(campaign: Campaign) -> Campaign:
    return (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("program", "content_version")
        .get(pk=campaign.pk)
    )


def _require(campaign: Campaign, *allowed: CampaignStatus, doing: str) -> None:
    if campaign.status not in allowed:
        raise ConflictError(
            f"A {campaign.get_status_display().lower()} campaign cannot be {doing}.",
            field="status",
        )


def _audit(actor: User | None, campaign: Campaign, note: str, changes: list[str]) -> None:
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="campaign",
        object_id=campaign.pk,
        changes=changes,
        note=note,
    )


def _schedule(campaign: Campaign, scope: User | None, now: datetime) -> None:
    """Fix when the fan-out begins and when its messages go stale; the scheduler does the rest."""
    first, last = send_moments(
        campaign.schedule_kind, campaign.send_at, campaign.local_date, campaign.local_time, now
    )
    campaign.begins_at = first
    campaign.expires_at = campaign.expires_at or default_expiry(last)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.scheduled_at = now
    campaign.started_by = scope
    campaign.updated_at = now


def campaign_start(*, campaign: Campaign, actor: User) -> Campaign:
    """Schedule a draft: now, at its time, or at its local time. Promotional campaigns are
    signed off instead (`campaign_submit`, then a reviewer's `campaign_signoff`)."""
    now = timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        _require(campaign, CampaignStatus.DRAFT, doing="started")
        if needs_signoff(campaign.program, campaign.content_version):
            raise ValidationError(
                "This campaign is promotional: a compliance reviewer must sign it off before "
                "it starts. Send it for sign-off.",
                field="status",
                code="signoff_required",
            )
        campaign_check(input_of(campaign), actor=actor, now=now)
        _schedule(campaign, actor, now)
        campaign.save()
        note = (
            "to start now"
            if campaign.begins_at == now
            else f"for {campaign.begins_at:%Y-%m-%d %H:%M} UTC"
        )
        event_add(campaign, CampaignAction.SCHEDULED, actor, now, note=note)
        _audit(actor, campaign, f"scheduled {note}", ["status", "begins_at", "expires_at"])
    return campaign


def campaign_submit(*, campaign: Campaign, actor: User) -> Campaign:
    """Send a promotional draft for a compliance reviewer's sign-off."""
    now = timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        _require(campaign, CampaignStatus.DRAFT, doing="sent for sign-off")
        if not needs_signoff(campaign.program, campaign.content_version):
            raise ValidationError(
                "This campaign needs no sign-off; start it.", field="status", code="no_signoff"
            )
        campaign_check(input_of(campaign), actor=actor, now=now)
        campaign.status = CampaignStatus.AWAITING_SIGNOFF
        campaign.submitted_by = actor
        campaign.submitted_at = now
        campaign.updated_at = now
        campaign.save()
        event_add(campaign, CampaignAction.SUBMITTED, actor, now)
        _audit(actor, campaign, "sent for sign-off", ["status"])
    return campaign


def campaign_signoff(*, campaign: Campaign, actor: User, note: str = "") -> Campaign:
    """A compliance reviewer signs off a promotional campaign, which schedules it. Never the
    person who created it or sent it for sign-off."""
    if not has_capability(actor, Capability.REVIEW_CONTENT):
        raise PermissionDeniedError("Only a compliance reviewer may sign off a campaign.")
    now = timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        _require(campaign, CampaignStatus.AWAITING_SIGNOFF, doing="signed off")
        if actor.pk in (campaign.created_by_id, campaign.submitted_by_id):
            raise PermissionDeniedError(
                "You created this campaign or sent it for sign-off: another reviewer must sign "
                "it off."
            )
        scope = campaign.submitted_by
        campaign_check(input_of(campaign), actor=scope, now=now)
        campaign.signed_off_by = actor
        campaign.signed_off_at = now
        campaign.signoff_note = note.strip()[:2000]
        _schedule(campaign, scope, now)
        campaign.save()
        event_add(campaign, CampaignAction.SIGNED_OFF, actor, now, note=note.strip())
        _audit(actor, campaign, "signed off", ["status", "signed_off_by", "begins_at"])
    return campaign


def campaign_return(*, campaign: Campaign, actor: User, note: str = "") -> Campaign:
    """Back to draft from sign-off or from the schedule (before it began); a sign-off given
    is void, since the campaign may now change."""
    now = timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        _require(
            campaign,
            CampaignStatus.AWAITING_SIGNOFF,
            CampaignStatus.SCHEDULED,
            doing="returned to draft",
        )
        if campaign.started_at is not None:
            raise ConflictError("It has begun sending; pause or cancel it.", field="status")
        campaign.status = CampaignStatus.DRAFT
        campaign.signed_off_by = None
        campaign.signed_off_at = None
        campaign.begins_at = None
        campaign.scheduled_at = None
        campaign.updated_at = now
        campaign.save()
        event_add(campaign, CampaignAction.RETURNED, actor, now, note=note.strip())
        _audit(actor, campaign, "returned to draft", ["status"])
    return campaign


def campaign_pause(*, campaign: Campaign, actor: User) -> tuple[Campaign, int]:
    """Hold everything the campaign still has waiting; returns it and how many were held."""
    now = timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        _require(campaign, CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, doing="paused")
        held = trigger_pause(
            trigger_key=campaign.trigger_key,
            at=now,
            reason=Reason("campaign_paused", f"The campaign was paused by {actor.get_username()}."),
        )
        campaign.status = CampaignStatus.PAUSED
        campaign.updated_at = now
        campaign.save()
        event_add(campaign, CampaignAction.PAUSED, actor, now, note=f"{held} message(s) held")
        _audit(actor, campaign, f"paused; {held} held", ["status"])
    return campaign, held


def campaign_resume(*, campaign: Campaign, actor: User) -> tuple[Campaign, ResumeReport]:
    """Let the held messages go again (quiet hours weighed anew) and the fan-out continue.
    Nothing that went already goes again."""
    now = timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        _require(campaign, CampaignStatus.PAUSED, doing="resumed")
        problem = content_problem(campaign.content_version, now)
        if problem:
            raise ConflictError(f"{problem} Cancel the campaign instead.", field="content_version")
        report = trigger_resume(trigger_key=campaign.trigger_key, at=now)
        campaign.status = (
            CampaignStatus.RUNNING if campaign.started_at is not None else CampaignStatus.SCHEDULED
        )
        campaign.updated_at = now
        campaign.save()
        note = (
            f"{report.queued} queued, {report.held} held for quiet hours, {report.expired} expired"
        )
        event_add(campaign, CampaignAction.RESUMED, actor, now, note=note)
        _audit(actor, campaign, "resumed", ["status"])
    return campaign, report


def _cancel(campaign: Campaign, actor: User | None, now: datetime, note: str) -> int:
    cancelled = trigger_cancel(
        trigger_key=campaign.trigger_key,
        at=now,
        reason=Reason("campaign_cancelled", f"The campaign was cancelled: {note}"),
    )
    campaign.status = CampaignStatus.CANCELLED
    campaign.status_note = note[:300]
    campaign.finished_at = now
    campaign.updated_at = now
    campaign.save()
    event_add(
        campaign, CampaignAction.CANCELLED, actor, now, note=f"{note} ({cancelled} cancelled)"
    )
    _audit(actor, campaign, "cancelled", ["status"])
    return cancelled


def campaign_cancel(*, campaign: Campaign, actor: User, reason: str = "") -> tuple[Campaign, int]:
    """Stop for good: whatever still waits (queued, held, paused) is cancelled with the reason."""
    now = timezone.now()
    with transaction.atomic():
        campaign = _locked(campaign)
        _require(campaign, *OPEN_STATUSES, doing="cancelled")
        note = reason.strip() or f"by {actor.get_username()}"
        cancelled = _cancel(campaign, actor, now, note)
    return campaign, cancelled


def campaign_stop(*, campaign: Campaign, at: datetime, problem: str) -> int:
    """The system stops a campaign that cannot go on (its content may no longer go out, its
    query no longer compiles): cancelled with the reason, by no person. Caller holds the lock."""
    return _cancel(campaign, None, at, problem)


def campaigns_content_retired(event: RetiredVersion) -> int:
    """Content hook: a withdrawn or expired version stops the campaigns that send it.

    Runs in the retirement's transaction. The outbox's own hook cancels the version's queued
    and held messages; this one cancels the paused ones and marks the campaigns cancelled.
    Returns the messages it cancelled (shown to the reviewer with the outbox's count)."""
    cancelled = messages_cancel_paused_for_version(event)
    affected = Campaign.objects.select_for_update(of=("self",)).filter(
        content_version_id=event.version_id,
        status__in=[
            CampaignStatus.AWAITING_SIGNOFF,
            CampaignStatus.SCHEDULED,
            CampaignStatus.RUNNING,
            CampaignStatus.PAUSED,
        ],
    )
    note = f"its content was {event.status}" + (f": {event.reason}" if event.reason else "")
    for campaign in affected:
        cancelled += _cancel(campaign, None, event.at, note)
    return cancelled
