"""Appointment reminders end to end through the sandbox carrier: reminders, C and R replies in
English and Spanish, STOP mid-journey, no-reply fallback, moves, cancellations, restarts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from carereach.channels.models import Direction, SandboxMessage
from carereach.consent.services import consent_record
from carereach.content.services import BodyInput
from carereach.errors import ValidationError
from carereach.journeys.models import (
    Appointment,
    AppointmentResponse,
    AppointmentStatus,
    Enrolment,
    EnrolmentState,
)
from carereach.journeys.selectors import appointment_rates
from carereach.journeys.services.editing import JourneyInput, StepInput, journey_update
from carereach.journeys.services.engine import enrolments_advance_due
from carereach.journeys.services.records import appointment_set_status
from carereach.journeys.tasks import journeys_advance_due
from carereach.messaging.models import InboundMessage, Message, MessageStatus
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_keypress, sandbox_text_in
from carereach.security.roles import Role
from tests.campaigns.factories import Clock
from tests.content import factories as content
from tests.journeys import factories as f
from tests.journeys.factories import Clinic

pytestmark = pytest.mark.django_db


def _tick() -> None:
    """One scheduler pass, then one worker pass (dispatch through the sandbox)."""
    journeys_advance_due()
    worker_tick("w1")


def _phone_got(phone: str = f.PHONE) -> list[str]:
    return [
        row.body or ""
        for row in SandboxMessage.objects.filter(direction=Direction.OUT, to=phone).order_by("id")
    ]


def _reply(body: str, phone: str = f.PHONE) -> InboundMessage:
    sandbox_text_in(from_number=phone, to=f.SENDER, body=body)
    worker_tick("w1")
    return InboundMessage.objects.order_by("-id").first()  # type: ignore[return-value]


def _booked(clock: Clock, **fields: str) -> tuple[Appointment, Enrolment]:
    person = f.patient(**fields)
    result = f.appointment(person, clock.now + f.days(4))
    assert result.enrolment is not None
    return result.appointment, result.enrolment


def test_reminder_then_c_confirms_and_is_answered(clinic: Clinic, clock: Clock) -> None:
    appointment, enrolment = _booked(clock)
    _tick()
    assert _phone_got() == []  # nothing is due yet (72 h before is tomorrow)

    clock.advance(days=1)
    _tick()
    [reminder] = _phone_got()
    assert "Dr. Lee" in reminder
    assert "(415) 555-0100" in reminder
    assert "Reply C to confirm, R to reschedule" in reminder
    assert "Fri, Nov 27 at 12:00 PM EST" in reminder  # the patient's local time

    inbound = _reply("C")
    assert inbound.handled_by == "appointment"
    appointment.refresh_from_db()
    assert (appointment.status, appointment.response) == ("confirmed", "confirmed")
    answer = _phone_got()[-1]
    assert answer.startswith("Thank you, your appointment on Fri, Nov 27")

    clock.advance(days=1, hours=1)  # 47 h before: the no-reply fallback does not run
    _tick()
    clock.advance(hours=23)  # 24 h before: the last reminder goes
    _tick()
    assert len(_phone_got()) == 3
    assert not Message.objects.filter(key__startswith=enrolment.trigger_key, channel="email")
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.DONE


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes confirm", AppointmentResponse.CONFIRMED),
        ("Confirmo", AppointmentResponse.CONFIRMED),
        ("confirmed!", AppointmentResponse.CONFIRMED),
        ("r", AppointmentResponse.RESCHEDULE),
        ("Reprogramar", AppointmentResponse.RESCHEDULE),
        ("cambiar cita", AppointmentResponse.RESCHEDULE),
        ("I need to reschedule", AppointmentResponse.RESCHEDULE),
    ],
)
def test_free_text_answers(clinic: Clinic, clock: Clock, text: str, answer: str) -> None:
    appointment, _ = _booked(clock)
    clock.advance(days=1)
    _tick()
    assert _reply(text).handled_by == "appointment"
    appointment.refresh_from_db()
    assert appointment.response == answer


def test_r_stops_the_reminders_and_answers_in_spanish(clinic: Clinic, clock: Clock) -> None:
    appointment, enrolment = _booked(clock, language="es")
    clock.advance(days=1)
    _tick()
    [reminder] = _phone_got()
    assert reminder.startswith("Demo Clinic: Cita con Dr. Lee") or "Cita con Dr. Lee" in reminder

    _reply("sí, reprogramar")
    appointment.refresh_from_db()
    enrolment.refresh_from_db()
    assert appointment.response == AppointmentResponse.RESCHEDULE
    assert appointment.status == AppointmentStatus.BOOKED  # the clinic moves it, then we follow
    assert enrolment.state == EnrolmentState.STOPPED
    assert _phone_got()[-1].startswith("Entendido: le llamaremos")

    for _ in range(3):
        clock.advance(days=1)
        _tick()
    assert len(_phone_got()) == 2  # the reminder and the answer: nothing after R


def test_an_unclear_text_goes_to_a_person(clinic: Clinic, clock: Clock) -> None:
    _booked(clock)
    clock.advance(days=1)
    _tick()
    inbound = _reply("what floor is the clinic on?")
    assert inbound.handled_by == ""  # the inbox shows it to a person
    assert len(_phone_got()) == 1


def test_stop_mid_journey_stops_it(clinic: Clinic, clock: Clock) -> None:
    _, enrolment = _booked(clock)
    clock.advance(days=1)
    _tick()
    stop = _reply("STOP")
    assert stop.category == "opt_out"
    clock.advance(days=1)
    _tick()
    clock.advance(days=1)
    _tick()
    enrolment.refresh_from_db()
    assert enrolment.state == EnrolmentState.STOPPED
    assert enrolment.stop_reason == "The person opted out."
    sent = Message.objects.filter(
        key__startswith=f"{enrolment.trigger_key}:", origin="journey", sent_at__isnull=False
    )
    assert sent.count() == 1  # the first reminder only
    # The journey ended at its next step: no other channel was tried either.
    assert Message.objects.filter(key__startswith=f"{enrolment.trigger_key}:").count() == 1


def test_no_reply_falls_back_to_the_next_channel(clinic: Clinic, clock: Clock) -> None:
    appointment, enrolment = _booked(clock)
    # E-mail needs a consent record to carry its unsubscribe link.
    consent_record(
        contact=appointment.patient,
        address=f.EMAIL,
        channels=["email"],
        programs=[clinic.program],
        action="grant",
        method="verbal",
        actor=None,
    )
    clock.advance(days=1)
    _tick()
    clock.advance(days=1, hours=1)  # 47 h before, no answer: the cascade's next channel
    _tick()
    fallback = Message.objects.get(key__startswith=f"{enrolment.trigger_key}:", channel="email")
    assert fallback.address == f.EMAIL
    assert fallback.status in (MessageStatus.SENT, MessageStatus.DELIVERED), fallback.reasons
    assert "Reply C to confirm" in fallback.body


def test_rescheduling_moves_the_reminders(clinic: Clinic, clock: Clock) -> None:
    appointment, first = _booked(clock)
    clock.advance(days=1)
    _tick()
    moved = f.appointment(appointment.patient, clock.now + f.days(6))
    appointment.refresh_from_db()
    first.refresh_from_db()
    assert appointment.status == AppointmentStatus.RESCHEDULED
    assert first.state == EnrolmentState.CANCELLED
    assert moved.enrolment is not None
    assert moved.enrolment.pk != first.pk
    clock.advance(days=2)  # the old 48 h / 24 h times pass: nothing goes for the old time
    _tick()
    assert len(_phone_got()) == 1
    clock.advance(days=1)  # 72 h before the new time
    _tick()
    assert len(_phone_got()) == 2
    assert "Mon, Nov 30" in _phone_got()[-1]


def test_cancelled_appointment_cancels_waiting_reminders(clinic: Clinic, clock: Clock) -> None:
    appointment, enrolment = _booked(clock)
    clock.advance(days=1, hours=10)  # 22:00 in New York: the reminder waits for quiet hours
    journeys_advance_due()
    held = Message.objects.get(key__startswith=f"{enrolment.trigger_key}:")
    assert held.status == MessageStatus.HELD
    appointment_set_status(appointment=appointment, status="cancelled", actor=None)
    held.refresh_from_db()
    enrolment.refresh_from_db()
    assert held.status == MessageStatus.CANCELLED
    assert enrolment.state == EnrolmentState.CANCELLED
    clock.advance(hours=12)
    _tick()
    assert _phone_got() == []


def test_reply_to_a_reminder_that_no_longer_stands(clinic: Clinic, clock: Clock) -> None:
    appointment, _ = _booked(clock)
    clock.advance(days=1)
    _tick()
    appointment_set_status(appointment=appointment, status="cancelled", actor=None)
    assert _reply("C").handled_by == "appointment"
    appointment.refresh_from_db()
    assert (appointment.status, appointment.response) == ("cancelled", "")
    assert _phone_got()[-1].startswith("That reminder is no longer current")


def test_an_appointment_in_the_past_is_refused(clinic: Clinic, clock: Clock) -> None:
    person = f.patient()
    with pytest.raises(ValidationError) as error:
        f.appointment(person, clock.now - timedelta(minutes=5))
    assert error.value.field == "start"
    assert not Appointment.objects.exists()
    assert not Enrolment.objects.exists()


def test_restart_in_the_middle_never_doubles(clinic: Clinic, clock: Clock) -> None:
    _, enrolment = _booked(clock)
    clock.advance(days=1)
    enrolments_advance_due()
    snapshot = Enrolment.objects.get(pk=enrolment.pk)
    # "Restart": the same tick again, then again from a state read before the first one ran.
    enrolments_advance_due()
    Enrolment.objects.filter(pk=enrolment.pk).update(
        done_steps=[], due_at=snapshot.due_at - timedelta(days=1)
    )
    enrolments_advance_due()
    worker_tick("w1")
    worker_tick("w2")
    assert len(_phone_got()) == 1
    assert Message.objects.filter(key__startswith=f"{enrolment.trigger_key}:").count() == 1


def test_a_cancelled_appointment_booked_again_gets_reminders(clinic: Clinic, clock: Clock) -> None:
    appointment, first = _booked(clock)
    appointment_set_status(appointment=appointment, status="cancelled", actor=None)
    again = f.appointment(appointment.patient, appointment.start_at)
    assert again.enrolment is not None
    assert again.enrolment.pk != first.pk
    clock.advance(days=1)
    _tick()
    assert len(_phone_got()) == 1


def test_an_answer_after_stop_is_recorded_but_not_answered(clinic: Clinic, clock: Clock) -> None:
    appointment, _ = _booked(clock)
    clock.advance(days=1)
    _tick()
    _reply("STOP")
    before = len(_phone_got())
    assert _reply("C").handled_by == "appointment"
    appointment.refresh_from_db()
    assert appointment.response == AppointmentResponse.CONFIRMED
    assert len(_phone_got()) == before  # nothing more to a number that opted out


def test_confirmation_and_no_show_rates(clinic: Clinic, clock: Clock) -> None:
    first, _ = _booked(clock)
    second = f.appointment(
        f.patient(phone="+14155550143"), clock.now + f.days(4), external_id="A-2"
    ).appointment
    clock.advance(days=1)
    _tick()
    _reply("C")  # the first patient confirms
    clock.advance(days=4)  # both appointments have passed
    appointment_set_status(appointment=second, status="noshow", actor=None)
    rates = appointment_rates()
    assert (rates.reminded, rates.confirmed, rates.past, rates.no_show) == (2, 1, 2, 1)
    assert (rates.confirmation_rate, rates.no_show_rate) == (0.5, 0.5)
    assert first.pk != second.pk


def test_no_reply_falls_back_to_a_call_and_key_1_confirms(
    clinic: Clinic, clock: Clock, users: dict[Role, User]
) -> None:
    """The issue's story: no answer to the text by the set time, so the patient is called;
    pressing 1 on the call confirms the appointment (the call speaks the answer itself)."""
    program = clinic.program
    program.channels = ["sms", "voice"]
    program.save(update_fields=["channels"])
    reminder = f.approved(
        program,
        users[Role.MARKETER],
        users[Role.COMPLIANCE],
        "appointment-reminder-call",
        content.sms(f.REMINDER_EN),
        BodyInput(
            channel="voice",
            language="en",
            text="This is a reminder of your appointment with {{ provider_name }} "
            "{{ appointment_time }}.",
        ),
    )
    journey_update(
        journey=clinic.appointments,
        data=JourneyInput(
            code="appointments",
            name="Appointment reminders",
            kind="appointment",
            program=program,
            channels=["sms", "voice"],
            steps=[
                StepInput(offset_minutes=-72 * f.HOUR, content_version_id=reminder.pk),
                StepInput(
                    offset_minutes=-47 * f.HOUR,
                    condition="no_reply",
                    content_version_id=reminder.pk,
                ),
            ],
        ),
        actor=users[Role.MARKETER],
    )
    appointment, enrolment = _booked(clock)
    clock.advance(days=1)
    _tick()  # the text
    clock.advance(days=1, hours=1)  # 47 h before, no answer
    _tick()  # the call
    call = Message.objects.get(key__startswith=f"{enrolment.trigger_key}:", channel="voice")
    assert call.status in (MessageStatus.SENT, MessageStatus.DELIVERED), call.reasons
    assert call.address == f.PHONE
    assert "reminder of your appointment" in call.body
    sandbox_keypress(call_id=call.provider_message_id, digits="1")
    worker_tick("w1")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    press = InboundMessage.objects.get(in_reply_to=call)
    assert press.handled_by
    # The call answered; no text is sent back for a key press.
    assert not Message.objects.filter(origin="journey_answer").exists()
