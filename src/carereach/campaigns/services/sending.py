"""Sending a campaign: the fan-out in resumable batches, the end, and a test to oneself.

The scheduler calls `campaigns.tasks.campaigns_start_due` every tick; it begins scheduled
campaigns whose time has come and advances running ones a few batches at a time. Each batch is
one transaction holding the campaign's row: it reads the next contacts after `cursor`, runs
them through `messaging.services.fanout` (plan → decide → render → outbox), turns recipients the
content could not be rendered for into skips with the content's reason, re-times messages of a
local-time campaign to each recipient's zone, and moves the cursor. A crash loses at most the
batch in flight, and the fan-out is idempotent by key, so nothing goes twice.
"""

from __future__ import annotations

import secrets
import time as clock
from collections import Counter
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.identifiers import email_normalize, phone_normalize
from carereach.audience.models import Contact
from carereach.audience.selectors import Reach, reach_for_contacts
from carereach.campaigns.models import (
    Campaign,
    CampaignAction,
    CampaignEvent,
    CampaignStatus,
    ScheduleKind,
)
from carereach.campaigns.pipeline import (
    campaign_audience,
    campaign_renderer,
    campaign_sender,
    campaign_trigger,
    content_problem,
)
from carereach.campaigns.scheduling import FALLBACK_ZONE, recipient_due
from carereach.campaigns.services.history import event_add
from carereach.campaigns.services.lifecycle import campaign_stop
from carereach.content.models import ContentVersion
from carereach.content.rendering import content_preview
from carereach.content.samples import SAMPLE_RECIPIENTS
from carereach.content.selectors import version_get
from carereach.errors import ConflictError, ValidationError
from carereach.messaging.models import (
    WAITING,
    EventKind,
    Lane,
    Message,
    MessageEvent,
    MessageStatus,
)
from carereach.messaging.services.fanout import BatchRenderer, FanoutReport, fanout
from carereach.messaging.services.outbox import Reason, message_enqueue
from carereach.messaging.services.rendering import (
    RenderFailures,
    render_failures_skip,
)
from carereach.messaging.services.triggers import trigger_unfinished
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

BATCH = 200  # recipients per fan-out transaction (each is rendered: keep the lock short)
TEST_SENDS_PER_HOUR = 10
TEST_PREFIX = "[TEST] "


def _audit(campaign: Campaign, note: str) -> None:
    audit_record(
        actor=None,
        action=AuditAction.UPDATE,
        object_type="campaign",
        object_id=campaign.pk,
        changes=["status"],
        note=note,
    )


def _begin(campaign: Campaign, at: datetime) -> None:
    campaign.status = CampaignStatus.RUNNING
    campaign.started_at = at
    campaign.audience_size = campaign_audience(
        query=campaign.query, user=campaign.started_by
    ).count()
    campaign.updated_at = at
    campaign.save()
    event_add(
        campaign, CampaignAction.STARTED, None, at, note=f"{campaign.audience_size} in the segment"
    )
    _audit(campaign, "started sending")


def _retime_local(
    campaign: Campaign, keys: list[str], reach: dict[int, Reach], at: datetime, report: FanoutReport
) -> None:
    """A local-time campaign: each waiting message goes at the local time in its recipient's
    zone (quiet hours still apply on top), or expires if that is past the campaign's expiry."""
    if campaign.local_date is None or campaign.local_time is None:
        return
    rows = list(Message.objects.filter(key__in=keys, status__in=WAITING))
    to_held: list[int] = []
    expired: list[int] = []
    for message in rows:
        facts = reach.get(message.contact_id or 0)
        zone, state = (facts.time_zone, facts.state) if facts is not None else ("", "")
        due = recipient_due(
            day=campaign.local_date,
            at=campaign.local_time,
            time_zone=zone,
            state=state,
            now=at,
            channel=message.channel,
        )
        if campaign.expires_at is not None and due.at >= campaign.expires_at:
            message.status = MessageStatus.SKIPPED
            message.done_at = at
            message.body = ""
            message.reasons = [
                {"code": "expired", "text": "Its local send time comes after the expiry."}
            ]
            expired.append(message.pk)
            report.skipped += 1
            report.skip_reasons["expired"] = report.skip_reasons.get("expired", 0) + 1
            continue
        where = zone or f"{FALLBACK_ZONE} (zone unknown)"
        text = f"Planned for {campaign.local_time:%H:%M} in {where}."
        if due.late:
            text += " That time had passed when it was planned; it goes at the next allowed moment."
        if message.status == MessageStatus.QUEUED and due.at > at:
            to_held.append(message.pk)
            report.queued -= 1
            report.held += 1
        message.due_at = due.at
        message.status = MessageStatus.HELD if due.at > at else MessageStatus.QUEUED
        message.reasons = [*message.reasons, {"code": "local_time", "text": text}]
    Message.objects.bulk_update(rows, ["status", "due_at", "done_at", "body", "reasons"])
    MessageEvent.objects.filter(message_id__in=to_held, kind=EventKind.QUEUED).update(
        kind=EventKind.HELD, detail={"reason": "local_time"}
    )
    MessageEvent.objects.filter(
        message_id__in=expired, kind__in=[EventKind.QUEUED, EventKind.HELD]
    ).update(kind=EventKind.SKIPPED, detail={"reason": "expired"})


def _fanout_batch(
    campaign: Campaign, version: ContentVersion, ids: list[int], at: datetime
) -> FanoutReport:
    failures = RenderFailures()
    contacts = Contact.objects.filter(pk__in=ids)
    trigger = campaign_trigger(campaign, audience=contacts, at=at)
    renderers: dict[str, BatchRenderer] = {
        channel: campaign_renderer(
            campaign, channel=channel, version=version, failures=failures, at=at
        )
        for channel in trigger.channels
    }
    report = fanout(
        trigger=trigger,
        contacts=contacts,
        render=renderers[campaign.channel],
        render_by_channel=renderers,
        now=at,
        batch_size=len(ids) + 1,
    )
    render_failures_skip(failures, at, report)
    if campaign.schedule_kind == ScheduleKind.LOCAL:
        # Zones and states are the contact's, whatever the channel.
        reach = reach_for_contacts(contact_ids=ids, channel=campaign.channel)
        _retime_local(campaign, [trigger.message_key(pk) for pk in ids], reach, at, report)
    return report


def _merge(campaign: Campaign, report: FanoutReport) -> None:
    campaign.planned += report.planned
    reasons = Counter(campaign.skip_reasons or {})
    reasons.update(report.skip_reasons)
    campaign.skip_reasons = dict(reasons)


def campaign_advance(
    *,
    campaign_id: int,
    now: datetime | None = None,
    max_batches: int | None = None,
    deadline: float | None = None,
    batch_size: int = BATCH,
) -> int:
    """Begin the campaign if its time has come and fan out up to `max_batches` batches (or
    until the monotonic `deadline`); returns the batches done. Safe to call from several
    processes: the campaign's row lock makes them take turns."""
    batches = 0
    while max_batches is None or batches < max_batches:
        if deadline is not None and batches and clock.monotonic() > deadline:
            break
        at = now or timezone.now()
        with transaction.atomic():
            campaign = (
                Campaign.objects.select_for_update(of=("self",))
                .select_related("program", "started_by")
                .filter(pk=campaign_id)
                .first()
            )
            if campaign is None:
                return batches
            if campaign.status == CampaignStatus.SCHEDULED:
                if campaign.begins_at is None or campaign.begins_at > at:
                    return batches
                _begin(campaign, at)
            if campaign.status != CampaignStatus.RUNNING or campaign.fanned_out_at is not None:
                break
            version = version_get(version_id=campaign.content_version_id)
            campaign.content_version = version
            problem = content_problem(version, at)
            if problem:
                campaign_stop(campaign=campaign, at=at, problem=problem)
                return batches
            audience = campaign_audience(query=campaign.query, user=campaign.started_by)
            ids = list(
                audience.filter(pk__gt=campaign.cursor)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                campaign.fanned_out_at = at
                campaign.save(update_fields=["fanned_out_at"])
                break
            report = _fanout_batch(campaign, version, ids, at)
            campaign.cursor = ids[-1]
            _merge(campaign, report)
            if len(ids) < batch_size:  # the last batch: nobody is left to decide
                campaign.fanned_out_at = at
            campaign.save(update_fields=["cursor", "planned", "skip_reasons", "fanned_out_at"])
        batches += 1
    campaign_finish_if_done(campaign_id=campaign_id, now=now)
    return batches


def campaign_kick(*, campaign: Campaign) -> int:
    """Right after a start or sign-off whose time is now: the first batch at once (the
    scheduler does the rest), so the person who pressed start sees it move."""
    if (
        campaign.begins_at is not None
        and campaign.scheduled_at is not None
        and campaign.begins_at <= campaign.scheduled_at
    ):
        return campaign_advance(campaign_id=campaign.pk, max_batches=1)
    return 0


def campaign_finish_if_done(*, campaign_id: int, now: datetime | None = None) -> bool:
    """A running campaign whose every recipient was decided and every message settled is done."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update(of=("self",)).filter(pk=campaign_id).first()
        if (
            campaign is None
            or campaign.status != CampaignStatus.RUNNING
            or campaign.fanned_out_at is None
            or trigger_unfinished(trigger_key=campaign.trigger_key)
        ):
            return False
        at = now or timezone.now()
        campaign.status = CampaignStatus.DONE
        campaign.finished_at = at
        campaign.updated_at = at
        campaign.save()
        event_add(campaign, CampaignAction.DONE, None, at)
        _audit(campaign, "done")
    return True


def _test_address(channel: str, address: str) -> str:
    address = address.strip()
    if not address:
        raise ValidationError("Type the address to send the test to.", field="address")
    if channel == Channel.EMAIL:
        try:
            return email_normalize(address)
        except ValidationError as error:
            raise ValidationError(error.message, field="address") from error
    try:
        return phone_normalize(address).e164
    except ValidationError as error:
        raise ValidationError(error.message, field="address") from error


def _sample(version: ContentVersion, channel: str) -> tuple[str, dict[str, str]]:
    languages = [body.language for body in version.bodies.all() if body.channel == channel]
    language = "en" if "en" in languages else (languages[0] if languages else "en")
    kinds = [kind for kind in (version.contact_kinds or []) if kind in SAMPLE_RECIPIENTS]
    return language, SAMPLE_RECIPIENTS[kinds[0] if kinds else "hcp"]


def campaign_test_send(*, campaign: Campaign, actor: User, address: str) -> Message:
    """The campaign's message, rendered for a sample recipient and marked as a test, to an
    address the user typed, through the outbox. Not counted in the campaign's progress (its key
    is outside the campaign's prefix), no consent check (the user asked for it themselves)."""
    address = _test_address(campaign.channel, address)
    version = version_get(version_id=campaign.content_version_id)
    problem = content_problem(version)
    if problem:
        raise ConflictError(problem, field="content_version")
    now = timezone.now()
    recent = CampaignEvent.objects.filter(
        campaign=campaign, action=CampaignAction.TEST_SENT, at__gte=now - timedelta(hours=1)
    ).count()
    if recent >= TEST_SENDS_PER_HOUR:
        raise ConflictError(
            f"At most {TEST_SENDS_PER_HOUR} test sends an hour per campaign.", field="address"
        )
    language, values = _sample(version, campaign.channel)
    rendered = content_preview(
        version=version, channel=campaign.channel, language=language, values=values
    )
    with transaction.atomic():
        message = message_enqueue(
            key=f"campaign-test:{campaign.pk}:{secrets.token_hex(8)}",
            origin="campaign_test",
            origin_ref=campaign.trigger_key,
            lane=Lane.BULK,
            contact_id=None,
            program_id=None,
            content_version_id=version.pk,
            channel=campaign.channel,
            address=address,
            sender=campaign_sender(campaign.program, campaign.channel),
            subject=TEST_PREFIX + rendered.subject if rendered.subject else "",
            body=TEST_PREFIX + rendered.text,
            reasons=[
                Reason(
                    "test_send",
                    f"A test of campaign {campaign.pk} sent by {actor.get_username()} to an "
                    "address they typed; not counted in the campaign.",
                )
            ],
        )
        if message is None:  # a 64-bit random key collided: practically never
            raise ConflictError("Try the test send again.", field="address")
        event_add(campaign, CampaignAction.TEST_SENT, actor, now, note=f"{campaign.channel} test")
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type="message",
            object_id=message.pk,
            note=f"test send of campaign {campaign.pk}",
        )
    return message
