"""Which CSV column feeds which contact field.

By default a header maps to the canonical field whose name it spells, ignoring case, spaces,
underscores, hyphens and dots ("First Name" → first_name), or through a short list of aliases
("Phone Number" → phone, "E-mail" → email, "ZIP" → postal_code, "Taxonomy" → specialties).
Headers written `custom.<name>` map to that custom field. An explicit mapping (header → field,
or "" to leave a column out) overrides the defaults; columns that map to nothing are reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from carereach.audience.drafts import KNOWN_FIELDS, contact_draft
from carereach.errors import ValidationError

CUSTOM_PREFIX = "custom."
_SEPARATORS = re.compile(r"[\s_\-.]+")
_ALIASES = {
    "type": "kind",
    "contacttype": "kind",
    "givenname": "first_name",
    "first": "first_name",
    "surname": "last_name",
    "familyname": "last_name",
    "last": "last_name",
    "credential": "credentials",
    "degree": "credentials",
    "org": "organization",
    "organisation": "organization",
    "practice": "organization",
    "npinumber": "npi",
    "specialty": "specialties",
    "taxonomy": "specialties",
    "taxonomycode": "specialties",
    "taxonomycodes": "specialties",
    "phonenumber": "phone",
    "phone1": "phone",
    "mobile": "phone",
    "mobilephone": "phone",
    "cell": "phone",
    "cellphone": "phone",
    "telephone": "phone",
    "tel": "phone",
    "phonenumber2": "phone2",
    "emailaddress": "email",
    "email1": "email",
    "mail": "email",
    "emailaddress2": "email2",
    "address": "address_line1",
    "address1": "address_line1",
    "street": "address_line1",
    "streetaddress": "address_line1",
    "address2": "address_line2",
    "zip": "postal_code",
    "zipcode": "postal_code",
    "postcode": "postal_code",
    "tz": "time_zone",
    "lang": "language",
    "channels": "preferred_channels",
    "territorycode": "territory",
    "tag": "tags",
    "dob": "date_of_birth",
    "birthdate": "date_of_birth",
    "medicalrecordnumber": "mrn",
}


def header_key(name: str) -> str:
    return _SEPARATORS.sub("", name).casefold()


_DEFAULTS = {header_key(field): field for field in KNOWN_FIELDS} | _ALIASES


@dataclass(frozen=True)
class ColumnPlan:
    """The mapping resolved against one file's header."""

    header: tuple[str, ...]
    columns: tuple[tuple[int, str], ...]  # (cell index, canonical field), in header order
    unmapped: tuple[str, ...]  # headers that feed no field
    mapping: dict[str, str]  # header → field ("" for a column left out): stored on the import

    def column_of(self, field: str) -> str:
        """The CSV header that feeds `field`, or the field's own name if no column does."""
        for index, name in self.columns:
            if name == field:
                return self.header[index]
        return field


@lru_cache(maxsize=256)
def field_problem(name: str) -> str | None:
    """Why `name` is not a field a column may map to, in contact_draft's own words."""
    if name in KNOWN_FIELDS:
        return None
    _, problems = contact_draft({"kind": "hcp", "last_name": "x", name: ""})
    return next((p.reason for p in problems if p.field == name), None)


def default_field(header: str) -> str:
    """The field a header maps to when no explicit mapping names it ("" for none)."""
    if header[: len(CUSTOM_PREFIX)].casefold() == CUSTOM_PREFIX:
        name = CUSTOM_PREFIX + header[len(CUSTOM_PREFIX) :].strip().lower()
        return "" if field_problem(name) else name
    return _DEFAULTS.get(header_key(header), "")


def resolve_mapping(header: tuple[str, ...], explicit: Mapping[str, str]) -> ColumnPlan:
    """Apply defaults and overrides; refuse a mapping that names unknown columns or fields."""
    by_name = {name.casefold(): name for name in header}
    chosen = {name: default_field(name) for name in header}
    for given, field in explicit.items():
        name = by_name.get(given.strip().casefold())
        if name is None:
            raise ValidationError(
                f"the mapping names a column the file does not have: {given!r}", field="mapping"
            )
        field = field.strip()
        if field:
            reason = field_problem(field)
            if reason:
                raise ValidationError(
                    f"column {name!r} maps to {field!r}: {reason}", field="mapping"
                )
        chosen[name] = field
    sources: dict[str, str] = {}
    for name, field in chosen.items():
        if field and field in sources:
            raise ValidationError(
                f"columns {sources[field]!r} and {name!r} both map to {field}: "
                f"leave one out or map it elsewhere",
                field="mapping",
            )
        if field:
            sources[field] = name
    if not sources:
        raise ValidationError(
            "the first row is not a header: none of its columns names a known field "
            f"(found {', '.join(repr(h) for h in header[:5])}; columns are separated by commas)",
            field="file",
        )
    if "kind" not in sources:
        raise ValidationError(
            "no column gives the contact kind (hcp, patient or caregiver): map one to kind",
            field="mapping",
        )
    index = {name: position for position, name in enumerate(header)}
    return ColumnPlan(
        header=header,
        columns=tuple((index[name], field) for name, field in chosen.items() if field),
        unmapped=tuple(name for name, field in chosen.items() if not field),
        mapping=chosen,
    )
