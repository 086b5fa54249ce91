"""Reads of campaigns: lists, one campaign, its live progress from the outbox, its preview."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.campaigns.models import Campaign, CampaignEvent, CampaignStatus, ScheduleKind
from carereach.campaigns.pipeline import campaign_audience, campaign_trigger
from carereach.content.rendering import Rendered, content_preview
from carereach.content.samples import SAMPLE_RECIPIENTS
from carereach.content.selectors import version_get
from carereach.errors import CarereachError, NotFoundError
from carereach.messaging.models import MessageStatus
from carereach.messaging.services.fanout import fanout_preview
from carereach.messaging.services.triggers import trigger_status_counts

# What the preview and progress call each outcome, for a person.
REASON_LABELS: dict[str, str] = {
    "allowed": "Will receive it",
    "quiet_hours": "Held for quiet hours, then sent",
    "contact_inactive": "Unreachable, deceased or merged",
    "no_address": "No address on this channel",
    "landline": "Landline (texts cannot reach it)",
    "confidential": "Asked to be contacted another way",
    "suppressed": "Address suppressed",
    "no_consent": "No consent",
    "consent_pending": "Consent not confirmed (double opt-in)",
    "consent_revoked": "Opted out",
    "consent_expired": "Consent expired",
    "consent_gone": "Opted out after it was queued",
    "content_unavailable": "Content not available",
    "ineligible": "Outside the content's audience (specialty, kind, language, territory)",
    "sender_type": "Drug promotion needs a short code",
    "frequency_cap": "Weekly frequency cap reached",
    "exempt_limit": "Healthcare-exemption limit reached",
    "exempt_too_long": "Too long for the healthcare exemption",
    "expired": "Would go only after the expiry",
}


def reason_label(code: str) -> str:
    return REASON_LABELS.get(code, code.replace("_", " ").capitalize())


def campaigns_list(*, status: str = "") -> QuerySet[Campaign]:
    campaigns = Campaign.objects.select_related(
        "program",
        "content_version",
        "content_version__item",
        "created_by",
        "submitted_by",
        "signed_off_by",
    )
    if status:
        campaigns = campaigns.filter(status=status)
    return campaigns.order_by("-created_at", "-id")


def campaigns_awaiting_signoff() -> QuerySet[Campaign]:
    return campaigns_list(status=CampaignStatus.AWAITING_SIGNOFF).order_by("submitted_at", "id")


def campaign_get(*, campaign_id: int) -> Campaign:
    campaign = (
        Campaign.objects.select_related(
            "program",
            "content_version",
            "content_version__item",
            "segment",
            "created_by",
            "submitted_by",
            "signed_off_by",
            "started_by",
        )
        .filter(pk=campaign_id)
        .first()
    )
    if campaign is None:
        raise NotFoundError("No such campaign.")
    return campaign


def campaign_history(*, campaign: Campaign) -> QuerySet[CampaignEvent]:
    return campaign.events.order_by("at", "id")


@dataclass(frozen=True)
class Progress:
    """Where the campaign's messages stand, read from the outbox (test sends not included)."""

    counts: dict[str, int]
    planned: int
    audience_size: int | None
    fanned_out: bool
    skip_reasons: dict[str, int]  # decided at fan-out, by reason

    def _n(self, *statuses: str) -> int:
        return sum(self.counts.get(status, 0) for status in statuses)

    @property
    def queued(self) -> int:
        return self._n(MessageStatus.QUEUED, MessageStatus.HELD, MessageStatus.SENDING)

    @property
    def paused(self) -> int:
        return self._n(MessageStatus.PAUSED)

    @property
    def sent(self) -> int:
        return self._n(MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)

    @property
    def delivered(self) -> int:
        return self._n(MessageStatus.DELIVERED)

    @property
    def failed(self) -> int:
        return self._n(MessageStatus.FAILED, MessageStatus.UNDELIVERED)

    @property
    def skipped(self) -> int:
        return self._n(MessageStatus.SKIPPED)

    @property
    def cancelled(self) -> int:
        return self._n(MessageStatus.CANCELLED)

    @property
    def expired(self) -> int:
        return self._n(MessageStatus.EXPIRED)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def skip_rows(self) -> list[tuple[str, str, int]]:
        """(label, code, count) of the fan-out's skips, most first."""
        rows = sorted(self.skip_reasons.items(), key=lambda item: (-item[1], item[0]))
        return [(reason_label(code), code, count) for code, count in rows]

    @property
    def later_skips(self) -> int:
        """Skipped at the last moment (an opt-out after queueing), not at the fan-out."""
        return max(self.skipped - sum(self.skip_reasons.values()), 0)

    @property
    def decided_percent(self) -> int:
        if self.fanned_out:
            return 100
        if not self.audience_size:
            return 0
        return min(int(100 * self.planned / self.audience_size), 99)

    def as_dict(self) -> dict[str, int]:
        return {
            "queued": self.queued,
            "paused": self.paused,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "skipped": self.skipped,
            "cancelled": self.cancelled,
            "expired": self.expired,
            "total": self.total,
        }


def campaign_progress(*, campaign: Campaign) -> Progress:
    counts = trigger_status_counts(trigger_key=campaign.trigger_key) if campaign.pk else {}
    return Progress(
        counts=counts,
        planned=campaign.planned,
        audience_size=campaign.audience_size,
        fanned_out=campaign.fanned_out_at is not None,
        skip_reasons=dict(campaign.skip_reasons or {}),
    )


@dataclass(frozen=True)
class Sample:
    contact_id: int
    kind: str


@dataclass(frozen=True)
class PreviewGroup:
    code: str
    label: str
    text: str  # the engine's own words for the first of them
    outcome: str  # send | hold | skip
    count: int
    samples: list[Sample]


@dataclass
class CampaignPreview:
    at: datetime
    local: bool  # a local-time campaign: "send" and "hold" all go at each one's local time
    total: int = 0
    send: int = 0
    hold: int = 0
    skip: int = 0
    groups: list[PreviewGroup] = field(default_factory=list)
    sample: Rendered | None = None  # the text for a sample recipient
    sample_label: str = ""
    sample_error: str = ""

    @property
    def receive(self) -> int:
        return self.send + self.hold


def _preview_moment(campaign: Campaign, now: datetime) -> datetime:
    if campaign.schedule_kind == ScheduleKind.AT and campaign.send_at is not None:
        return max(campaign.send_at, now)
    return now


def _sample_text(campaign: Campaign, preview: CampaignPreview) -> None:
    version = version_get(version_id=campaign.content_version_id)
    languages = [body.language for body in version.bodies.all() if body.channel == campaign.channel]
    language = "en" if "en" in languages else (languages[0] if languages else "en")
    kinds = [kind for kind in (version.contact_kinds or []) if kind in SAMPLE_RECIPIENTS]
    values = SAMPLE_RECIPIENTS[kinds[0] if kinds else "hcp"]
    preview.sample_label = values["label"]
    try:
        preview.sample = content_preview(
            version=version, channel=campaign.channel, language=language, values=values
        )
    except CarereachError as error:
        preview.sample_error = error.message


def campaign_preview(
    *, campaign: Campaign, user: User, now: datetime | None = None
) -> CampaignPreview:
    """What starting the campaign would do, without writing anything: how many receive it,
    how many are held for quiet hours, how many are excluded and why, with a few each."""
    now = now or timezone.now()
    at = _preview_moment(campaign, now)
    audience = campaign_audience(query=campaign.query, user=user)
    trigger = campaign_trigger(campaign, audience=audience, at=at)
    result = fanout_preview(trigger=trigger, contacts=audience, now=at, sample_size=5)
    preview = CampaignPreview(
        at=at,
        local=campaign.schedule_kind == ScheduleKind.LOCAL,
        total=result.total,
        send=result.send,
        hold=result.hold,
        skip=result.skip,
    )
    ids = [pk for sample in result.samples.values() for pk in sample]
    kinds = dict(Contact.objects.filter(pk__in=ids).values_list("pk", "kind"))
    order = {"allowed": 0, "quiet_hours": 1}
    for code, count in sorted(
        result.by_reason.items(), key=lambda item: (order.get(item[0], 2), -item[1], item[0])
    ):
        outcome = "send" if code == "allowed" else "hold" if code == "quiet_hours" else "skip"
        preview.groups.append(
            PreviewGroup(
                code=code,
                label=reason_label(code),
                text=result.texts.get(code, ""),
                outcome=outcome,
                count=count,
                samples=[Sample(pk, kinds.get(pk, "")) for pk in result.samples.get(code, [])],
            )
        )
    _sample_text(campaign, preview)
    return preview
