"""Small builders for audience tests: contacts through the real validation and service."""

from __future__ import annotations

from django.contrib.auth.models import User

from carereach.audience.drafts import contact_draft
from carereach.audience.models import Contact, Specialty
from carereach.audience.services import contact_create

SPECIALTIES = {
    "208000000X": "Pediatrics",
    "207Q00000X": "Family Medicine",
    "207QG0300X": "Geriatric Medicine",
    "207RC0000X": "Cardiovascular Disease",
}


def specialties() -> None:
    for code, name in SPECIALTIES.items():
        Specialty.objects.get_or_create(
            code=code, defaults={"display_name": name, "classification": name, "version": "test"}
        )


def contact(actor: User | None = None, **fields: str) -> Contact:
    draft, problems = contact_draft(fields)
    assert draft is not None, problems
    return contact_create(draft=draft, actor=actor)
