"""Console forms of the audience app.

The forms only carry text to the real rules: a new contact is validated by
`drafts.contact_draft` (the same check the API and the CSV import run), a segment query by the
segment compiler. A form's own validation is limited to what a browser control can get wrong
(a choice outside its list); every other problem comes back from the rules and is attached to
the field it names, so the console shows it next to that field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from carereach.audience.drafts import KNOWN_FIELDS, FieldProblem
from carereach.audience.imports.mapping import CUSTOM_PREFIX
from carereach.audience.models import ContactKind, ImportMode, Territory
from carereach.errors import CarereachError
from carereach.vocabulary import Channel

MAX_QUERY = 10_000  # the segment language's own limit (docs/segments.md)
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # as drafts.contact_draft accepts
_NOT_KEY = re.compile(r"[^a-z0-9]+")


def _text(label: str, *, help_text: str = "", **attrs: str) -> forms.CharField:
    """An optional text field whose value the draft rules check, not the form."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        help_text=help_text,
        widget=forms.TextInput(attrs=attrs),
    )


def _problem_message(problem: FieldProblem) -> str:
    reason = problem.reason.rstrip(".")
    return reason[:1].upper() + reason[1:] + "."


class ContactSearchForm(forms.Form):
    """The filters above the contact list; every value is optional."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        help_text="HCP name, NPI, phone number or e-mail address.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "Any kind"), *ContactKind.choices]
    )
    territory = forms.ChoiceField(label="Territory", required=False)

    def __init__(self, *args: Any, territories: QuerySet[Territory], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        territory = cast(forms.ChoiceField, self.fields["territory"])
        territory.choices = [("", "Any territory"), *((t.code, str(t)) for t in territories)]


# Fields of the new-contact form, by the fieldset that shows them. Names are the canonical
# field names of `contact_draft` (the CSV import's columns), so problems map one to one.
CONTACT_FIELDSETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("who", "Who", ("kind", "first_name", "last_name")),
    ("hcp", "Healthcare professional", ("npi", "credentials", "organization", "specialties")),
    ("patient", "Patient record", ("date_of_birth", "mrn")),
    ("reach", "Phones and e-mail", ("phone", "phone2", "email", "email2")),
    (
        "postal",
        "Postal address",
        ("address_line1", "address_line2", "city", "state", "postal_code", "country"),
    ),
    (
        "preferences",
        "Preferences",
        (
            "language",
            "preferred_channels",
            "time_zone",
            "interpreter_language",
            "large_print",
            "spoken_messages",
        ),
    ),
    ("placement", "Territory and tags", ("territory", "persona", "tags", "external_id")),
)


class ContactForm(forms.Form):
    """A new contact, one field per canonical draft field."""

    kind = forms.ChoiceField(label="Kind", choices=ContactKind.choices)
    first_name = _text("First name", autocomplete="off")
    last_name = _text("Last name", autocomplete="off")
    npi = _text(
        "NPI",
        help_text="10 digits, from the NPPES registry.",
        inputmode="numeric",
        autocomplete="off",
    )
    credentials = _text("Credentials", help_text="For example MD, DO, NP, PharmD.")
    organization = _text("Organization")
    specialties = _text(
        "Specialties",
        help_text="NUCC taxonomy codes separated by “;”, for example 207Q00000X.",
        autocomplete="off",
    )
    date_of_birth = forms.CharField(
        label="Date of birth",
        required=False,
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "off"}),
    )
    mrn = _text("Medical record number", autocomplete="off")
    phone = _text("Phone", help_text="With area code; +country code outside the US.", type="tel")
    phone2 = _text("Second phone", type="tel")
    email = _text("E-mail", type="email")
    email2 = _text("Second e-mail", type="email")
    address_line1 = _text("Address line 1", autocomplete="address-line1")
    address_line2 = _text("Address line 2", autocomplete="address-line2")
    city = _text("City", autocomplete="address-level2")
    state = _text("State", help_text="Two-letter code, for example CA.", maxlength="3")
    postal_code = _text("Postal code", autocomplete="postal-code")
    country = _text("Country", help_text="Two-letter code; empty means US.", maxlength="2")
    language = _text("Language", help_text="BCP 47 tag, for example en, es or en-US.")
    preferred_channels = _text(
        "Preferred channels",
        help_text=(
            "Most preferred first, separated by “;”: "
            + ", ".join(value for value in Channel.values)
            + "."
        ),
    )
    time_zone = _text(
        "Time zone",
        help_text=(
            "IANA name such as America/Chicago. Left empty, it is taken from the postal "
            "address or the phone number."
        ),
    )
    interpreter_language = _text("Interpreter language", help_text="BCP 47 tag, if one is needed.")
    large_print = forms.BooleanField(label="Large print", required=False)
    spoken_messages = forms.BooleanField(label="Spoken messages", required=False)
    territory = forms.ChoiceField(label="Territory", required=False)
    persona = _text("Persona", help_text="A slug such as busy-parent.")
    tags = _text("Tags", help_text="Separated by “;”.")
    external_id = _text("External id", help_text="The contact's id in the system it came from.")

    def __init__(
        self,
        *args: Any,
        territories: QuerySet[Territory],
        all_territories: bool,
        may_enter_phi: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        codes = [(t.code, str(t)) for t in territories]
        territory = cast(forms.ChoiceField, self.fields["territory"])
        if all_territories:
            territory.choices = [("", "No territory"), *codes]
        else:
            territory.choices = codes if len(codes) == 1 else [("", "Choose…"), *codes]
        self.may_enter_phi = may_enter_phi
        if not may_enter_phi:
            # Patients' and caregivers' identities are PHI: a role that may not read PHI back
            # does not enter it either, so it records HCPs only.
            kind = cast(forms.ChoiceField, self.fields["kind"])
            kind.choices = [(ContactKind.HCP.value, ContactKind.HCP.label)]
            for name in ("date_of_birth", "mrn"):
                del self.fields[name]
        self.fields["language"].initial = "en"

    def fieldsets(self) -> Iterable[tuple[str, str, list[forms.BoundField]]]:
        for key, legend, names in CONTACT_FIELDSETS:
            bound = [self[name] for name in names if name in self.fields]
            if bound:
                yield key, legend, bound

    def draft_fields(self) -> dict[str, str]:
        """The cleaned values as `contact_draft` takes them: text, empty values left out."""
        fields: dict[str, str] = {}
        for name, value in self.cleaned_data.items():
            if isinstance(value, bool):
                if value:
                    fields[name] = "yes"
            elif value:
                fields[name] = str(value)
        return fields

    def add_problems(self, problems: Iterable[FieldProblem]) -> None:
        """Attach each problem to the field it names (or to the form if it names none here)."""
        for problem in problems:
            field = problem.field if problem.field in self.fields else None
            self.add_error(field, _problem_message(problem))

    def add_failure(self, error: CarereachError) -> None:
        field = error.field if error.field in self.fields else None
        self.add_error(field, error.message)


class SegmentForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120, required=False, strip=True)
    description = forms.CharField(
        label="Description",
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    query = forms.CharField(
        label="Query",
        required=False,
        strip=False,
        max_length=MAX_QUERY,
        help_text="Who belongs: the count and a sample below update as you type.",
        widget=forms.Textarea(
            attrs={"rows": 5, "spellcheck": "false", "autocapitalize": "off", "class": "code"}
        ),
    )

    def clean_query(self) -> str:
        # Browsers send a textarea's line breaks as CRLF; positions are counted on LF text.
        query: str = self.cleaned_data["query"]
        return query.replace("\r\n", "\n").replace("\r", "\n")


IMPORT_MODE_LABELS = {
    ImportMode.ALL_OR_NOTHING: "All or nothing: if any row is bad, nothing is imported",
    ImportMode.VALID_ONLY: "Valid rows only: bad rows go to an error file to fix and re-import",
}


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, comma-separated, with a header row.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    mode = forms.ChoiceField(
        label="If some rows are bad",
        choices=[(mode.value, IMPORT_MODE_LABELS[mode]) for mode in ImportMode],
        initial=ImportMode.ALL_OR_NOTHING.value,
        widget=forms.RadioSelect,
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
            )
        return upload


class ImportMappingForm(forms.Form):
    """One select per CSV header: which contact field its column fills, or none."""

    def __init__(
        self,
        *args: Any,
        headers: Sequence[str],
        targets: Sequence[tuple[str, str]],
        mapping: Mapping[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.headers = list(headers)
        for index, header in enumerate(self.headers):
            current = mapping.get(header, "")
            options = [("", "Leave out"), *targets]
            key = _NOT_KEY.sub("_", header.removeprefix(CUSTOM_PREFIX).lower()).strip("_")
            if _CUSTOM_KEY.fullmatch(key) and CUSTOM_PREFIX + key not in dict(options):
                options.append((CUSTOM_PREFIX + key, f"Custom field “{key}”"))
            if current and current not in dict(options):
                options.append((current, current))
            self.fields[f"column_{index}"] = forms.ChoiceField(
                label=header, required=False, choices=options, initial=current
            )

    def mapping(self) -> dict[str, str]:
        return {
            header: self.cleaned_data.get(f"column_{index}", "")
            for index, header in enumerate(self.headers)
        }

    def columns(self) -> list[tuple[str, forms.BoundField]]:
        return [(header, self[f"column_{index}"]) for index, header in enumerate(self.headers)]


def import_targets() -> list[tuple[str, str]]:
    """The fields a column may fill, in the new-contact form's order, labelled as there."""
    labels = {name: str(field.label) for name, field in ContactForm.base_fields.items()}
    labels["status"] = "Status"
    order = ["kind", "status"] + [
        name for _, _, names in CONTACT_FIELDSETS for name in names if name != "kind"
    ]
    order += sorted(KNOWN_FIELDS - set(order))
    return [(name, f"{labels.get(name, name)} ({name})") for name in order]
