"""Console forms of engagement: a logged visit or call, a result-ready notice, a survey."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.db.models import QuerySet

from carereach.audience.models import Contact
from carereach.consent.models import Program, ProgramType
from carereach.content.eligibility import content_eligibility
from carereach.content.models import ContentVersion
from carereach.content.selectors import versions_approved
from carereach.engagement.models import InteractionKind, SurveyKind
from carereach.errors import CarereachError
from carereach.vocabulary import Channel

FALLBACK_ZONE = "America/New_York"


def field_error(form: forms.Form, error: CarereachError) -> None:
    """Show a service's error by its field (or above the form when it names none we have)."""
    name = error.field if error.field in form.fields else None
    form.add_error(name, error.message)


def eligible_follow_ups(contact: Contact) -> list[ContentVersion]:
    """Approved, current versions this HCP may receive (the content's own audience rules)."""
    versions = versions_approved().select_related("item", "item__program", "item__series")
    return [v for v in versions if content_eligibility(version=v, contact=contact)]


class VersionChoice(forms.ModelChoiceField[ContentVersion]):
    def label_from_instance(self, obj: ContentVersion) -> str:
        return f"{obj.item.title} {obj.label} ({obj.review_code})"


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(choices=InteractionKind.choices, label="What happened")
    notes = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    follow_up = VersionChoice(
        queryset=ContentVersion.objects.none(),
        required=False,
        label="Follow-up content",
        help_text="Approved content this HCP may receive; it goes under your name.",
    )
    program = forms.ModelChoiceField(
        queryset=Program.objects.none(),
        required=False,
        help_text="For a meeting invite without content: the program the HCP consented to.",
    )
    channel = forms.ChoiceField(
        required=False,
        choices=[("", "Their preferred channel"), *[(c, c) for c in ("sms", "email", "voice")]],
    )
    notify_by_text = forms.BooleanField(
        required=False, label="Also text them that an e-mail or voicemail is waiting"
    )
    meeting_at = forms.DateTimeField(
        required=False,
        label="Virtual meeting at (the HCP's local time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    meeting_link = forms.URLField(
        required=False, max_length=500, label="Meeting link", assume_scheme="https"
    )

    def __init__(self, *args: object, contact: Contact, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.contact = contact
        eligible = [v.pk for v in eligible_follow_ups(contact)]
        follow_up = cast("forms.ModelChoiceField[ContentVersion]", self.fields["follow_up"])
        follow_up.queryset = ContentVersion.objects.filter(pk__in=eligible).select_related("item")
        program = cast("forms.ModelChoiceField[Program]", self.fields["program"])
        program.queryset = Program.objects.filter(active=True).order_by("name")

    def meeting_time(self) -> datetime | None:
        """The typed meeting time, read in the HCP's zone (the form's value is naive)."""
        value: datetime | None = self.cleaned_data.get("meeting_at")
        if value is None:
            return None
        try:
            zone = ZoneInfo(self.contact.time_zone or FALLBACK_ZONE)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo(FALLBACK_ZONE)
        return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def notice_programs() -> QuerySet[Program]:
    return Program.objects.filter(
        active=True, type__in=[ProgramType.TRANSACTIONAL, ProgramType.HEALTHCARE_EXEMPT]
    ).order_by("name")


class ResultNoticeForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    portal_url = forms.CharField(max_length=300, label="Portal link")
    reference = forms.CharField(
        max_length=100, label="Lab order reference", help_text="Asking twice sends once."
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        program = cast("forms.ModelChoiceField[Program]", self.fields["program"])
        program.queryset = notice_programs()


class SurveyForm(forms.Form):
    code = forms.SlugField(max_length=60)
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=SurveyKind.choices)
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    question = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
    follow_up = forms.CharField(
        required=False,
        max_length=300,
        label="Follow-up question",
        help_text="Asked after a valid score, e.g. “What is the main reason for your score?”",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        program = cast("forms.ModelChoiceField[Program]", self.fields["program"])
        texting = [p.pk for p in Program.objects.filter(active=True) if Channel.SMS in p.channels]
        program.queryset = Program.objects.filter(pk__in=texting).order_by("name")


class SurveySendForm(forms.Form):
    query = forms.CharField(
        label="Who gets it (segment query)",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text='For example: kind = hcp and state = "CA"',
    )
