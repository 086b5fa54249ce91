"""Demo journeys for `make demo`: appointment reminders and refill reminders, with one demo
patient's appointment (its first reminder goes at once, so the phone simulator shows it and a
C reply confirms it) and one fill whose refill reminder comes in a few days.

The console's demo seeding calls `demo_journeys_seed` after the demo audience, programs and
content exist. Does nothing when any journey exists already, or when there is no demo patient
with a mobile phone.
"""

from __future__ import annotations

from datetime import time, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind
from carereach.consent.models import Program
from carereach.consent.services import program_save
from carereach.content.models import ContentItem, ContentVersion
from carereach.content.selectors import item_current_version
from carereach.content.services import (
    BodyInput,
    VersionInput,
    item_create,
    policy_save,
    version_approve,
    version_submit,
)
from carereach.journeys.models import Journey
from carereach.journeys.services.editing import JourneyInput, StepInput, journey_create
from carereach.journeys.services.engine import enrolments_advance_due
from carereach.journeys.services.records import (
    AppointmentInput,
    DispenseInput,
    appointment_save,
    dispense_record,
)
from carereach.messaging.services.dispatch import dispatch_due

HOUR = 60
CLINIC = {
    "code": "clinic-reminders",
    "name": "Clinic reminders",
    "type": "healthcare_exempt",
    "brand": "Demo Clinic",
    "channels": ["sms", "email", "voice"],
    "sender_numbers": ["+18005550122"],
    "sender_emails": ["reminders@clinic.demo.carereach.invalid"],
    "frequency": "up to 3 msgs per appointment",
    "help_contact": "1-800-555-0122",
    "keywords": [],
    "double_opt_in": False,
    "disclosure_text": "We text appointment reminders. Reply C to confirm, R to reschedule, "
    "STOP to opt out, HELP for help.",
    "disclosure_version": "2026-11",
}
REMINDER = [
    BodyInput(
        "sms",
        "en",
        "Appt with {{ provider_name }} {{ appointment_time }}. Reply C to confirm, R to "
        "reschedule. Call {{ provider_phone }}.",
    ),
    BodyInput(
        "sms",
        "es",
        "Cita con {{ provider_name }} {{ appointment_time }}. Responda C para confirmar, R para "
        "cambiar. Llame al {{ provider_phone }}.",
    ),
]
REFILL = [
    BodyInput(
        "sms",
        "en",
        "Time to refill {{ medication }}: due {{ refill_date }}. Call 1-800-555-0111.",
    ),
    BodyInput(
        "sms",
        "es",
        "Es hora de renovar {{ medication }}: vence el {{ refill_date }}. Llame al 1-800-555-0111.",
    ),
]


def _approved(
    code: str, title: str, program: Program, bodies: list[BodyInput], author: User, reviewer: User
) -> ContentVersion:
    item = ContentItem.objects.filter(code=code).first()
    if item is not None:
        current = item_current_version(item=item)
        if current is not None:
            return current
    item = item_create(
        code=code,
        title=title,
        kind="reminder",
        program=program,
        data=VersionInput(contact_kinds=["patient"], bodies=bodies),
        actor=author,
    )
    version = version_submit(version=item.versions.get(), actor=author)
    now = timezone.now()
    return version_approve(
        version=version,
        actor=reviewer,
        review_code=f"MLR-DEMO-J{item.pk:03d}",
        valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(days=365),
        comments="Demo reminder.",
    )


def _patient() -> Contact | None:
    return (
        Contact.objects.filter(kind=ContactKind.PATIENT, status="active", phones__isnull=False)
        .exclude(phones__line_type="landline")
        .order_by("pk")
        .first()
    )


def demo_journeys_seed(*, author: User, reviewer: User) -> list[str]:
    if Journey.objects.exists():
        return []
    refills = Program.objects.filter(code="refill-reminders").first()
    person = _patient()
    if refills is None or person is None:
        return []
    clinic = Program.objects.filter(code=CLINIC["code"]).first() or program_save(
        fields=dict(CLINIC), actor=author
    )
    for program in (clinic, refills):
        policy_save(
            program=program,
            actor=author,
            sms_footer_required=True,
            sms_segment_limit=2,
            postal_address="Demo Clinic, 100 Example Way, Springfield, IL 62701",
            phi_to_accepted_channels=False,
        )
    reminder = _approved(
        "appointment-reminder", "Appointment reminder", clinic, REMINDER, author, reviewer
    )
    refill = _approved("refill-reminder", "Refill reminder", refills, REFILL, author, reviewer)
    journey_create(
        data=JourneyInput(
            code="appointment-reminders",
            name="Appointment reminders",
            kind="appointment",
            program=clinic,
            channels=["sms", "email"],
            steps=[
                StepInput(offset_minutes=-72 * HOUR, content_version_id=reminder.pk),
                StepInput(
                    offset_minutes=-47 * HOUR, condition="no_reply", content_version_id=reminder.pk
                ),
                StepInput(offset_minutes=-24 * HOUR, content_version_id=reminder.pk),
            ],
        ),
        actor=author,
    )
    journey_create(
        data=JourneyInput(
            code="refill-reminders",
            name="Refill reminders",
            kind="refill",
            program=refills,
            channels=["sms"],
            local_time=time(10, 0),
            steps=[StepInput(offset_minutes=-3 * 24 * HOUR, content_version_id=refill.pk)],
        ),
        actor=author,
    )
    now = timezone.now()
    # Booked a few minutes ago for three days from now: the 72-hour reminder is due at once.
    appointment_save(
        data=AppointmentInput(
            external_id="DEMO-APPT-1",
            patient=person,
            provider_name="Dr. Lee",
            provider_phone="1-800-555-0122",
            location="Main St Clinic",
            start_at=now + timedelta(hours=72, minutes=-1),
        ),
        actor=author,
        now=now - timedelta(minutes=5),
    )
    dispense_record(
        data=DispenseInput(
            external_id="DEMO-FILL-1",
            patient=person,
            drug_code="314076",
            drug_system="http://www.nlm.nih.gov/research/umls/rxnorm",
            drug_name="Lisinopril 10 MG Oral Tablet",
            handed_over=now.date() - timedelta(days=26),
            days_supply=30,
        ),
        actor=author,
    )
    enrolments_advance_due()
    dispatch_due(worker="demo-seed")  # quiet hours may hold it until morning
    phone = person.phones.order_by("rank", "id").values_list("e164", flat=True).first()
    return [
        f"demo journeys: appointment and refill reminders; patient #{person.pk} ({phone}) got a "
        "reminder: reply C in the phone simulator to confirm"
    ]
