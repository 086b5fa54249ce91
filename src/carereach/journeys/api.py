"""REST API of journeys: journeys and their steps; appointments, dispensings and medication
schedules (as JSON or FHIR R4); appointment confirmation and no-show rates.

Journeys need `run_campaigns` (marketers, care coordinators); patient records need `view_phi`
(care coordinators, admins). Problems come back as `{"code", "message", "field"}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Body, Field, Router, Schema
from ninja.responses import Status

from carereach.consent.selectors import program_get
from carereach.errors import ValidationError
from carereach.journeys.fhir import appointment_from_fhir, dispense_from_fhir
from carereach.journeys.models import Appointment, Dispense, Enrolment, Journey, JourneyKind
from carereach.journeys.selectors import (
    appointment_rates,
    journey_default,
    journey_get,
    journeys_overview,
)
from carereach.journeys.services.editing import (
    JourneyInput,
    StepInput,
    journey_create,
    journey_update,
)
from carereach.journeys.services.records import (
    AppointmentInput,
    AppointmentResult,
    DispenseInput,
    DispenseResult,
    appointment_get,
    appointment_save,
    appointment_set_status,
    dispense_record,
    medication_schedule_save,
    patient_get,
)
from carereach.security.api_auth import requires
from carereach.security.permissions import acting_user
from carereach.security.roles import Capability

router = Router(tags=["journeys"])


class StepIO(Schema):
    id: int | None = Field(None, description="An existing step's id, to keep what it ran")
    offset_minutes: int = Field(description="From the anchor; negative is before it")
    action: str = Field("send", description="send or stop")
    condition: str = Field("always", description="always, no_reply or replied")
    content_version: int | None = Field(None, description="An approved content version's id")
    channels: list[str] = Field([], description="Empty: the journey's cascade")


class JourneyIn(Schema):
    code: str
    name: str
    kind: str = Field(description="appointment, refill or medication")
    program: str = Field(description="The consent program's code")
    channels: list[str]
    local_time: time | None = None
    active: bool = True
    steps: list[StepIO]


class JourneyOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    program: str
    channels: list[str]
    local_time: time | None
    active: bool
    steps: list[StepIO]


def _journey_out(journey: Journey) -> JourneyOut:
    return JourneyOut(
        id=journey.pk,
        code=journey.code,
        name=journey.name,
        kind=journey.kind,
        program=journey.program.code,
        channels=list(journey.channels),
        local_time=journey.local_time,
        active=journey.active,
        steps=[
            StepIO(
                id=s.pk,
                offset_minutes=s.offset_minutes,
                action=s.action,
                condition=s.condition,
                content_version=s.content_version_id,
                channels=list(s.channels),
            )
            for s in journey.steps.all()
        ],
    )


def _journey_input(payload: JourneyIn) -> JourneyInput:
    program = program_get(code=payload.program)
    if program is None:
        raise ValidationError(f"No program with the code “{payload.program}”.", field="program")
    return JourneyInput(
        code=payload.code,
        name=payload.name,
        kind=payload.kind,
        program=program,
        channels=payload.channels,
        local_time=payload.local_time,
        active=payload.active,
        steps=[
            StepInput(
                id=s.id,
                offset_minutes=s.offset_minutes,
                action=s.action,
                condition=s.condition,
                content_version_id=s.content_version,
                channels=s.channels,
            )
            for s in payload.steps
        ],
    )


@router.get("/journeys", response=list[JourneyOut], auth=requires(Capability.RUN_CAMPAIGNS))
def journeys_list_op(request: HttpRequest) -> list[JourneyOut]:
    return [_journey_out(journey_get(journey_id=row.journey.pk)) for row in journeys_overview()]


@router.post("/journeys", response={201: JourneyOut}, auth=requires(Capability.RUN_CAMPAIGNS))
def journey_create_op(request: HttpRequest, payload: JourneyIn) -> Status[JourneyOut]:
    journey = journey_create(data=_journey_input(payload), actor=acting_user(request))
    return Status(201, _journey_out(journey_get(journey_id=journey.pk)))


@router.get("/journeys/{journey_id}", response=JourneyOut, auth=requires(Capability.RUN_CAMPAIGNS))
def journey_get_op(request: HttpRequest, journey_id: int) -> JourneyOut:
    return _journey_out(journey_get(journey_id=journey_id))


@router.put("/journeys/{journey_id}", response=JourneyOut, auth=requires(Capability.RUN_CAMPAIGNS))
def journey_update_op(request: HttpRequest, journey_id: int, payload: JourneyIn) -> JourneyOut:
    journey = journey_get(journey_id=journey_id)
    journey_update(journey=journey, data=_journey_input(payload), actor=acting_user(request))
    return _journey_out(journey_get(journey_id=journey_id))


class RecordOut(Schema):
    id: int
    created: bool
    status: str = ""
    enrolment: int | None = None
    reminders_from: datetime | None = Field(None, description="When the first reminder is due")
    note: str = ""


def _enrolment_fields(enrolment: Enrolment | None) -> dict[str, Any]:
    if enrolment is None:
        return {"enrolment": None, "reminders_from": None}
    return {"enrolment": enrolment.pk, "reminders_from": enrolment.due_at}


def _appointment_out(result: AppointmentResult) -> RecordOut:
    return RecordOut(
        id=result.appointment.pk,
        created=result.created,
        status=result.appointment.status,
        note=result.note,
        **_enrolment_fields(result.enrolment),
    )


class AppointmentIn(Schema):
    external_id: str
    patient: int = Field(description="The patient's contact id")
    provider_name: str
    provider_phone: str
    location: str = ""
    start: datetime = Field(description="ISO 8601 with its UTC offset")
    status: str = "booked"
    journey: str = Field("", description="A journey code; default: the active one")


@router.post(
    "/appointments", response={200: RecordOut, 201: RecordOut}, auth=requires(Capability.VIEW_PHI)
)
def appointment_save_op(request: HttpRequest, payload: AppointmentIn) -> Status[RecordOut]:
    result = appointment_save(
        data=AppointmentInput(
            external_id=payload.external_id,
            patient=patient_get(payload.patient),
            provider_name=payload.provider_name,
            provider_phone=payload.provider_phone,
            location=payload.location,
            start_at=payload.start,
            status=payload.status,
            journey=payload.journey,
        ),
        actor=acting_user(request),
    )
    return Status(201 if result.created else 200, _appointment_out(result))


@router.post(
    "/appointments/fhir",
    response={200: RecordOut, 201: RecordOut},
    auth=requires(Capability.VIEW_PHI),
)
def appointment_fhir_op(request: HttpRequest, payload: Body[dict[str, Any]]) -> Status[RecordOut]:
    """A FHIR R4 Appointment; the provider's phone comes from a contained Practitioner's
    telecom, else the journey program's help contact."""
    journey = journey_default(kind=JourneyKind.APPOINTMENT)
    data = appointment_from_fhir(
        payload, default_phone=journey.program.help_contact if journey else ""
    )
    result = appointment_save(data=data, actor=acting_user(request))
    return Status(201 if result.created else 200, _appointment_out(result))


class StatusIn(Schema):
    status: str = Field(description="booked, confirmed, cancelled or noshow")


@router.post(
    "/appointments/{appointment_id}/status",
    response=RecordOut,
    auth=requires(Capability.VIEW_PHI),
)
def appointment_status_op(
    request: HttpRequest, appointment_id: int, payload: StatusIn
) -> RecordOut:
    appointment: Appointment = appointment_get(appointment_id=appointment_id)
    result = appointment_set_status(
        appointment=appointment, status=payload.status, actor=acting_user(request)
    )
    return _appointment_out(result)


class RatesOut(Schema):
    reminded: int
    confirmed: int
    reschedule_requested: int
    confirmation_rate: float | None
    past: int
    no_show: int
    no_show_rate: float | None


@router.get("/appointments/rates", response=RatesOut, auth=requires(Capability.RUN_CAMPAIGNS))
def appointment_rates_op(request: HttpRequest, since: date | None = None) -> RatesOut:
    start = datetime.combine(since, time(0), tzinfo=UTC) if since else None
    rates = appointment_rates(since=start)
    return RatesOut(
        reminded=rates.reminded,
        confirmed=rates.confirmed,
        reschedule_requested=rates.reschedule,
        confirmation_rate=rates.confirmation_rate,
        past=rates.past,
        no_show=rates.no_show,
        no_show_rate=rates.no_show_rate,
    )


class DispenseIn(Schema):
    external_id: str
    patient: int
    drug_code: str
    drug_name: str = ""
    drug_system: str = ""
    handed_over: date
    days_supply: int | None = None
    quantity: Decimal | None = None
    journey: str = ""


def _dispense_out(result: DispenseResult) -> RecordOut:
    dispense: Dispense = result.dispense
    return RecordOut(
        id=dispense.pk,
        created=result.created,
        note=f"refill due {dispense.refill_due.isoformat()}"
        + (f"; reminders of {result.stopped} earlier fill(s) stopped" if result.stopped else ""),
        **_enrolment_fields(result.enrolment),
    )


@router.post(
    "/dispenses", response={200: RecordOut, 201: RecordOut}, auth=requires(Capability.VIEW_PHI)
)
def dispense_op(request: HttpRequest, payload: DispenseIn) -> Status[RecordOut]:
    result = dispense_record(
        data=DispenseInput(
            external_id=payload.external_id,
            patient=patient_get(payload.patient),
            drug_code=payload.drug_code,
            drug_name=payload.drug_name,
            drug_system=payload.drug_system,
            handed_over=payload.handed_over,
            days_supply=payload.days_supply,
            quantity=payload.quantity,
            journey=payload.journey,
        ),
        actor=acting_user(request),
    )
    return Status(201 if result.created else 200, _dispense_out(result))


@router.post(
    "/dispenses/fhir",
    response={200: RecordOut, 201: RecordOut},
    auth=requires(Capability.VIEW_PHI),
)
def dispense_fhir_op(request: HttpRequest, payload: Body[dict[str, Any]]) -> Status[RecordOut]:
    """A FHIR R4 MedicationDispense: whenHandedOver + daysSupply give the refill due date."""
    result = dispense_record(data=dispense_from_fhir(payload), actor=acting_user(request))
    return Status(201 if result.created else 200, _dispense_out(result))


class ScheduleIn(Schema):
    patient: int
    local_time: time = Field(description="The patient's chosen time, in their own zone")
    drug_name: str = ""
    journey: str = ""


@router.post("/medication-schedules", response={201: RecordOut}, auth=requires(Capability.VIEW_PHI))
def schedule_op(request: HttpRequest, payload: ScheduleIn) -> Status[RecordOut]:
    schedule, enrolment = medication_schedule_save(
        patient=patient_get(payload.patient),
        local_time=payload.local_time,
        drug_name=payload.drug_name,
        journey=payload.journey,
        actor=acting_user(request),
    )
    return Status(201, RecordOut(id=schedule.pk, created=True, **_enrolment_fields(enrolment)))
