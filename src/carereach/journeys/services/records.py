"""The records journeys are about: appointments, dispensings, medication schedules.

Each arrives by the API, a CSV file or FHIR, and goes through one service here: validated
(every problem names its field), stored, audited, and enrolled in the active journey of its
kind (or the one named). A moved appointment's reminders follow it (the old enrolment is
cancelled with what it still had waiting, a new one starts at the new time); a cancelled one's
stop; a new fill stops the reminders of the previous fill of the same drug.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind
from carereach.errors import ConflictError, NotFoundError, ValidationError
from carereach.journeys.models import (
    Appointment,
    AppointmentResponse,
    AppointmentStatus,
    Dispense,
    Enrolment,
    Journey,
    JourneyKind,
    MedicationSchedule,
    SubjectKind,
)
from carereach.journeys.rendering import zone_of
from carereach.journeys.selectors import journey_default
from carereach.journeys.services.engine import (
    enrolment_open,
    enrolments_cancel,
    medication_anchor,
    next_local,
)
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction

REMINDED = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED, AppointmentStatus.RESCHEDULED)
DEFAULT_REFILL_TIME = time(10, 0)


def journey_for(kind: str, code: str = "") -> Journey | None:
    """The journey a record enrols in: the one named, else the first active one of its kind."""
    if code:
        journey = Journey.objects.filter(code=code).select_related("program").first()
        if journey is None:
            raise ValidationError(f"No journey with the code “{code}”.", field="journey")
        if journey.kind != kind:
            raise ValidationError(f"The journey “{code}” is not a {kind} journey.", field="journey")
        if not journey.active:
            raise ValidationError(f"The journey “{code}” is not active.", field="journey")
        return journey
    return journey_default(kind=kind)


def patient_get(patient_id: int | None) -> Contact:
    if patient_id is None:
        raise ValidationError("Name the patient (their contact id).", field="patient")
    contact = Contact.objects.filter(pk=patient_id).select_related("patient").first()
    if contact is None:
        raise ValidationError(f"No contact with id {patient_id}.", field="patient")
    if contact.kind != ContactKind.PATIENT:
        raise ValidationError(f"Contact {patient_id} is not a patient.", field="patient")
    return contact


def patient_from_reference(reference: str) -> Contact:
    """`Patient/<id>`: our contact id, or the source system's id stored as the contact's
    external id."""
    kind, _, ident = reference.partition("/")
    if kind != "Patient" or not ident:
        raise ValidationError("The subject must be a Patient reference.", field="patient")
    match = Contact.objects.filter(kind=ContactKind.PATIENT, external_ids__source=ident).first()
    if match is None and ident.isdigit():
        match = Contact.objects.filter(kind=ContactKind.PATIENT, pk=int(ident)).first()
    if match is None:
        raise ValidationError(f"No patient matches {reference}.", field="patient")
    return match


# ----------------------------------------------------------------------------- appointments


@dataclass
class AppointmentInput:
    external_id: str
    patient: Contact
    provider_name: str
    provider_phone: str
    start_at: datetime
    location: str = ""
    status: str = AppointmentStatus.BOOKED
    journey: str = ""  # a journey code; "" = the active appointment journey


@dataclass
class AppointmentResult:
    appointment: Appointment
    created: bool
    enrolment: Enrolment | None
    note: str = ""


def appointment_check(data: AppointmentInput, *, now: datetime) -> None:
    if not data.external_id.strip():
        raise ValidationError("Give the appointment's id in your system.", field="external_id")
    if not data.provider_name.strip():
        raise ValidationError("Name the provider the appointment is with.", field="provider_name")
    if not data.provider_phone.strip():
        raise ValidationError(
            "Give the provider's phone: reminders must say whom to call.", field="provider_phone"
        )
    if data.status not in AppointmentStatus.values:
        raise ValidationError(
            f"Unknown status “{data.status}”; use {', '.join(AppointmentStatus.values)}.",
            field="status",
        )
    if data.start_at.tzinfo is None:
        raise ValidationError("Give the start time with its UTC offset.", field="start")


def _enrol_appointment(
    appointment: Appointment, journey: Journey | None, now: datetime
) -> Enrolment | None:
    if journey is None:
        return None
    return enrolment_open(
        journey=journey,
        contact=appointment.patient,
        subject_kind=SubjectKind.APPOINTMENT,
        subject_id=appointment.pk,
        anchor_at=appointment.start_at,
        now=now,
    )


def appointment_save(
    *, data: AppointmentInput, actor: User | None, now: datetime | None = None
) -> AppointmentResult:
    """Create or update (by external id) one appointment and keep its reminders in step."""
    at = now or timezone.now()
    appointment_check(data, now=at)
    journey = journey_for(JourneyKind.APPOINTMENT, data.journey)
    with transaction.atomic():
        existing = (
            Appointment.objects.select_for_update().filter(external_id=data.external_id).first()
        )
        moved = existing is not None and existing.start_at != data.start_at
        rebooked = existing is not None and existing.status not in REMINDED
        if (
            data.status in REMINDED
            and data.start_at <= at
            and (existing is None or moved or rebooked)
        ):
            raise ValidationError(
                "The appointment's start time has passed; reminders are only for appointments "
                "still to come.",
                field="start",
            )
        if existing is None:
            appointment = Appointment.objects.create(
                external_id=data.external_id,
                patient=data.patient,
                provider_name=data.provider_name.strip(),
                provider_phone=data.provider_phone.strip(),
                location=data.location.strip(),
                start_at=data.start_at,
                status=data.status,
                created_at=at,
                updated_at=at,
            )
            enrolment = (
                _enrol_appointment(appointment, journey, at) if data.status in REMINDED else None
            )
            audit_record(
                actor=actor,
                action=AuditAction.CREATE,
                object_type="appointment",
                object_id=appointment.pk,
            )
            note = (
                "" if enrolment or data.status not in REMINDED else "no active appointment journey"
            )
            return AppointmentResult(appointment, True, enrolment, note)
        if existing.patient_id != data.patient.pk:
            raise ConflictError(
                "That appointment id belongs to another patient.", field="external_id"
            )
        appointment = existing
        changes = [
            name
            for name, value in (
                ("provider_name", data.provider_name.strip()),
                ("provider_phone", data.provider_phone.strip()),
                ("location", data.location.strip()),
                ("start_at", data.start_at),
                ("status", data.status),
            )
            if getattr(appointment, name) != value
        ]
        for name in ("provider_name", "provider_phone", "location"):
            setattr(appointment, name, getattr(data, name).strip())
        appointment.start_at = data.start_at
        appointment.status = data.status
        enrolment = None
        if data.status not in REMINDED:
            enrolments_cancel(
                subject_kind=SubjectKind.APPOINTMENT,
                subject_id=appointment.pk,
                reason=f"The appointment is {appointment.get_status_display().lower()}.",
                at=at,
            )
        elif moved:
            appointment.status = AppointmentStatus.RESCHEDULED
            appointment.response = AppointmentResponse.NONE
            appointment.responded_at = None
            enrolments_cancel(
                subject_kind=SubjectKind.APPOINTMENT,
                subject_id=appointment.pk,
                reason="The appointment moved; reminders follow the new time.",
                at=at,
            )
            enrolment = _enrol_appointment(appointment, journey, at)
        elif rebooked:  # cancelled or no-show before, booked again: reminders start anew
            appointment.response = AppointmentResponse.NONE
            appointment.responded_at = None
            enrolment = _enrol_appointment(appointment, journey, at)
        appointment.updated_at = at
        appointment.save()
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type="appointment",
            object_id=appointment.pk,
            changes=changes,
        )
        return AppointmentResult(appointment, False, enrolment)


def appointment_get(*, appointment_id: int) -> Appointment:
    found = Appointment.objects.select_related("patient").filter(pk=appointment_id).first()
    if found is None:
        raise NotFoundError("No such appointment.")
    return found


def appointment_set_status(
    *, appointment: Appointment, status: str, actor: User | None, now: datetime | None = None
) -> AppointmentResult:
    """A status change only (cancelled, no-show, confirmed by the clinic)."""
    return appointment_save(
        data=AppointmentInput(
            external_id=appointment.external_id,
            patient=appointment.patient,
            provider_name=appointment.provider_name,
            provider_phone=appointment.provider_phone,
            location=appointment.location or "",
            start_at=appointment.start_at,
            status=status,
        ),
        actor=actor,
        now=now,
    )


# ----------------------------------------------------------------------------- dispensings


@dataclass
class DispenseInput:
    external_id: str
    patient: Contact
    drug_code: str
    handed_over: date | None
    days_supply: int | None
    drug_name: str = ""
    drug_system: str = ""
    quantity: Decimal | None = None
    journey: str = ""


@dataclass
class DispenseResult:
    dispense: Dispense
    created: bool
    enrolment: Enrolment | None
    stopped: int = 0  # enrolments of earlier fills this one ended


def refill_anchor(dispense: Dispense, journey: Journey, contact: Contact) -> datetime:
    """The refill due date, at the journey's time of day in the patient's zone."""
    return next_local(
        dispense.refill_due, journey.local_time or DEFAULT_REFILL_TIME, zone_of(contact)
    )


def dispense_check(data: DispenseInput, *, today: date) -> tuple[date, int]:
    """The hand-over date and days' supply, once every field is valid."""
    if not data.external_id.strip():
        raise ValidationError("Give the dispensing's id in your system.", field="external_id")
    if not data.drug_code.strip():
        raise ValidationError("Give the drug's code (NDC or RxNorm).", field="drug_code")
    if data.handed_over is None:
        raise ValidationError("Give the date the fill was handed over.", field="handed_over")
    if data.handed_over > today + timedelta(days=1):
        raise ValidationError("The hand-over date is in the future.", field="handed_over")
    if data.days_supply is None:
        raise ValidationError(
            "A fill without days' supply cannot give a refill date; add daysSupply.",
            field="days_supply",
        )
    if data.days_supply <= 0 or data.days_supply > 400:
        raise ValidationError("Days' supply must be between 1 and 400.", field="days_supply")
    return data.handed_over, data.days_supply


def dispense_record(
    *, data: DispenseInput, actor: User | None, now: datetime | None = None
) -> DispenseResult:
    """Store one fill; the next fill of a drug ends the reminders of the previous one (early
    refills included), and the newest fill's refill reminders start."""
    at = now or timezone.now()
    handed_over, days_supply = dispense_check(data, today=at.date())
    journey = journey_for(JourneyKind.REFILL, data.journey)
    with transaction.atomic():
        existing = Dispense.objects.filter(external_id=data.external_id).first()
        if existing is not None:
            if existing.patient_id != data.patient.pk:
                raise ConflictError(
                    "That dispensing id belongs to another patient.", field="external_id"
                )
            return DispenseResult(existing, False, None)
        dispense = Dispense.objects.create(
            external_id=data.external_id.strip(),
            patient=data.patient,
            drug_code=data.drug_code.strip(),
            drug_system=data.drug_system.strip(),
            drug_name=data.drug_name.strip(),
            handed_over=handed_over,
            days_supply=days_supply,
            quantity=data.quantity,
            refill_due=handed_over + timedelta(days=days_supply),
            created_at=at,
        )
        earlier = Dispense.objects.filter(
            patient=data.patient,
            drug_code=dispense.drug_code,
            handed_over__lte=dispense.handed_over,
        ).exclude(pk=dispense.pk)
        stopped = 0
        for previous in earlier.values_list("pk", flat=True):
            stopped += enrolments_cancel(
                subject_kind=SubjectKind.DISPENSE,
                subject_id=previous,
                reason="The next fill arrived.",
                at=at,
            )
        newer = Dispense.objects.filter(
            patient=data.patient, drug_code=dispense.drug_code, handed_over__gt=dispense.handed_over
        ).exists()
        enrolment = None
        if journey is not None and not newer:  # a late-reported older fill needs no reminder
            enrolment = enrolment_open(
                journey=journey,
                contact=data.patient,
                subject_kind=SubjectKind.DISPENSE,
                subject_id=dispense.pk,
                anchor_at=refill_anchor(dispense, journey, data.patient),
                now=at,
            )
        audit_record(
            actor=actor, action=AuditAction.CREATE, object_type="dispense", object_id=dispense.pk
        )
    return DispenseResult(dispense, True, enrolment, stopped)


# ----------------------------------------------------------------------------- medication


def medication_schedule_save(
    *,
    patient: Contact,
    local_time: time,
    drug_name: str = "",
    active: bool = True,
    schedule: MedicationSchedule | None = None,
    journey: str = "",
    actor: User | None,
    now: datetime | None = None,
) -> tuple[MedicationSchedule, Enrolment | None]:
    """A daily reminder at the patient's chosen local time (or a change to one)."""
    at = now or timezone.now()
    chosen = journey_for(JourneyKind.MEDICATION, journey)
    with transaction.atomic():
        if schedule is None:
            schedule = MedicationSchedule.objects.create(
                patient=patient,
                drug_name=drug_name.strip(),
                local_time=local_time,
                active=active,
                created_by=actor,
                created_at=at,
                updated_at=at,
            )
            action = AuditAction.CREATE
        else:
            schedule.drug_name = drug_name.strip()
            schedule.local_time = local_time
            schedule.active = active
            schedule.updated_at = at
            schedule.save()
            action = AuditAction.UPDATE
            enrolments_cancel(
                subject_kind=SubjectKind.MEDICATION,
                subject_id=schedule.pk,
                reason="The reminder schedule changed.",
                at=at,
            )
        enrolment = None
        if active and chosen is not None:
            enrolment = enrolment_open(
                journey=chosen,
                contact=patient,
                subject_kind=SubjectKind.MEDICATION,
                subject_id=schedule.pk,
                anchor_at=medication_anchor(schedule, patient, at),
                now=at,
            )
        audit_record(
            actor=actor, action=action, object_type="medication_schedule", object_id=schedule.pk
        )
    return schedule, enrolment
