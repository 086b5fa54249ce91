"""Console forms of campaigns: the campaign itself, the test send, sign-off and cancel notes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from carereach.audience.selectors import segments_all
from carereach.campaigns.models import Campaign, ScheduleKind
from carereach.campaigns.services.editing import SENDABLE_CHANNELS, CampaignInput
from carereach.consent.models import Program
from carereach.consent.selectors import programs_all
from carereach.content.models import ContentVersion
from carereach.content.selectors import versions_approved
from carereach.vocabulary import Channel


class VersionChoice(forms.ModelChoiceField[ContentVersion]):
    def label_from_instance(self, obj: ContentVersion) -> str:
        flag = " · promotional" if obj.promotional else ""
        return f"{obj.item.title} {obj.label} ({obj.review_code or 'approved'}){flag}"


def _programs() -> QuerySet[Program]:
    return programs_all().filter(active=True).order_by("name")


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=120)
    program = forms.ModelChoiceField(queryset=_programs(), help_text="Its consent program.")
    content_version = VersionChoice(
        queryset=versions_approved().order_by("item__title", "-number"),
        label="Content",
        help_text="Only approved versions are listed.",
    )
    channel = forms.ChoiceField(
        choices=[(c.value, c.label) for c in Channel if c in SENDABLE_CHANNELS],
        initial=Channel.SMS,
    )
    fallback_channels = forms.MultipleChoiceField(
        choices=[(c.value, c.label) for c in Channel if c in SENDABLE_CHANNELS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Then, for those it cannot reach",
        help_text="Each person gets one message, on the first of these channels that may be "
        "used (consent, address, line type).",
    )
    segment = forms.ModelChoiceField(
        queryset=segments_all().order_by("name"),
        required=False,
        label="Saved segment",
        help_text="Or leave empty and write a query below.",
    )
    query = forms.CharField(
        required=False,
        label="Segment query",
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false"}),
        help_text='e.g. kind = hcp and specialty in ("207RC0000X") and state = "CA"',
    )
    schedule_kind = forms.ChoiceField(
        choices=ScheduleKind.choices,
        initial=ScheduleKind.NOW,
        widget=forms.RadioSelect,
        label="When",
    )
    send_at = forms.DateTimeField(
        required=False,
        label="Send at (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    local_date = forms.DateField(
        required=False,
        label="Local day",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    local_time = forms.TimeField(
        required=False,
        label="Local time",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Each recipient gets it at this time in their own zone (quiet hours apply).",
    )
    expires_at = forms.DateTimeField(
        required=False,
        label="Expires (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Nothing goes out after this. Empty: 3 days after the last send time.",
    )

    def campaign_input(self) -> CampaignInput:
        data = self.cleaned_data
        return CampaignInput(
            name=data["name"],
            program=data["program"],
            content_version=data["content_version"],
            channel=data["channel"],
            fallback_channels=tuple(data["fallback_channels"] or ()),
            segment=data["segment"],
            query=data["query"] or "",
            schedule_kind=data["schedule_kind"],
            send_at=data["send_at"],
            local_date=data["local_date"],
            local_time=data["local_time"],
            expires_at=data["expires_at"],
        )

    def add_problems(self, problems: list[tuple[str, str]]) -> None:
        """The service's problems, each under its field (others above the form)."""
        for name, message in problems:
            self.add_error(name if name in self.fields else None, message)

    @staticmethod
    def initial_for(campaign: Campaign) -> dict[str, Any]:
        return {
            "name": campaign.name,
            "program": campaign.program_id,
            "content_version": campaign.content_version_id,
            "channel": campaign.channel,
            "fallback_channels": list(campaign.fallback_channels or []),
            "segment": campaign.segment_id,
            "query": "" if campaign.segment_id else campaign.query,
            "schedule_kind": campaign.schedule_kind,
            "send_at": campaign.send_at,
            "local_date": campaign.local_date,
            "local_time": campaign.local_time,
            "expires_at": campaign.expires_at,
        }


class TestSendForm(forms.Form):
    address = forms.CharField(
        max_length=320,
        label="Your phone or e-mail",
        help_text="The message goes there once, marked [TEST], and is not counted.",
    )


class SignoffForm(forms.Form):
    note = forms.CharField(
        required=False, label="Note", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class CancelForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300, label="Why (optional)")
