"""Refill and daily medication reminders: due dates from fills, early refills, PHI wording,
FHIR MedicationDispense, and repeats that never double."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from carereach.audience.models import PatientProfile
from carereach.channels.models import Direction, SandboxMessage
from carereach.consent.services import consent_record
from carereach.errors import ValidationError
from carereach.journeys.fhir import dispense_from_fhir
from carereach.journeys.models import Dispense, Enrolment, EnrolmentState
from carereach.journeys.rendering import names_drug
from carereach.journeys.services.editing import journey_input_of, journey_update
from carereach.journeys.services.records import (
    DispenseInput,
    dispense_record,
    medication_schedule_save,
)
from carereach.journeys.tasks import journeys_advance_due
from carereach.messaging.models import Message
from carereach.messaging.runtime import worker_tick
from tests.campaigns.factories import Clock
from tests.content import factories as content
from tests.journeys import factories as f
from tests.journeys.factories import Clinic

pytestmark = pytest.mark.django_db

EXAMPLES = json.loads((Path(__file__).parent / "fhir_examples.json").read_text())["resources"]
DRUG = "Lisinopril 10 MG Oral Tablet"


def _tick() -> None:
    journeys_advance_due()
    worker_tick("w1")


def _texts() -> list[str]:
    return [
        row.body or ""
        for row in SandboxMessage.objects.filter(direction=Direction.OUT, to=f.PHONE).order_by("id")
    ]


def _fill(person: Any, handed_over: date, external_id: str = "D-1", days: int | None = 30) -> Any:
    return dispense_record(
        data=DispenseInput(
            external_id=external_id,
            patient=person,
            drug_code="314076",
            drug_name=DRUG,
            handed_over=handed_over,
            days_supply=days,
        ),
        actor=None,
    )


def test_refill_reminder_before_the_due_date_without_naming_the_drug(
    clinic: Clinic, clock: Clock
) -> None:
    person = f.patient()
    result = _fill(person, date(2026, 11, 23))
    assert result.dispense.refill_due == date(2026, 12, 23)
    assert result.enrolment is not None
    # Three days before, at 10:00 in the patient's zone.
    assert result.enrolment.due_at == datetime(2026, 12, 20, 15, 0, tzinfo=UTC)
    clock.advance(days=26, hours=-1)  # Dec 19, noon
    _tick()
    assert _texts() == []
    clock.advance(days=1)
    _tick()
    [text] = _texts()
    assert "Time to refill your medication (due Wed, Dec 23)" in text
    assert "Lisinopril" not in text


def test_the_drug_is_named_where_the_patient_accepted_phi(clinic: Clinic, clock: Clock) -> None:
    person = f.patient()
    PatientProfile.objects.filter(contact=person).update(phi_accepted_channels=["sms"])
    _fill(person, date(2026, 11, 23))
    clock.advance(days=27)
    _tick()
    [text] = _texts()
    assert f"Time to refill {DRUG}" in text


def test_an_early_refill_stops_the_reminders_of_the_previous_fill(
    clinic: Clinic, clock: Clock
) -> None:
    person = f.patient()
    first = _fill(person, date(2026, 11, 23))
    clock.advance(days=17)  # Dec 10: refilled 13 days early
    second = _fill(person, date(2026, 12, 10), external_id="D-2")
    assert second.stopped == 1
    first.enrolment.refresh_from_db()
    assert first.enrolment.state == EnrolmentState.CANCELLED
    assert first.enrolment.stop_reason == "The next fill arrived."
    clock.advance(days=10)  # past the first fill's reminder time: nothing goes
    _tick()
    assert _texts() == []
    clock.advance(days=17)  # Jan 6 is 3 days before the second fill runs out (Jan 9)
    _tick()
    assert len(_texts()) == 1


def test_a_fill_without_days_supply_is_refused(clinic: Clinic, clock: Clock) -> None:
    person = f.patient()
    with pytest.raises(ValidationError) as error:
        _fill(person, date(2026, 11, 23), days=None)
    assert error.value.field == "days_supply"
    assert "days' supply" in error.value.message
    assert not Dispense.objects.exists()


def test_fhir_medication_dispense(clinic: Clinic, clock: Clock) -> None:
    f.patient(external_id="example")
    us_core = EXAMPLES["us-core-9.0.0/medicationdispense-example.json"]
    with pytest.raises(ValidationError) as error:
        dispense_record(data=dispense_from_fhir(us_core), actor=None)
    assert error.value.field == "days_supply"  # the official example has no daysSupply

    resource = copy.deepcopy(us_core)
    resource["whenHandedOver"] = "2026-11-20T14:00:00Z"
    resource["daysSupply"] = {"value": 30, "unit": "Day", "code": "d"}
    result = dispense_record(data=dispense_from_fhir(resource), actor=None)
    dispense = result.dispense
    assert (dispense.drug_code, dispense.days_supply, dispense.refill_due) == (
        "476872",
        30,
        date(2026, 12, 20),
    )
    assert dispense.drug_name == "Nizatidine 15 MG/ML Oral Solution"
    assert dispense.quantity == Decimal(480)

    in_progress = EXAMPLES["r4-core/medicationdispense0301.json"]
    with pytest.raises(ValidationError) as error:
        dispense_from_fhir(in_progress)
    assert error.value.field == "status"


def test_daily_medication_reminders_repeat_and_never_double(clinic: Clinic, clock: Clock) -> None:
    person = f.patient()
    consent_record(
        contact=person,
        address=f.PHONE,
        channels=["sms"],
        programs=[clinic.medication.program],
        action="grant",
        method="in_person",
        evidence={"typed_name": "Maria Gomez"},
        actor=None,
    )
    schedule, enrolment = medication_schedule_save(
        patient=person, local_time=time(18, 30), drug_name=DRUG, actor=None
    )
    assert enrolment is not None
    clock.advance(hours=6, minutes=31)  # 18:31 in New York
    _tick()
    _tick()  # a second pass (a restart) sends nothing more
    assert _texts() == ["Daily reminders: Time to take your medication.\nReply STOP to opt out."]
    clock.advance(days=1)
    _tick()
    assert len(_texts()) == 2
    enrolment.refresh_from_db()
    assert enrolment.occurrence == 2  # the day after next is the one waiting
    keys = list(Message.objects.filter(origin="journey").values_list("key", flat=True))
    assert len(set(keys)) == 2

    medication_schedule_save(
        patient=person,
        local_time=time(18, 30),
        drug_name=DRUG,
        active=False,
        schedule=schedule,
        actor=None,
    )
    clock.advance(days=1)
    _tick()
    assert len(_texts()) == 2
    assert not Enrolment.objects.filter(state=EnrolmentState.ACTIVE).exists()


def test_a_text_naming_the_drug_outright_is_not_sent_without_phi_consent(
    clinic: Clinic, clock: Clock
) -> None:
    """Content that types the drug's name (no PHI term caught it at approval) is skipped."""
    typed = f.approved(
        clinic.program,
        clinic.author,
        clinic.reviewer,
        "lisinopril-refill",
        content.sms("Your lisinopril refill is due {{ refill_date }}."),
    )
    data = journey_input_of(clinic.refills)
    data.steps[0].content_version_id = typed.pk
    journey_update(journey=clinic.refills, data=data, actor=clinic.author)
    person = f.patient()
    _fill(person, date(2026, 11, 23))
    clock.advance(days=27)
    _tick()
    assert _texts() == []
    skipped = Message.objects.get(origin="journey")
    assert (skipped.status, skipped.reasons[0]["code"]) == ("skipped", "phi_not_accepted")
    assert names_drug("Your lisinopril refill", DRUG)
    assert not names_drug("Your medication: 10 mg oral tablet", DRUG)
