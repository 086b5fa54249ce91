"""FHIR R4 `Appointment` and `MedicationDispense` read into the journeys' records.

Only what reminders need is read; anything else in the resource is ignored. A resource that
cannot give it (no patient, no start, a dispense without `daysSupply`) is refused with the
field at fault.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from carereach.errors import ValidationError
from carereach.journeys.models import AppointmentStatus
from carereach.journeys.services.records import (
    AppointmentInput,
    DispenseInput,
    patient_from_reference,
)

# FHIR Appointment.status -> ours; statuses before booking get no reminders and are refused.
APPOINTMENT_STATUS = {
    "booked": AppointmentStatus.BOOKED,
    "cancelled": AppointmentStatus.CANCELLED,
    "noshow": AppointmentStatus.NO_SHOW,
    "entered-in-error": AppointmentStatus.CANCELLED,
}


def _datetime(value: Any, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"“{value}” is not a date and time.", field=field) from None
    if parsed.tzinfo is None:
        raise ValidationError("Give the time with its UTC offset.", field=field)
    return parsed


def _identifier(resource: dict[str, Any]) -> str:
    for identifier in resource.get("identifier") or []:
        if identifier.get("value"):
            return str(identifier["value"])
    return str(resource.get("id") or "")


def _telecom(resource: dict[str, Any]) -> str:
    for point in resource.get("telecom") or []:
        if point.get("system") == "phone" and point.get("value"):
            return str(point["value"])
    return ""


def appointment_from_fhir(resource: dict[str, Any], *, default_phone: str = "") -> AppointmentInput:
    if resource.get("resourceType") != "Appointment":
        raise ValidationError("Expected a FHIR Appointment resource.", field="resourceType")
    status = APPOINTMENT_STATUS.get(str(resource.get("status") or ""))
    if status is None:
        raise ValidationError(
            f"Appointment status “{resource.get('status')}” gets no reminders; send booked, "
            "cancelled or noshow.",
            field="status",
        )
    if not resource.get("start"):
        raise ValidationError("The appointment has no start time.", field="start")
    contained = {f"#{r.get('id')}": r for r in resource.get("contained") or []}
    patient = provider = location = None
    phone = ""
    for participant in resource.get("participant") or []:
        actor = participant.get("actor") or {}
        reference = str(actor.get("reference") or "")
        if reference.startswith("Patient/") and patient is None:
            patient = patient_from_reference(reference)
        elif reference.startswith(("Practitioner/", "PractitionerRole/", "#")) and provider is None:
            provider = str(actor.get("display") or "")
            phone = phone or _telecom(contained.get(reference, {}))
        elif reference.startswith("Location/") and location is None:
            location = str(actor.get("display") or "")
    if patient is None:
        raise ValidationError("No participant is a Patient.", field="participant")
    if not provider:
        raise ValidationError("No participant names the practitioner.", field="participant")
    return AppointmentInput(
        external_id=_identifier(resource),
        patient=patient,
        provider_name=provider,
        provider_phone=phone or default_phone,
        location=location or "",
        start_at=_datetime(resource["start"], "start"),
        status=status,
    )


def _coding(resource: dict[str, Any]) -> dict[str, Any]:
    concept = resource.get("medicationCodeableConcept")
    if concept is None:
        reference = str((resource.get("medicationReference") or {}).get("reference") or "")
        for contained in resource.get("contained") or []:
            if f"#{contained.get('id')}" == reference:
                concept = contained.get("code")
    codings = (concept or {}).get("coding") or []
    if not codings:
        raise ValidationError("The dispense names no coded medication.", field="medication")
    coding = dict(codings[0])
    coding.setdefault("display", (concept or {}).get("text", ""))
    return coding


def dispense_from_fhir(resource: dict[str, Any]) -> DispenseInput:
    if resource.get("resourceType") != "MedicationDispense":
        raise ValidationError("Expected a FHIR MedicationDispense resource.", field="resourceType")
    if resource.get("status") not in (None, "completed"):
        raise ValidationError(
            f"Only completed dispenses start refill reminders (this one is "
            f"“{resource.get('status')}”).",
            field="status",
        )
    subject = str((resource.get("subject") or {}).get("reference") or "")
    patient = patient_from_reference(subject)
    coding = _coding(resource)
    handed = resource.get("whenHandedOver")
    if not handed:
        raise ValidationError("The dispense has no whenHandedOver.", field="handed_over")
    try:
        handed_over: date = date.fromisoformat(str(handed)[:10])
    except ValueError:
        raise ValidationError(f"“{handed}” is not a date.", field="handed_over") from None
    supply = (resource.get("daysSupply") or {}).get("value")
    quantity = (resource.get("quantity") or {}).get("value")
    try:
        amount = Decimal(str(quantity)) if quantity is not None else None
    except InvalidOperation:
        raise ValidationError("The quantity is not a number.", field="quantity") from None
    return DispenseInput(
        external_id=_identifier(resource),
        patient=patient,
        drug_code=str(coding.get("code") or ""),
        drug_system=str(coding.get("system") or ""),
        drug_name=str(coding.get("display") or ""),
        handed_over=handed_over,
        days_supply=int(supply) if supply is not None else None,
        quantity=amount,
    )
