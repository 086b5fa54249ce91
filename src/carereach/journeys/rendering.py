"""A journey step's text for one enrolment: the approved content filled with its record.

The record (an appointment, a dispensing, a medication schedule) gives the reminder fields;
the drug's name is given only on channels where the patient accepted PHI, otherwise the text
says "your medication". A rendered text that still names the drug on such a channel (typed
into the content itself) is refused, so it becomes a skip with that reason, never a send.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carereach.audience.models import Contact
from carereach.content.eligibility import REASON_TEXT, language_code, version_availability
from carereach.content.eligibility import Reason as ContentReason
from carereach.content.models import ContentVersion
from carereach.content.rendering import content_render, format_appointment
from carereach.errors import CarereachError
from carereach.journeys.models import (
    Appointment,
    Dispense,
    MedicationSchedule,
    SubjectKind,
)
from carereach.journeys.wording import medication_words
from carereach.messaging.services.fanout import Rendered, Renderer

_WEEKDAYS_ES = ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"]
_MONTHS_ES = ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"]


class PhiNotAcceptedError(CarereachError):
    code = "phi_not_accepted"


# Words of a drug's description that do not name it ("Lisinopril 10 MG Oral Tablet").
DRUG_FORM_WORDS = frozenset(
    {
        "oral", "tablet", "tablets", "capsule", "capsules", "solution", "suspension", "injection",
        "injectable", "extended", "release", "delayed", "chewable", "cream", "ointment", "patch",
        "inhaler", "spray", "drops", "film", "coated", "hydrochloride", "sodium", "potassium",
        "calcium", "acetate", "sulfate", "vial", "pen", "prefilled", "syringe", "unit", "units",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W\d_]{4,}")


def names_drug(text: str, drug: str) -> bool:
    """True when `text` holds a word of the drug's name ("Lisinopril" of "Lisinopril 10 MG
    Oral Tablet"), ignoring dose forms and salts."""
    names = {w.lower() for w in _WORD.findall(drug)} - DRUG_FORM_WORDS
    return bool(names & {w.lower() for w in _WORD.findall(text)})


def zone_of(contact: Contact, default: str = "America/New_York") -> ZoneInfo:
    try:
        return ZoneInfo(contact.time_zone or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def content_problem(version: ContentVersion | None, at: Any = None) -> str:
    """ "" when the version may go out at `at`, else why not, for a person."""
    if version is None:
        return "The step has no content."
    availability = version_availability(version, at)
    if availability == ContentReason.ELIGIBLE:
        return ""
    return f"Version {version.label}: {REASON_TEXT[availability]}."


Subject = Appointment | Dispense | MedicationSchedule
SUBJECT_MODELS: dict[SubjectKind, type[Appointment] | type[Dispense] | type[MedicationSchedule]] = {
    SubjectKind.APPOINTMENT: Appointment,
    SubjectKind.DISPENSE: Dispense,
    SubjectKind.MEDICATION: MedicationSchedule,
}


def phi_accepted(contact: Contact, channel: str) -> bool:
    profile = getattr(contact, "patient", None)
    return profile is not None and channel in (profile.phi_accepted_channels or [])


def _date_words(day: Any, language: str) -> str:
    if language == "es":
        return f"{_WEEKDAYS_ES[day.weekday()]} {day.day} de {_MONTHS_ES[day.month - 1]}"
    return f"{day:%a, %b} {day.day}"


def step_context(
    subject: Appointment | Dispense | MedicationSchedule | None,
    *,
    contact: Contact,
    channel: str,
    language: str,
) -> dict[str, Any]:
    """The reminder fields for the content's template."""
    if isinstance(subject, Appointment):
        return {
            "appointment_at": subject.start_at,
            "provider_name": subject.provider_name,
            "provider_phone": subject.provider_phone,
            "location": subject.location,
        }
    context: dict[str, Any] = {}
    drug = subject.drug_name if subject is not None else ""
    context["medication"] = (
        drug if drug and phi_accepted(contact, channel) else medication_words(language)
    )
    if isinstance(subject, Dispense):
        context["refill_date"] = _date_words(subject.refill_due, language)
    return context


def when_words(appointment: Appointment, contact: Contact, language: str) -> str:
    return format_appointment(
        appointment.start_at, time_zone=zone_of(contact).key, language=language
    )


@dataclass
class Failures:
    """Message keys the content refused to render for, with why."""

    errors: dict[str, CarereachError] = field(default_factory=dict)


def step_renderer(
    *,
    version: ContentVersion,
    subject: Appointment | Dispense | MedicationSchedule | None,
    channel: str,
    address: str,
    failures: Failures,
    at: Any,
) -> Renderer:
    def render(contact: Contact, key: str, language: str) -> Rendered:
        code = language_code(language)
        try:
            rendered = content_render(
                version=version,
                contact=contact,
                channel=channel,
                language=code,
                message_key=key,
                address=address,
                context=step_context(subject, contact=contact, channel=channel, language=code),
                now=at,
            )
            drug = getattr(subject, "drug_name", "") or ""
            if not phi_accepted(contact, channel) and names_drug(rendered.text, drug):
                raise PhiNotAcceptedError(
                    "The text names the medicine, and the patient has not accepted PHI by "
                    f"{channel}."
                )
        except CarereachError as error:
            failures.errors[key] = error
            return Rendered(body="")
        return Rendered(body=rendered.text, subject=rendered.subject)

    return render
