"""Console and public forms of the consent app.

The forms check what a control can get wrong (a choice outside the list, a missing reason, a
signature that is not a PNG) and work out which (program, channels) pairs the person chose; the
ledger's own rules stay in `services.consent_record`, whose errors the views attach to the field
they name.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django import forms

from carereach.audience.drafts import ContactDraft, contact_draft
from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.consent.signup import TERMS_CHANGED
from carereach.vocabulary import Channel

SIGNATURE_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 300_000  # a finger signature on a tablet canvas is 5-60 kB as PNG
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PHONE_CHANNELS = (Channel.SMS.value, Channel.VOICE.value)
KIND_LABELS = {"phone": "texts or calls", "email": "e-mail"}


@dataclass(frozen=True)
class AddressOption:
    """One of the contact's own phones or e-mail addresses, as the forms offer it."""

    value: str  # "phone:<pk>" or "email:<pk>": the page never needs the address as a value
    kind: str  # phone | email
    address: str  # E.164 number or e-mail address
    label: str  # what the page shows: full, or masked when the viewer may not see it
    detail: str  # line type or use
    texts: bool  # False for a landline: it takes calls, not texts

    @property
    def channels(self) -> tuple[str, ...]:
        if self.kind == "email":
            return (Channel.EMAIL.value,)
        return PHONE_CHANNELS if self.texts else (Channel.VOICE.value,)


def mask_phone(e164: str) -> str:
    return "••• ••• " + e164[-4:]


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"


def mask_address(address: str) -> str:
    return mask_email(address) if "@" in address else mask_phone(address)


def address_options(contact: Contact, *, full: bool) -> list[AddressOption]:
    options = [
        AddressOption(
            value=f"phone:{phone.pk}",
            kind="phone",
            address=phone.e164,
            label=phone.e164 if full else mask_phone(phone.e164),
            detail=f"{phone.get_line_type_display()}, {phone.get_use_display()}",
            texts=phone.line_type != "landline",
        )
        for phone in contact.phones.all()
    ]
    options += [
        AddressOption(
            value=f"email:{email.pk}",
            kind="email",
            address=email.address,
            label=email.address if full else mask_email(email.address),
            detail=email.get_use_display(),
            texts=False,
        )
        for email in contact.emails.all()
    ]
    return options


def _signature_bytes(value: str) -> bytes:
    if not value.startswith(SIGNATURE_PREFIX):
        raise forms.ValidationError("The signature did not come through as an image; sign again.")
    try:
        data = base64.b64decode(value[len(SIGNATURE_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise forms.ValidationError("The signature image is damaged; sign again.") from None
    if not data.startswith(PNG_MAGIC):
        raise forms.ValidationError("The signature image is damaged; sign again.")
    if len(data) > MAX_SIGNATURE_BYTES:
        raise forms.ValidationError("The signature image is too large; clear it and sign again.")
    return data


def is_signature(value: object) -> bool:
    """A stored signature we can show as an image (anything else is shown as text)."""
    if not isinstance(value, str):
        return False
    try:
        _signature_bytes(value)
    except forms.ValidationError:
        return False
    return True


class _AddressForm(forms.Form):
    address = forms.ChoiceField(label="Address", widget=forms.RadioSelect)

    def __init__(self, *args: Any, options: Sequence[AddressOption], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = list(options)
        field = cast(forms.ChoiceField, self.fields["address"])
        field.choices = [(o.value, o.label) for o in self.options]
        if len(self.options) == 1:
            self.initial.setdefault("address", self.options[0].value)

    def chosen(self) -> AddressOption:
        value = self.cleaned_data["address"]
        return next(o for o in self.options if o.value == value)


class CaptureForm(_AddressForm):
    """In-person consent: the address the HCP confirmed, the programs they ticked, a signature."""

    address = forms.ChoiceField(
        label="Which number or e-mail address?",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the number or address the person confirmed."},
    )
    programs = forms.MultipleChoiceField(
        label="Programs",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one program the person agrees to."},
    )
    signature = forms.CharField(required=False, widget=forms.HiddenInput, strip=True)
    typed_name = forms.CharField(
        label="Or type your full name",
        required=False,
        max_length=150,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "words"}),
    )

    def __init__(
        self,
        *args: Any,
        options: Sequence[AddressOption],
        programs: Sequence[Program],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, options=options, **kwargs)
        self.offered = list(programs)
        field = cast(forms.MultipleChoiceField, self.fields["programs"])
        field.choices = [(p.code, p.name) for p in self.offered]

    def clean_signature(self) -> str:
        value = str(self.cleaned_data.get("signature") or "")
        if value:
            _signature_bytes(value)
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        signed = data.get("signature") or data.get("typed_name")
        if "signature" in data and "typed_name" in data and not signed:
            self.add_error(
                "signature", "Sign with a finger in the box, or type your full name below."
            )
        if "address" in data and "programs" in data:
            kind = self.chosen().kind
            for program in self.chosen_programs():
                if not self.channels_for(program):
                    self.add_error("programs", f"{program.name} does not send {KIND_LABELS[kind]}.")
        return data

    def chosen_programs(self) -> list[Program]:
        codes = set(self.cleaned_data.get("programs") or ())
        return [p for p in self.offered if p.code in codes]

    def channels_for(self, program: Program) -> list[str]:
        """The program's channels this address can take (a landline takes no texts)."""
        return [c for c in program.channels if c in self.chosen().channels]

    def groups(self) -> list[tuple[Program, list[str]]]:
        return [(p, self.channels_for(p)) for p in self.chosen_programs()]


class RevokeForm(_AddressForm):
    """A revocation noted by staff: address, channels, programs or every program, and why."""

    address = forms.ChoiceField(
        label="Which number or e-mail address?",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose the number or address the person asked about."},
    )
    channels = forms.MultipleChoiceField(
        label="Channels",
        widget=forms.CheckboxSelectMultiple,
        choices=[(c.value, c.label) for c in (Channel.SMS, Channel.VOICE, Channel.EMAIL)],
        help_text="A stop asked for on a call also covers texts, and the other way round, "
        "unless the person said otherwise.",
        error_messages={"required": "Tick at least one channel."},
    )
    scope = forms.ChoiceField(
        label="Programs",
        widget=forms.RadioSelect,
        choices=[("all", "All programs"), ("some", "Only the programs ticked below")],
        initial="all",
    )
    programs = forms.MultipleChoiceField(
        label="Which programs", required=False, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        label="Reason",
        max_length=200,
        strip=True,
        help_text="What the person asked for and how, e.g. “Called the help line: stop all texts”.",
        error_messages={"required": "Say why: what the person asked for, and how."},
    )

    def __init__(
        self,
        *args: Any,
        options: Sequence[AddressOption],
        programs: Sequence[Program],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, options=options, **kwargs)
        self.offered = list(programs)
        field = cast(forms.MultipleChoiceField, self.fields["programs"])
        field.choices = [(p.code, p.name) for p in self.offered]
        # All ticked: the address decides which apply (a phone: texts and calls; the page's
        # script hides the others).
        self.initial.setdefault(
            "channels", [c.value for c in (Channel.SMS, Channel.VOICE, Channel.EMAIL)]
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("scope") == "some" and not data.get("programs"):
            self.add_error("programs", "Tick the programs to stop, or choose all programs.")
        if "address" in data and data.get("channels"):
            option = self.chosen()
            # A phone's revocation covers texts and calls even for a landline on file.
            fits = PHONE_CHANNELS if option.kind == "phone" else option.channels
            kept = [c for c in data["channels"] if c in fits]
            if not kept:
                self.add_error(
                    "channels",
                    f"This address takes {KIND_LABELS[option.kind]}: tick one of those channels.",
                )
            data["channels"] = kept
        return data

    def chosen_programs(self) -> list[Program | None]:
        if self.cleaned_data.get("scope") != "some":
            return [None]
        codes = set(self.cleaned_data.get("programs") or ())
        return [p for p in self.offered if p.code in codes]


SIGNUP_CHANNEL_LABELS = {Channel.SMS.value: "Text messages", Channel.EMAIL.value: "E-mail"}


class SignupForm(forms.Form):
    """The public sign-up: who the person is, where to reach them, and the channels they tick.

    Nothing is ticked for them. `website` is a honeypot: hidden from people, filled by bots. The
    disclosure version the page showed comes back with the form, so the entry stores the version
    the person read, and a change in between sends them back to read it again.
    """

    kind = forms.ChoiceField(
        label="I am a",
        widget=forms.RadioSelect,
        choices=[
            ("hcp", "Healthcare professional"),
            ("patient", "Patient"),
            ("caregiver", "Caregiver"),
        ],
        error_messages={"required": "Tell us who you are."},
    )
    first_name = forms.CharField(
        label="First name",
        max_length=100,
        strip=True,
        error_messages={"required": "Give your first name."},
        widget=forms.TextInput(attrs={"autocomplete": "given-name", "autocapitalize": "words"}),
    )
    last_name = forms.CharField(
        label="Last name",
        max_length=100,
        strip=True,
        error_messages={"required": "Give your last name."},
        widget=forms.TextInput(attrs={"autocomplete": "family-name", "autocapitalize": "words"}),
    )
    phone = forms.CharField(
        label="Mobile number",
        max_length=40,
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    email = forms.CharField(
        label="E-mail address",
        max_length=320,
        required=False,
        strip=True,
        widget=forms.TextInput(
            attrs={"type": "email", "autocomplete": "email", "autocapitalize": "none"}
        ),
    )
    channels = forms.MultipleChoiceField(
        label="How may we reach you?",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Tick at least one way to reach you."},
    )
    disclosure_version = forms.CharField(widget=forms.HiddenInput, required=False)
    website = forms.CharField(label="Leave this empty", required=False)

    def __init__(
        self, *args: Any, program: Program, channels: Sequence[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.program = program
        self.initial.setdefault("disclosure_version", program.disclosure_version)
        field = cast(forms.MultipleChoiceField, self.fields["channels"])
        field.choices = [(c, SIGNUP_CHANNEL_LABELS[c]) for c in channels]
        if program.signup_kind:
            del self.fields["kind"]
        self.draft: ContactDraft | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = data.get("channels") or []
        if Channel.SMS in chosen and not data.get("phone") and "phone" not in self.errors:
            self.add_error("phone", "Give a mobile number for text messages.")
        if Channel.EMAIL in chosen and not data.get("email") and "email" not in self.errors:
            self.add_error("email", "Give an e-mail address for e-mails.")
        if data.get("disclosure_version") != self.program.disclosure_version:
            self.add_error("disclosure_version", TERMS_CHANGED)
        if self.errors:
            return data
        kind = self.program.signup_kind or data["kind"]
        fields = {
            "kind": kind,
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "phone": data.get("phone") or "",
            "email": data.get("email") or "",
        }
        draft, problems = contact_draft(fields)
        for problem in problems:
            where = problem.field if problem.field in self.fields else None
            self.add_error(where, _problem_text(problem.field, problem.reason))
        if (
            draft is not None
            and Channel.SMS in chosen
            and draft.phones
            and draft.phones[0].line_type == "landline"
        ):
            self.add_error("phone", "That number is a landline: it cannot receive text messages.")
        self.draft = draft if not self.errors else None
        return data


def _problem_text(field: str, reason: str) -> str:
    labels = {"phone": "That number", "email": "That address", "first_name": "The first name"}
    labels["last_name"] = "The last name"
    text = f"{labels.get(field, field.replace('_', ' ').capitalize())}: {reason}."
    return text.replace("..", ".")
