"""Validating one contact's input, whatever it came from (CSV row, API body, console form).

`contact_draft(fields)` takes flat canonical field names with text values and returns either a
`ContactDraft` ready to store or every problem found, each naming the field, the value and why.
It touches no database: the specialty list is the shipped NUCC set, and territory and tag names
are resolved by the caller, so an importer can validate a million rows without a query per row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from carereach.audience.identifiers import (
    PhoneNumber,
    email_normalize,
    language_check,
    npi_check,
    phone_normalize,
    timezone_check,
    zone_from_phone,
    zone_from_us_postal,
)
from carereach.audience.taxonomy import taxonomy_codes
from carereach.errors import ValidationError
from carereach.vocabulary import Channel

KINDS = ("hcp", "patient", "caregiver")
STATUSES = ("active", "unreachable", "deceased")
LIST_SEPARATOR = ";"
PHONE_FIELDS = ("phone", "phone2")
EMAIL_FIELDS = ("email", "email2")
KNOWN_FIELDS = frozenset(
    {
        "kind",
        "status",
        "first_name",
        "last_name",
        "credentials",
        "organization",
        "npi",
        "specialties",
        *PHONE_FIELDS,
        *EMAIL_FIELDS,
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "country",
        "time_zone",
        "language",
        "preferred_channels",
        "persona",
        "territory",
        "tags",
        "external_id",
        "date_of_birth",
        "mrn",
        "large_print",
        "spoken_messages",
        "interpreter_language",
    }
)
PHI_FIELDS = frozenset({"first_name", "last_name", "date_of_birth", "mrn"})
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_US_STATE = re.compile(r"^[A-Z]{2}$")
_CHANNELS = frozenset(Channel.values)
_CHANNELS_EXPECTED = f"expected {', '.join(Channel.values)}"
_TRUE = {"1", "true", "yes", "y"}
_FALSE = {"0", "false", "no", "n", ""}


@dataclass(frozen=True)
class FieldProblem:
    field: str
    value: str
    reason: str


@dataclass
class PostalDraft:
    line1: str
    line2: str
    city: str
    state: str
    postal_code: str
    country: str


@dataclass
class ContactDraft:
    kind: str
    status: str = "active"
    first_name: str = ""
    last_name: str = ""
    credentials: str = ""
    organization: str = ""
    npi: str | None = None
    specialties: list[str] = field(default_factory=list)
    phones: list[PhoneNumber] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    postal: PostalDraft | None = None
    time_zone: str = ""
    time_zone_source: str = "unknown"
    language: str = "en"
    preferred_channels: list[str] = field(default_factory=list)
    persona: str = ""
    territory: str = ""
    tags: list[str] = field(default_factory=list)
    external_id: str = ""
    date_of_birth: str | None = None
    mrn: str | None = None
    large_print: bool = False
    spoken_messages: bool = False
    interpreter_language: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]


class _Collector:
    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = fields
        self.problems: list[FieldProblem] = []

    def text(self, name: str, *, max_length: int = 200) -> str:
        value = self.fields.get(name)
        if not value:  # most cells of a file are empty
            return ""
        value = value.strip()
        if len(value) > max_length:
            self.fail(name, value[:40] + "…", f"longer than {max_length} characters")
            return ""
        return value

    def fail(self, name: str, value: str, reason: str) -> None:
        shown = "" if name in PHI_FIELDS else value
        self.problems.append(FieldProblem(name, shown, reason))

    def check(self, name: str, error: ValidationError) -> None:
        self.fail(name, (self.fields.get(name) or "").strip(), error.message)

    def flag(self, name: str) -> bool:
        value = self.text(name).lower()
        if value in _TRUE:
            return True
        if value not in _FALSE:
            self.fail(name, value, "expected yes or no")
        return False


@lru_cache(maxsize=64)
def _names(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The unknown and the custom field names among `names` (an importer asks the same
    question for every row of a file, so the answer is kept per set of names)."""
    unknown = tuple(n for n in names if n not in KNOWN_FIELDS and not n.startswith("custom."))
    return unknown, tuple(n for n in names if n.startswith("custom."))


def contact_draft(
    fields: Mapping[str, str], *, specialty_codes: frozenset[str] | None = None
) -> tuple[ContactDraft | None, list[FieldProblem]]:
    """Validate one contact's fields; returns the draft, or None with every problem found.

    `specialty_codes` is the list in force (the database's, after `carereach taxonomy load`);
    without it, the list shipped in the package.
    """
    c = _Collector(fields)
    unknown, custom = _names(tuple(fields))
    for name in unknown:
        c.fail(name, "", "unknown field")
    kind = c.text("kind").lower()
    if kind not in KINDS:
        c.fail("kind", kind, f"expected one of {', '.join(KINDS)}")
    status = c.text("status").lower() or "active"
    if status not in STATUSES:
        c.fail("status", status, f"expected one of {', '.join(STATUSES)}")
    draft = ContactDraft(kind=kind, status=status)
    draft.first_name = c.text("first_name", max_length=100)
    draft.last_name = c.text("last_name", max_length=100)
    draft.credentials = c.text("credentials", max_length=60)
    draft.organization = c.text("organization")

    npi = c.text("npi")
    if npi:
        try:
            draft.npi = npi_check(npi)
        except ValidationError as error:
            c.check("npi", error)
    known_codes = taxonomy_codes() if specialty_codes is None else specialty_codes
    for code in _split(c.text("specialties", max_length=400)):
        normalized = code.upper()
        if normalized not in known_codes:
            c.fail("specialties", code, "unknown NUCC taxonomy code")
        elif normalized not in draft.specialties:
            draft.specialties.append(normalized)
    if kind != "hcp":
        if draft.npi:
            c.fail("npi", npi, "only HCPs have an NPI")
        if draft.specialties:
            c.fail("specialties", c.text("specialties"), "only HCPs have specialties")

    for name in PHONE_FIELDS:
        raw = c.text(name, max_length=40)
        if raw:
            try:
                phone = phone_normalize(raw)
            except ValidationError as error:
                c.check(name, error)
            else:
                if all(p.e164 != phone.e164 for p in draft.phones):
                    draft.phones.append(phone)
    for name in EMAIL_FIELDS:
        raw = c.text(name, max_length=320)
        if raw:
            try:
                # Stored lower-case whole: mailbox providers ignore local-part case, and
                # matching, consent and suppression must not miss "Ana@" for "ana@".
                address = email_normalize(raw).lower()
            except ValidationError as error:
                c.check(name, error)
            else:
                if address not in draft.emails:
                    draft.emails.append(address)

    line1, city = c.text("address_line1"), c.text("city", max_length=100)
    state, postal_code = c.text("state", max_length=3).upper(), c.text("postal_code", max_length=12)
    country = c.text("country", max_length=2).upper() or "US"
    if any((line1, city, postal_code)) or (state and not line1):
        if not (line1 and city and postal_code):
            c.fail("address_line1", line1, "a postal address needs line 1, city and postal code")
        elif country == "US" and not _US_STATE.match(state):
            c.fail("state", state, "expected a two-letter US state code")
        else:
            draft.postal = PostalDraft(
                line1=line1,
                line2=c.text("address_line2"),
                city=city,
                state=state,
                postal_code=postal_code,
                country=country,
            )
    elif state and country == "US" and not _US_STATE.match(state):
        c.fail("state", state, "expected a two-letter US state code")

    zone = c.text("time_zone", max_length=64)
    if zone:
        try:
            draft.time_zone, draft.time_zone_source = timezone_check(zone), "given"
        except ValidationError as error:
            c.check("time_zone", error)
    elif draft.postal is not None and draft.postal.country == "US":
        inferred = zone_from_us_postal(draft.postal.state, draft.postal.postal_code)
        if inferred:
            draft.time_zone, draft.time_zone_source = inferred, "postal"
    if not draft.time_zone and draft.phones:
        inferred = zone_from_phone(draft.phones[0].e164)
        if inferred:
            draft.time_zone, draft.time_zone_source = inferred, "phone"

    for name in ("language", "interpreter_language"):
        raw = c.text(name, max_length=35)
        if raw:
            try:
                setattr(draft, name, language_check(raw))
            except ValidationError as error:
                c.check(name, error)
    for channel in _split(c.text("preferred_channels").lower()):
        if channel not in _CHANNELS:
            c.fail("preferred_channels", channel, _CHANNELS_EXPECTED)
        elif channel not in draft.preferred_channels:
            draft.preferred_channels.append(channel)

    persona = c.text("persona", max_length=60).lower()
    if persona and not _SLUG.match(persona):
        c.fail("persona", persona, "expected a slug like busy-parent")
    draft.persona = persona
    draft.territory = c.text("territory", max_length=40)
    draft.tags = list(dict.fromkeys(t.lower() for t in _split(c.text("tags", max_length=600))))
    for tag in draft.tags:
        if len(tag) > 60:
            c.fail("tags", tag[:40], "a tag is longer than 60 characters")
    draft.external_id = c.text("external_id", max_length=100)
    draft.large_print = c.flag("large_print")
    draft.spoken_messages = c.flag("spoken_messages")

    dob = c.text("date_of_birth", max_length=10)
    if dob:
        try:
            born = date.fromisoformat(dob)
        except ValueError:
            c.fail("date_of_birth", dob, "expected a date as YYYY-MM-DD")
        else:
            if born > date.today() or born.year < 1900:  # noqa: DTZ011 - a calendar date
                c.fail("date_of_birth", dob, "not a plausible birth date")
            draft.date_of_birth = born.isoformat()
    mrn = c.text("mrn", max_length=40)
    if mrn:
        draft.mrn = mrn
    if kind == "hcp" and (dob or mrn):
        c.fail(
            "mrn" if mrn else "date_of_birth",
            "",
            "only patients have a record number or birth date",
        )

    for name in custom:
        key = name.removeprefix("custom.")
        value = fields[name]
        if not _CUSTOM_KEY.match(key):
            c.fail(name, "", "custom field names are lower-case letters, digits and _")
        elif (value or "").strip():
            draft.custom_fields[key] = value.strip()[:500]

    if kind == "hcp" and not (draft.last_name or draft.npi):
        c.fail("last_name", "", "an HCP needs a last name or an NPI")
    if c.problems:
        return None, c.problems
    return draft, []
