"""REST API of campaigns: create and edit drafts, preview, test send, start, pause, resume,
cancel, live progress; and the compliance reviewer's sign-off.

Operations that run campaigns need `run_campaigns`; signing off needs `review_content` (and a
reviewer other than the campaign's author). Problems come back as
`{"code": "invalid", "message", "field", "errors": [{"field", "message"}, ...]}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.responses import Status

from carereach.audience.models import Segment
from carereach.audience.selectors import segment_get
from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.campaigns.pipeline import needs_signoff
from carereach.campaigns.selectors import (
    campaign_get,
    campaign_preview,
    campaign_progress,
    campaigns_awaiting_signoff,
    campaigns_list,
)
from carereach.campaigns.services.editing import CampaignInput, campaign_create, campaign_update
from carereach.campaigns.services.lifecycle import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_return,
    campaign_signoff,
    campaign_start,
    campaign_submit,
)
from carereach.campaigns.services.sending import campaign_kick, campaign_test_send
from carereach.consent.models import Program
from carereach.consent.selectors import program_get
from carereach.content.models import ContentVersion
from carereach.content.selectors import version_get
from carereach.errors import NotFoundError, ValidationError
from carereach.security.api_auth import requires
from carereach.security.permissions import acting_user
from carereach.security.roles import Capability

router = Router(tags=["campaigns"])


class CampaignIn(Schema):
    name: str
    program: str = Field(description="The consent program's code")
    content_version: int = Field(description="An approved content version's id")
    channel: str = Field(description="sms, email or voice")
    fallback_channels: list[str] = Field(
        [], description="Tried in order for those the channel cannot reach; one message each"
    )
    segment: int | None = Field(None, description="A saved segment's id, or")
    query: str = Field("", description="a segment query written for this campaign")
    schedule: Literal["now", "at", "local"] = "now"
    send_at: datetime | None = Field(None, description="schedule=at; UTC when no offset is given")
    local_date: date | None = Field(None, description="schedule=local: the day")
    local_time: time | None = Field(None, description="schedule=local: the wall-clock time")
    expires_at: datetime | None = Field(None, description="default: 3 days after the last send")


class CampaignOut(Schema):
    id: int
    name: str
    status: str
    status_note: str
    program: str
    content_version: int
    content_title: str
    promotional: bool
    channel: str
    fallback_channels: list[str]
    segment: int | None
    query: str
    schedule: str
    send_at: datetime | None
    local_date: date | None
    local_time: time | None
    expires_at: datetime | None
    created_by: str | None
    created_at: datetime
    submitted_by: str | None
    signed_off_by: str | None
    signed_off_at: datetime | None
    begins_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


class ProgressOut(Schema):
    status: str
    audience_size: int | None
    planned: int
    decided_percent: int
    queued: int
    paused: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    cancelled: int
    expired: int
    total: int
    skip_reasons: dict[str, int]


class PreviewGroupOut(Schema):
    code: str
    label: str
    text: str
    outcome: str
    count: int
    sample_contact_ids: list[int]


class PreviewOut(Schema):
    at: datetime
    total: int
    receive: int
    send: int
    hold: int
    skip: int
    groups: list[PreviewGroupOut]
    sample_text: str
    sample_subject: str
    sample_error: str


class TestSendIn(Schema):
    address: str = Field(description="Your phone number or e-mail address")


class TestSendOut(Schema):
    message_id: int
    address: str
    status: str


class CancelIn(Schema):
    reason: str = ""


class ActionOut(Schema):
    campaign: CampaignOut
    affected: int = Field(description="Messages held, resumed or cancelled by this action")


class SignoffIn(Schema):
    decision: Literal["signoff", "return"]
    note: str = ""


def _name(user: User | None) -> str | None:
    return user.get_username() if user is not None else None


def _fresh(campaign: Campaign) -> CampaignOut:
    """A campaign a service just changed, read back with its related rows."""
    return _out(campaign_get(campaign_id=campaign.pk))


def _out(campaign: Campaign) -> CampaignOut:
    return CampaignOut(
        id=campaign.pk,
        name=campaign.name,
        status=campaign.status,
        status_note=campaign.status_note,
        program=campaign.program.code,
        content_version=campaign.content_version_id,
        content_title=f"{campaign.content_version.item.title} {campaign.content_version.label}",
        promotional=needs_signoff(campaign.program, campaign.content_version),
        channel=campaign.channel,
        fallback_channels=list(campaign.fallback_channels or []),
        segment=campaign.segment_id,
        query=campaign.query,
        schedule=campaign.schedule_kind,
        send_at=campaign.send_at,
        local_date=campaign.local_date,
        local_time=campaign.local_time,
        expires_at=campaign.expires_at,
        created_by=_name(campaign.created_by),
        created_at=campaign.created_at,
        submitted_by=_name(campaign.submitted_by),
        signed_off_by=_name(campaign.signed_off_by),
        signed_off_at=campaign.signed_off_at,
        begins_at=campaign.begins_at,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
    )


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _program(code: str) -> Program:
    program = program_get(code=code)
    if program is None:
        raise ValidationError(f"Unknown program {code!r}.", field="program")
    return program


def _version(version_id: int) -> ContentVersion:
    try:
        return version_get(version_id=version_id)
    except NotFoundError:
        raise ValidationError(
            f"No content version {version_id}.", field="content_version"
        ) from None


def _segment(segment_id: int | None) -> Segment | None:
    if segment_id is None:
        return None
    try:
        return segment_get(segment_id=segment_id)
    except NotFoundError:
        raise ValidationError(f"No segment {segment_id}.", field="segment") from None


def _input(payload: CampaignIn) -> CampaignInput:
    return CampaignInput(
        name=payload.name,
        program=_program(payload.program),
        content_version=_version(payload.content_version),
        channel=payload.channel,
        fallback_channels=tuple(payload.fallback_channels),
        segment=_segment(payload.segment),
        query=payload.query,
        schedule_kind=payload.schedule,
        send_at=_aware(payload.send_at),
        local_date=payload.local_date,
        local_time=payload.local_time,
        expires_at=_aware(payload.expires_at),
    )


@router.get("/campaigns", response=list[CampaignOut], auth=requires(Capability.RUN_CAMPAIGNS))
def list_campaigns(request: HttpRequest, status: str = "") -> list[CampaignOut]:
    status = status if status in CampaignStatus.values else ""
    return [_out(campaign) for campaign in campaigns_list(status=status)[:200]]


@router.get(
    "/campaigns/sign-off",
    response=list[CampaignOut],
    auth=requires(Capability.REVIEW_CONTENT),
)
def list_awaiting_signoff(request: HttpRequest) -> list[CampaignOut]:
    """Promotional campaigns waiting for a compliance reviewer."""
    return [_out(campaign) for campaign in campaigns_awaiting_signoff()]


@router.post("/campaigns", response={201: CampaignOut}, auth=requires(Capability.RUN_CAMPAIGNS))
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Status[CampaignOut]:
    """A new draft campaign; every problem is returned at once, by field."""
    campaign = campaign_create(data=_input(payload), actor=acting_user(request))
    return Status(201, _fresh(campaign))


@router.get(
    "/campaigns/{campaign_id}", response=CampaignOut, auth=requires(Capability.RUN_CAMPAIGNS)
)
def get_campaign(request: HttpRequest, campaign_id: int) -> CampaignOut:
    return _out(campaign_get(campaign_id=campaign_id))


@router.put(
    "/campaigns/{campaign_id}", response=CampaignOut, auth=requires(Capability.RUN_CAMPAIGNS)
)
def update_campaign(request: HttpRequest, campaign_id: int, payload: CampaignIn) -> CampaignOut:
    """Change a draft (all fields)."""
    campaign = campaign_update(
        campaign=campaign_get(campaign_id=campaign_id),
        data=_input(payload),
        actor=acting_user(request),
    )
    return _fresh(campaign)


@router.get(
    "/campaigns/{campaign_id}/preview",
    response=PreviewOut,
    auth=requires(Capability.RUN_CAMPAIGNS),
)
def preview_campaign(request: HttpRequest, campaign_id: int) -> PreviewOut:
    """Who would receive it, who would be held for quiet hours, who is excluded and why (with
    sample contact ids), and the text for a sample recipient. Writes nothing."""
    campaign = campaign_get(campaign_id=campaign_id)
    preview = campaign_preview(campaign=campaign, user=acting_user(request))
    return PreviewOut(
        at=preview.at,
        total=preview.total,
        receive=preview.receive,
        send=preview.send,
        hold=preview.hold,
        skip=preview.skip,
        groups=[
            PreviewGroupOut(
                code=group.code,
                label=group.label,
                text=group.text,
                outcome=group.outcome,
                count=group.count,
                sample_contact_ids=[sample.contact_id for sample in group.samples],
            )
            for group in preview.groups
        ],
        sample_text=preview.sample.text if preview.sample else "",
        sample_subject=preview.sample.subject if preview.sample else "",
        sample_error=preview.sample_error,
    )


@router.get(
    "/campaigns/{campaign_id}/progress",
    response=ProgressOut,
    auth=requires(Capability.RUN_CAMPAIGNS),
)
def campaign_progress_get(request: HttpRequest, campaign_id: int) -> ProgressOut:
    """Live counts from the outbox (test sends excluded)."""
    campaign = campaign_get(campaign_id=campaign_id)
    progress = campaign_progress(campaign=campaign)
    return ProgressOut(
        status=campaign.status,
        audience_size=progress.audience_size,
        planned=progress.planned,
        decided_percent=progress.decided_percent,
        skip_reasons=progress.skip_reasons,
        **progress.as_dict(),
    )


@router.post(
    "/campaigns/{campaign_id}/test-send",
    response={202: TestSendOut},
    auth=requires(Capability.RUN_CAMPAIGNS),
)
def test_send(request: HttpRequest, campaign_id: int, payload: TestSendIn) -> Status[TestSendOut]:
    """The message for a sample recipient, marked [TEST], to an address you give; not counted."""
    message = campaign_test_send(
        campaign=campaign_get(campaign_id=campaign_id),
        actor=acting_user(request),
        address=payload.address,
    )
    return Status(
        202, TestSendOut(message_id=message.pk, address=message.address, status=message.status)
    )


@router.post(
    "/campaigns/{campaign_id}/start", response=CampaignOut, auth=requires(Capability.RUN_CAMPAIGNS)
)
def start_campaign(request: HttpRequest, campaign_id: int) -> CampaignOut:
    """Schedule a draft (now, at its time, or at its local time). Promotional campaigns need a
    reviewer's sign-off instead: `submit`."""
    campaign = campaign_start(
        campaign=campaign_get(campaign_id=campaign_id), actor=acting_user(request)
    )
    campaign_kick(campaign=campaign)
    return _fresh(campaign)


@router.post(
    "/campaigns/{campaign_id}/submit",
    response=CampaignOut,
    auth=requires(Capability.RUN_CAMPAIGNS),
)
def submit_campaign(request: HttpRequest, campaign_id: int) -> CampaignOut:
    """Send a promotional draft for sign-off."""
    campaign = campaign_submit(
        campaign=campaign_get(campaign_id=campaign_id), actor=acting_user(request)
    )
    return _fresh(campaign)


@router.post(
    "/campaigns/{campaign_id}/draft", response=CampaignOut, auth=requires(Capability.RUN_CAMPAIGNS)
)
def campaign_to_draft(request: HttpRequest, campaign_id: int) -> CampaignOut:
    """Back to draft from sign-off or from the schedule, before it began sending."""
    campaign = campaign_return(
        campaign=campaign_get(campaign_id=campaign_id), actor=acting_user(request)
    )
    return _fresh(campaign)


@router.post(
    "/campaigns/{campaign_id}/pause", response=ActionOut, auth=requires(Capability.RUN_CAMPAIGNS)
)
def pause_campaign(request: HttpRequest, campaign_id: int) -> ActionOut:
    """Hold every waiting message; nothing goes until it is resumed."""
    campaign, held = campaign_pause(
        campaign=campaign_get(campaign_id=campaign_id), actor=acting_user(request)
    )
    return ActionOut(campaign=_fresh(campaign), affected=held)


@router.post(
    "/campaigns/{campaign_id}/resume", response=ActionOut, auth=requires(Capability.RUN_CAMPAIGNS)
)
def resume_campaign(request: HttpRequest, campaign_id: int) -> ActionOut:
    """Let the held messages go again (quiet hours weighed anew); nothing is sent twice."""
    campaign, report = campaign_resume(
        campaign=campaign_get(campaign_id=campaign_id), actor=acting_user(request)
    )
    return ActionOut(campaign=_fresh(campaign), affected=report.total)


@router.post(
    "/campaigns/{campaign_id}/cancel", response=ActionOut, auth=requires(Capability.RUN_CAMPAIGNS)
)
def cancel_campaign(request: HttpRequest, campaign_id: int, payload: CancelIn) -> ActionOut:
    """Stop for good; whatever still waits is cancelled."""
    campaign, cancelled = campaign_cancel(
        campaign=campaign_get(campaign_id=campaign_id),
        actor=acting_user(request),
        reason=payload.reason,
    )
    return ActionOut(campaign=_fresh(campaign), affected=cancelled)


@router.post(
    "/campaigns/{campaign_id}/sign-off",
    response=CampaignOut,
    auth=requires(Capability.REVIEW_CONTENT),
)
def signoff_campaign(request: HttpRequest, campaign_id: int, payload: SignoffIn) -> CampaignOut:
    """A compliance reviewer (not the campaign's author) signs off a promotional campaign,
    which schedules it, or sends it back to draft."""
    campaign = campaign_get(campaign_id=campaign_id)
    actor = acting_user(request)
    if payload.decision == "signoff":
        campaign = campaign_signoff(campaign=campaign, actor=actor, note=payload.note)
        campaign_kick(campaign=campaign)
    else:
        campaign = campaign_return(campaign=campaign, actor=actor, note=payload.note)
    return _fresh(campaign)
