"""Console forms of the content app: item, version (with one body slot per channel and language),
review decisions, series, and program content rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils import timezone

from carereach.audience.models import ContactKind
from carereach.consent.models import Program
from carereach.content.models import ContentKind, ContentVersion, Series
from carereach.content.services import LANGUAGES, BodyInput, VersionInput
from carereach.vocabulary import Channel

LANGUAGE_LABELS = {"en": "English", "es": "Spanish"}


@dataclass(frozen=True)
class Slot:
    """One body of the composer: a channel in a language."""

    channel: str
    language: str

    @property
    def key(self) -> str:
        return f"{self.channel}-{self.language}"

    @property
    def label(self) -> str:
        return f"{Channel(self.channel).label} · {LANGUAGE_LABELS[self.language]}"

    @property
    def is_email(self) -> bool:
        return self.channel == Channel.EMAIL

    @property
    def is_sms(self) -> bool:
        return self.channel == Channel.SMS


SLOTS = [Slot(channel, language) for channel in Channel.values for language in LANGUAGES]


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


class ItemForm(forms.Form):
    code = forms.SlugField(max_length=80, help_text="Short and unique, e.g. heart-matters-ep-12.")
    title = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=ContentKind.choices)
    program = forms.ModelChoiceField(
        queryset=Program.objects.filter(active=True).order_by("name"),
        required=False,
        help_text="Its consent program: sets the SMS footer, segment limit and e-mail address.",
    )
    series = forms.ModelChoiceField(queryset=Series.objects.order_by("name"), required=False)
    episode_number = forms.IntegerField(
        min_value=1, required=False, help_text="Empty: the next episode of the series."
    )


class ItemEditForm(ItemForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].disabled = True
        self.fields["code"].required = False


class VersionForm(forms.Form):
    """The fields of a version; the bodies come from the slots (see `bodies_from`)."""

    media_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", label="Media link",
        help_text="Episode audio, article or survey; `{{ tracked_link }}` puts it in a body.",
    )  # fmt: skip
    promotional = forms.BooleanField(
        required=False, label="Promotes a prescription drug",
        help_text="Then every message carries the most serious risks and the safety link.",
    )  # fmt: skip
    brand_name = forms.CharField(max_length=120, required=False)
    generic_name = forms.CharField(max_length=160, required=False)
    serious_risks = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Most serious risks"
    )
    safety_info_url = forms.URLField(
        max_length=500, required=False, assume_scheme="https", label="Safety information link"
    )
    contact_kinds = forms.MultipleChoiceField(
        choices=ContactKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any kind of contact.",
    )
    specialties = forms.CharField(
        required=False,
        label="Specialties (NUCC codes)",
        help_text="Comma-separated, e.g. 207RC0000X; empty: any specialty.",
    )
    pediatric = forms.BooleanField(
        required=False,
        label="Pediatric: HCPs in pediatrics and family medicine only",
    )
    languages = forms.MultipleChoiceField(
        choices=[(code, LANGUAGE_LABELS[code]) for code in LANGUAGES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: the languages it has bodies in.",
    )
    territories = forms.CharField(
        required=False, label="Territories (codes)", help_text="Comma-separated; empty: any."
    )

    @classmethod
    def initial_from(cls, version: ContentVersion) -> dict[str, Any]:
        return {
            "media_url": version.media_url,
            "promotional": version.promotional,
            "brand_name": version.brand_name,
            "generic_name": version.generic_name,
            "serious_risks": version.serious_risks,
            "safety_info_url": version.safety_info_url,
            "contact_kinds": version.contact_kinds,
            "specialties": ", ".join(version.specialties),
            "pediatric": version.pediatric,
            "languages": version.languages,
            "territories": ", ".join(version.territories),
        }

    def version_input(self, bodies: list[BodyInput]) -> VersionInput:
        data = self.cleaned_data
        return VersionInput(
            bodies=bodies,
            media_url=data["media_url"] or "",
            promotional=data["promotional"],
            brand_name=data["brand_name"],
            generic_name=data["generic_name"],
            serious_risks=data["serious_risks"],
            safety_info_url=data["safety_info_url"] or "",
            contact_kinds=list(data["contact_kinds"]),
            specialties=_split_list(data["specialties"]),
            pediatric=data["pediatric"],
            languages=list(data["languages"]),
            territories=_split_list(data["territories"]),
        )


def bodies_from(post: QueryDict) -> list[BodyInput]:
    """The slots an author filled in (a slot with no text is left out)."""
    bodies = []
    for slot in SLOTS:
        text = post.get(f"body-{slot.key}-text", "").replace("\r\n", "\n")
        if not text.strip():
            continue
        bodies.append(
            BodyInput(
                channel=slot.channel,
                language=slot.language,
                text=text,
                subject=post.get(f"body-{slot.key}-subject", "").strip() if slot.is_email else "",
                html=post.get(f"body-{slot.key}-html", "").replace("\r\n", "\n")
                if slot.is_email
                else "",
            )
        )
    return bodies


def slot_values(
    version: ContentVersion | None, post: QueryDict | None = None
) -> list[dict[str, Any]]:
    """Each slot with its current text (from the form just posted, else the version)."""
    saved = {(b.channel, b.language): b for b in version.bodies.all()} if version else {}
    rows = []
    for slot in SLOTS:
        body = saved.get((slot.channel, slot.language))
        if post is not None:
            text = post.get(f"body-{slot.key}-text", "")
            subject = post.get(f"body-{slot.key}-subject", "")
            markup = post.get(f"body-{slot.key}-html", "")
        else:
            text = body.text if body else ""
            subject = body.subject if body else ""
            markup = body.html if body else ""
        rows.append({"slot": slot, "text": text, "subject": subject, "html": markup})
    return rows


class ApproveForm(forms.Form):
    review_code = forms.CharField(
        max_length=60, help_text="The MLR job number, e.g. MLR-2026-0142."
    )
    valid_from = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    valid_until = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    comments = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    supersede = forms.BooleanField(
        required=False,
        initial=True,
        label="Withdraw the item's other approved versions",
    )

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        now = timezone.localtime().replace(second=0, microsecond=0)
        return {
            "valid_from": now.strftime("%Y-%m-%dT%H:%M"),
            "valid_until": (now + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M"),
            "supersede": True,
        }


class ChangesForm(forms.Form):
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="What must change")


class WithdrawForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why it is withdrawn")


class SeriesForm(forms.Form):
    code = forms.SlugField(max_length=60)
    name = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    program = forms.ModelChoiceField(
        queryset=Program.objects.filter(active=True).order_by("name"), required=False
    )


class PolicyForm(forms.Form):
    sms_footer_required = forms.BooleanField(
        required=False, label="Texts carry the program name and “Reply STOP to opt out”"
    )
    sms_segment_limit = forms.IntegerField(min_value=1, max_value=10, label="SMS segment limit")
    postal_address = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Postal address for e-mail (CAN-SPAM)",
    )
    phi_to_accepted_channels = forms.BooleanField(
        required=False,
        label="Sends PHI only on channels the patient accepted",
        help_text="Lets bodies with PHI be approved; patients who did not accept PHI on a "
        "channel never get them there.",
    )
