"""A clinic with approved reminder content, journeys, and a patient, for journey tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.content.models import ContentVersion
from carereach.journeys.models import Journey
from carereach.journeys.services.editing import JourneyInput, StepInput, journey_create
from carereach.journeys.services.records import (
    AppointmentInput,
    AppointmentResult,
    appointment_save,
)
from tests.audience import factories as audience
from tests.content import factories as content

SENDER = "+18005550123"
PHONE = "+14155550142"
EMAIL = "maria@example.org"
HOUR = 60

REMINDER_EN = (
    "Appt with {{ provider_name }} {{ appointment_time }}. Reply C to confirm, R to "
    "reschedule. Call {{ provider_phone }}."
)
REMINDER_ES = (
    "Cita con {{ provider_name }} {{ appointment_time }}. Responda C para confirmar, R para "
    "cambiar. Llame al {{ provider_phone }}."
)
REFILL_EN = "Time to refill {{ medication }} (due {{ refill_date }}). Call us to refill."
DAILY_EN = "Time to take {{ medication }}."


@dataclass
class Clinic:
    author: User
    reviewer: User
    program: Program
    reminder: ContentVersion
    refill: ContentVersion
    daily: ContentVersion
    appointments: Journey
    refills: Journey
    medication: Journey


def approved(
    clinic_program: Program, author: User, reviewer: User, code: str, *bodies: object
) -> ContentVersion:
    item = content.item(
        actor=author,
        code=code,
        kind="reminder",
        program=clinic_program,
        bodies=list(bodies),  # type: ignore[arg-type]
        contact_kinds=["patient"],
        media_url="",
    )
    return content.approve(
        content.first_version(item),
        author=author,
        reviewer=reviewer,
        valid_until=timezone.now() + timedelta(days=365),
    )


def clinic_make(author: User, reviewer: User) -> Clinic:
    program = content.program(
        "clinic",
        name="Demo Clinic",
        type="healthcare_exempt",
        channels=["sms", "email"],
        sender_numbers=[SENDER],
        sender_emails=["clinic@example.org"],
    )
    reminder = approved(
        program,
        author,
        reviewer,
        "appointment-reminder",
        content.sms(REMINDER_EN),
        content.sms(REMINDER_ES, language="es"),
        content.email(REMINDER_EN, subject="Your appointment"),
    )
    refill = approved(program, author, reviewer, "refill-reminder", content.sms(REFILL_EN))
    # Daily reminders need consent: the healthcare exemption allows one text a day in any 24 h.
    daily_program = content.program(
        "daily", name="Daily reminders", type="informational", sender_numbers=[SENDER]
    )
    daily = approved(daily_program, author, reviewer, "daily-reminder", content.sms(DAILY_EN))
    appointments = journey_create(
        data=JourneyInput(
            code="appointments",
            name="Appointment reminders",
            kind="appointment",
            program=program,
            channels=["sms", "email"],
            steps=[
                StepInput(offset_minutes=-72 * HOUR, content_version_id=reminder.pk),
                StepInput(
                    offset_minutes=-47 * HOUR,  # a day and an hour to answer
                    condition="no_reply",
                    content_version_id=reminder.pk,
                ),
                StepInput(offset_minutes=-24 * HOUR, content_version_id=reminder.pk),
            ],
        ),
        actor=author,
    )
    refills = journey_create(
        data=JourneyInput(
            code="refills",
            name="Refill reminders",
            kind="refill",
            program=program,
            channels=["sms"],
            local_time=time(10, 0),
            steps=[StepInput(offset_minutes=-3 * 24 * HOUR, content_version_id=refill.pk)],
        ),
        actor=author,
    )
    medication = journey_create(
        data=JourneyInput(
            code="daily-medication",
            name="Daily medication",
            kind="medication",
            program=daily_program,
            channels=["sms"],
            steps=[StepInput(offset_minutes=0, content_version_id=daily.pk)],
        ),
        actor=author,
    )
    return Clinic(
        author, reviewer, program, reminder, refill, daily, appointments, refills, medication
    )


def patient(phone: str = PHONE, language: str = "en", **fields: str) -> Contact:
    return audience.contact(
        kind="patient",
        first_name="Maria",
        last_name="Gomez",
        phone=phone,
        email=EMAIL,
        time_zone="America/New_York",
        language=language,
        **fields,
    )


def appointment(
    person: Contact,
    start: datetime,
    external_id: str = "A-1",
    actor: User | None = None,
    **fields: str,
) -> AppointmentResult:
    return appointment_save(
        data=AppointmentInput(
            external_id=external_id,
            patient=person,
            provider_name=fields.pop("provider_name", "Dr. Lee"),
            provider_phone=fields.pop("provider_phone", "(415) 555-0100"),
            location=fields.pop("location", "Main St Clinic"),
            start_at=start,
            **fields,
        ),
        actor=actor,
    )


def days(n: float) -> timedelta:
    return timedelta(days=n)
