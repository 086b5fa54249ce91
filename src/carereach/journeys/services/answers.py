"""Answers to reminders: C confirms, R asks to reschedule (English and Spanish forms).

Registered with `messaging.replies` at start-up; consent has already seen the text (STOP and
HELP never come here). A text is taken only when it reads as C or R and the last message sent
to the number belongs to a journey; it is answered in the person's language through the
outbox, keyed on the text's provider id, so a carrier retrying the text gets one answer.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection

from carereach.consent.selectors import address_opted_out
from carereach.journeys.models import (
    Appointment,
    AppointmentResponse,
    AppointmentStatus,
    Enrolment,
    EnrolmentState,
    JourneyKind,
)
from carereach.journeys.rendering import when_words
from carereach.journeys.services.engine import enrolment_stop
from carereach.journeys.wording import Answer, answer_read, answer_text, gone_text
from carereach.messaging.models import Lane
from carereach.messaging.replies import InboundReply
from carereach.messaging.services.outbox import Reason, message_enqueue
from carereach.messaging.services.voice import CONFIRMED
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

LABEL = "appointment"
OPEN = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED, AppointmentStatus.RESCHEDULED)


def _enrolment_id(key: str | None) -> int | None:
    parts = (key or "").split(":")
    if len(parts) > 1 and parts[0] == "journey" and parts[1].isdigit():
        return int(parts[1])
    return None


def appointment_answer(
    *, appointment: Appointment, enrolment: Enrolment, answer: Answer, at: datetime
) -> None:
    """Record the patient's answer on the appointment and the enrolment."""
    if answer == Answer.CONFIRM:
        appointment.response = AppointmentResponse.CONFIRMED
        appointment.status = AppointmentStatus.CONFIRMED
    else:
        appointment.response = AppointmentResponse.RESCHEDULE
    appointment.responded_at = at
    appointment.updated_at = at
    appointment.save(update_fields=["response", "status", "responded_at", "updated_at"])
    enrolment.reply = str(appointment.response)
    enrolment.replied_at = at
    enrolment.updated_at = at
    enrolment.save(update_fields=["reply", "replied_at", "updated_at"])
    if answer == Answer.RESCHEDULE:
        # Reminders for a time that will change would mislead; the clinic calls instead.
        enrolment_stop(enrolment=enrolment, reason="The patient asked to reschedule.", at=at)
    audit_record(
        actor=None,
        action=AuditAction.UPDATE,
        object_type="appointment",
        object_id=appointment.pk,
        changes=["response", "status"],
        note=f"patient replied {answer.value} to a reminder",
    )


def journey_reply_handle(reply: InboundReply) -> str | None:
    by_call = reply.channel == Channel.VOICE
    answer: Answer | None
    if by_call:  # a key pressed during a reminder call: 1 means "confirmed"
        answer = Answer.CONFIRM if reply.answer == CONFIRMED else None
    else:
        answer = answer_read(reply.body)
    enrolment_id = _enrolment_id(reply.in_reply_to_key)
    if answer is None or enrolment_id is None:
        return None
    rows = Enrolment.objects.select_related("journey", "contact").filter(pk=enrolment_id)
    if connection.vendor == "postgresql":
        rows = rows.select_for_update(of=("self",))  # after a scheduler advancing it commits
    enrolment = rows.first()
    if enrolment is None or enrolment.journey.kind != JourneyKind.APPOINTMENT:
        return None
    contact = enrolment.contact
    language = "es" if contact.language.lower().startswith("es") else "en"
    appointment = Appointment.objects.filter(pk=enrolment.subject_id).first()
    current = (
        appointment is not None
        and appointment.status in OPEN
        and appointment.start_at > reply.received_at
        and enrolment.state != EnrolmentState.CANCELLED
    )
    if appointment is None or not current:
        phone = appointment.provider_phone if appointment is not None else ""
        body = gone_text(language=language, provider_phone=phone)
    else:
        appointment_answer(
            appointment=appointment, enrolment=enrolment, answer=answer, at=reply.received_at
        )
        body = answer_text(
            answer,
            language=language,
            when=when_words(appointment, contact, language),
            provider_phone=appointment.provider_phone,
        )
    if by_call:
        return LABEL  # recorded; the call itself spoke the answer
    if address_opted_out(address=reply.from_number, sender=reply.to_number):
        return LABEL  # recorded; nothing is sent to a number that opted out of everything here
    message_enqueue(
        key=f"journey:{enrolment.pk}:answer:{reply.provider}:{reply.provider_message_id}"[:200],
        origin="journey_answer",
        origin_ref=enrolment.trigger_key,
        lane=Lane.CLINICAL,
        contact_id=contact.pk,
        channel="sms",
        address=reply.from_number,
        sender=reply.to_number,
        body=body,
        reasons=[Reason("journey_answer", "Answers the person's reply to a reminder (C or R).")],
        reply_to=reply.provider_message_id,
    )
    return LABEL
