"""Writing a campaign: what it sends, to whom, on which channel, when. Drafts only change.

Every rule is checked at once and reported by field (`CampaignInvalidError`), when a draft is
saved and again when it is started or signed off: time passes, content is withdrawn, segments
empty out.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Segment
from carereach.audience.segments.compiler import validate_segment
from carereach.audience.segments.fields import default_contact_schema
from carereach.campaigns.errors import CampaignInvalidError
from carereach.campaigns.models import Campaign, CampaignAction, CampaignStatus, ScheduleKind
from carereach.campaigns.pipeline import campaign_audience, campaign_sender
from carereach.campaigns.scheduling import local_first, local_last
from carereach.campaigns.services.history import event_add
from carereach.consent.models import Program
from carereach.content.eligibility import REASON_TEXT, version_availability
from carereach.content.eligibility import Reason as ContentReason
from carereach.content.models import ContentVersion
from carereach.content.rendering import version_program
from carereach.errors import CarereachError, ConflictError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

SENDABLE_CHANNELS = (Channel.SMS, Channel.EMAIL, Channel.VOICE)  # letters are not built yet
MAX_NAME = 120


@dataclass(frozen=True)
class CampaignInput:
    name: str
    program: Program
    content_version: ContentVersion
    channel: str
    fallback_channels: tuple[str, ...] = ()  # tried in order when the channel may not be used
    segment: Segment | None = None
    query: str = ""  # used when no saved segment is chosen
    schedule_kind: str = ScheduleKind.NOW
    send_at: datetime | None = None
    local_date: date | None = None
    local_time: time | None = None
    expires_at: datetime | None = None


def send_moments(
    kind: str, send_at: datetime | None, day: date | None, at: time | None, now: datetime
) -> tuple[datetime, datetime]:
    """The first and last moment the campaign's messages are meant to go."""
    if kind == ScheduleKind.AT and send_at is not None:
        return send_at, send_at
    if kind == ScheduleKind.LOCAL and day is not None and at is not None:
        return max(local_first(day, at), now), local_last(day, at)
    return now, now


def _one_channel_problem(program: Program, channel: str) -> str:
    if channel not in Channel.values:
        return "Choose a channel."
    label = Channel(channel).label.lower()
    if channel not in SENDABLE_CHANNELS:
        return f"Campaigns cannot send by {label} yet."
    if channel not in (program.channels or []):
        used = ", ".join(Channel(c).label.lower() for c in program.channels if c in Channel.values)
        return f"{program.name} does not use {label}; it uses: {used or 'nothing'}."
    if not campaign_sender(program, channel):
        return f"{program.name} has no sender number for {label}."
    return ""


def _channel_problems(data: CampaignInput) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    problem = _one_channel_problem(data.program, data.channel)
    if problem:
        problems.append(("channel", problem))
    for channel in data.fallback_channels:
        problem = _one_channel_problem(data.program, channel)
        if problem:
            problems.append(("fallback_channels", problem))
    return problems


def fallbacks_of(data: CampaignInput) -> list[str]:
    """The fallback channels as stored: in order, once each, never the channel itself."""
    return [c for c in dict.fromkeys(data.fallback_channels) if c != data.channel]


def _content_problems(
    data: CampaignInput, now: datetime, first: datetime, last: datetime, *, check_body: bool
) -> list[str]:
    version = data.content_version
    title = f"{version.item.title} {version.label}"
    availability = version_availability(version, now)
    if availability not in (ContentReason.ELIGIBLE, ContentReason.CONTENT_NOT_YET_VALID):
        return [f"{title} may not be sent: {REASON_TEXT[availability]}."]
    problems: list[str] = []
    if version.valid_from is not None and version.valid_from > first:
        problems.append(
            f"{title} is valid only from {version.valid_from:%Y-%m-%d %H:%M} UTC, after the "
            "send time."
        )
    if version.valid_until is not None and version.valid_until <= last:
        problems.append(
            f"{title} expires ({version.valid_until:%Y-%m-%d %H:%M} UTC) before the campaign's "
            "last send."
        )
    owner = version_program(version)
    if owner is not None and owner.pk != data.program.pk:
        problems.append(f"{title} belongs to the program {owner.name}.")
    if check_body:
        written = {body.channel for body in version.bodies.all()}
        for channel in (data.channel, *fallbacks_of(data)):
            if channel not in written:
                problems.append(f"{title} has no {Channel(channel).label.lower()} text.")
    return problems


def _schedule_problems(data: CampaignInput, now: datetime) -> list[tuple[str, str]]:
    if data.schedule_kind not in ScheduleKind.values:
        return [("schedule_kind", "Choose when it goes.")]
    problems: list[tuple[str, str]] = []
    if data.schedule_kind == ScheduleKind.AT:
        if data.send_at is None:
            problems.append(("send_at", "Give the date and time it goes."))
        elif data.send_at <= now:
            problems.append(("send_at", "That time has passed; choose a time in the future."))
    if data.schedule_kind == ScheduleKind.LOCAL:
        if data.local_date is None:
            problems.append(("local_date", "Give the day it goes."))
        if data.local_time is None:
            problems.append(("local_time", "Give the local time it goes."))
        if (
            data.local_date is not None
            and data.local_time is not None
            and local_last(data.local_date, data.local_time) <= now
        ):
            problems.append(("local_date", "That local time has passed everywhere."))
    return problems


def campaign_problems(
    data: CampaignInput, *, actor: User | None, now: datetime | None = None
) -> list[tuple[str, str]]:
    """Every reason the campaign may not be saved as it is, as (field, message) pairs."""
    now = now or timezone.now()
    problems: list[tuple[str, str]] = []
    name = data.name.strip()
    if not name:
        problems.append(("name", "Give the campaign a name."))
    elif len(name) > MAX_NAME:
        problems.append(("name", f"At most {MAX_NAME} characters."))
    if not data.program.active:
        problems.append(("program", f"{data.program.name} is no longer active."))
    channel = _channel_problems(data)
    problems += channel
    schedule = _schedule_problems(data, now)
    problems += schedule
    kind = data.schedule_kind if not schedule else ScheduleKind.NOW  # a bad time: judge now
    first, last = send_moments(kind, data.send_at, data.local_date, data.local_time, now)
    if not schedule and data.expires_at is not None:
        if data.expires_at <= now:
            problems.append(("expires_at", "The expiry has passed."))
        elif data.expires_at <= last:
            problems.append(("expires_at", "The expiry must come after the last send time."))
    problems += [
        ("content_version", text)
        for text in _content_problems(data, now, first, last, check_body=not channel)
    ]
    problems += _audience_problems(data, actor)
    return problems


def _audience_problems(data: CampaignInput, actor: User | None) -> list[tuple[str, str]]:
    query = data.segment.query if data.segment is not None else data.query.strip()
    where = "segment" if data.segment is not None else "query"
    if data.segment is not None and data.query.strip():
        return [("query", "Choose a saved segment or write a query, not both.")]
    if not query:
        return [("segment", "Choose a saved segment or write a query.")]
    try:
        validate_segment(query, schema=default_contact_schema())
    except CarereachError as error:
        return [(where, error.message)]
    if not campaign_audience(query=query, user=actor).exists():
        return [(where, "This segment selects no contacts you may reach.")]
    return []


def campaign_check(data: CampaignInput, *, actor: User | None, now: datetime | None = None) -> None:
    problems = campaign_problems(data, actor=actor, now=now)
    if problems:
        raise CampaignInvalidError(problems)


def input_of(campaign: Campaign) -> CampaignInput:
    """A campaign's current settings, to check again before it starts."""
    return CampaignInput(
        name=campaign.name,
        program=campaign.program,
        content_version=campaign.content_version,
        channel=campaign.channel,
        fallback_channels=tuple(campaign.fallback_channels or ()),
        segment=None,
        query=campaign.query,
        schedule_kind=campaign.schedule_kind,
        send_at=campaign.send_at,
        local_date=campaign.local_date,
        local_time=campaign.local_time,
        expires_at=campaign.expires_at,
    )


def _apply(campaign: Campaign, data: CampaignInput) -> list[str]:
    values = {
        "name": data.name.strip(),
        "program": data.program,
        "content_version": data.content_version,
        "channel": data.channel,
        "fallback_channels": fallbacks_of(data),
        "segment": data.segment,
        "query": data.segment.query if data.segment is not None else data.query.strip(),
        "schedule_kind": data.schedule_kind,
        "send_at": data.send_at if data.schedule_kind == ScheduleKind.AT else None,
        "local_date": data.local_date if data.schedule_kind == ScheduleKind.LOCAL else None,
        "local_time": data.local_time if data.schedule_kind == ScheduleKind.LOCAL else None,
        "expires_at": data.expires_at,
    }
    changed = [name for name, value in values.items() if getattr(campaign, name, None) != value]
    for name, value in values.items():
        setattr(campaign, name, value)
    return changed


def campaign_create(*, data: CampaignInput, actor: User | None) -> Campaign:
    """A new draft; nothing is sent until it is started (and signed off, when promotional)."""
    campaign_check(data, actor=actor)
    now = timezone.now()
    with transaction.atomic():
        campaign = Campaign(created_by=actor, created_at=now, updated_at=now)
        _apply(campaign, data)
        campaign.save()
        event_add(campaign, CampaignAction.CREATED, actor, now)
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type="campaign",
            object_id=campaign.pk,
            changes=[f.name for f in fields(CampaignInput)],
        )
    return campaign


def campaign_update(*, campaign: Campaign, data: CampaignInput, actor: User | None) -> Campaign:
    """Change a draft (a campaign sent for sign-off goes back to draft first)."""
    if campaign.status != CampaignStatus.DRAFT:
        raise ConflictError(
            f"Only a draft changes; this campaign is {campaign.get_status_display().lower()}.",
            field="status",
        )
    campaign_check(data, actor=actor)
    now = timezone.now()
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(of=("self",)).get(pk=campaign.pk)
        if locked.status != CampaignStatus.DRAFT:
            raise ConflictError("The campaign left draft meanwhile.", field="status")
        changed = _apply(locked, data)
        locked.updated_at = now
        locked.save()
        event_add(locked, CampaignAction.UPDATED, actor, now, note=", ".join(changed))
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type="campaign",
            object_id=locked.pk,
            changes=changed,
        )
    return locked
