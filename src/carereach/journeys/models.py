"""Journeys as data: a journey's ordered steps, and one enrolment per person and record.

A journey (appointment reminders, refill reminders, daily medication reminders) is a list of
steps, each timed by an offset from the enrolment's anchor (the appointment's start, the refill
due date, today's chosen medication time). The scheduler advances due enrolments; a send step
goes through the one pipeline with the outbox key `journey:<enrolment>:<step>:...`, so a
restart or a re-run never sends a step twice. The records journeys are about (appointments,
dispensings, medication schedules) live here too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from carereach.security.fields import EncryptedTextField


class JourneyKind(models.TextChoices):
    APPOINTMENT = "appointment"  # reminders before an appointment, answered with C or R
    REFILL = "refill"  # reminders before a refill is due; stop when the next fill arrives
    MEDICATION = "medication"  # a reminder every day at the patient's chosen local time


class StepAction(models.TextChoices):
    SEND = "send"  # send the step's content on the first usable channel of its cascade
    STOP = "stop"  # end the enrolment here


class StepCondition(models.TextChoices):
    ALWAYS = "always"  # the step always runs
    NO_REPLY = "no_reply"  # runs only when the person has not answered yet (a reply timeout)
    REPLIED = "replied"  # runs only when the person answered (e.g. a thank-you, then stop)


class Journey(models.Model):
    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=JourneyKind.choices)
    program = models.ForeignKey("consent.Program", on_delete=models.PROTECT, related_name="+")
    channels = models.JSONField(default=list)  # the cascade, e.g. ["sms", "email"]
    local_time = models.TimeField(null=True, blank=True)  # refill anchors: due date at this time
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=JourneyKind.values), name="journey_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name


class JourneyStep(models.Model):
    """One step; `offset_minutes` is relative to the enrolment's anchor (negative: before)."""

    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=8, choices=StepAction.choices, default=StepAction.SEND)
    condition = models.CharField(
        max_length=10, choices=StepCondition.choices, default=StepCondition.ALWAYS
    )
    offset_minutes = models.IntegerField()
    content_version = models.ForeignKey(
        "content.ContentVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Channels in order; empty: the journey's cascade (a no-reply step: the cascade after its
    # first channel, i.e. the fallback).
    channels = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["journey_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["journey", "position"], name="journey_step_position")
        ]

    def __str__(self) -> str:
        return f"step {self.position} of journey {self.journey_id}"


class EnrolmentState(models.TextChoices):
    ACTIVE = "active"  # steps still to run; `due_at` says when the next one is
    DONE = "done"  # every step ran
    STOPPED = "stopped"  # ended early: a stop step, an answer, an opt-out (`stop_reason`)
    CANCELLED = "cancelled"  # its record was cancelled, moved or replaced (`stop_reason`)


class SubjectKind(models.TextChoices):
    APPOINTMENT = "appointment"
    DISPENSE = "dispense"
    MEDICATION = "medication"  # a MedicationSchedule


class Enrolment(models.Model):
    journey = models.ForeignKey(Journey, on_delete=models.PROTECT, related_name="enrolments")
    contact = models.ForeignKey("audience.Contact", on_delete=models.PROTECT, related_name="+")
    subject_kind = models.CharField(max_length=12, choices=SubjectKind.choices)
    subject_id = models.PositiveBigIntegerField()
    anchor_at = models.DateTimeField()
    occurrence = models.PositiveIntegerField(default=0)  # repeating journeys: day number
    state = models.CharField(
        max_length=10, choices=EnrolmentState.choices, default=EnrolmentState.ACTIVE
    )
    done_steps = models.JSONField(default=list, blank=True)  # ids of steps run this occurrence
    due_at = models.DateTimeField(null=True, blank=True)  # when the next step is due
    reply = models.CharField(max_length=12, blank=True)  # confirmed | reschedule
    replied_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["due_at"], name="enrolment_due", condition=Q(state="active")),
            models.Index(fields=["subject_kind", "subject_id"], name="enrolment_subject"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "subject_kind", "subject_id"],
                condition=Q(state="active"),
                name="enrolment_one_active_per_record",
            )
        ]

    def __str__(self) -> str:
        return f"enrolment {self.pk} in journey {self.journey_id}"

    @property
    def trigger_key(self) -> str:
        return f"journey:{self.pk}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked"  # reminders run
    CONFIRMED = "confirmed"  # the patient confirmed (C); reminders still run
    CANCELLED = "cancelled"  # no reminders; waiting ones are cancelled
    RESCHEDULED = "rescheduled"  # moved to a new time; reminders follow the new time
    NO_SHOW = "noshow", "No-show"  # the patient did not come


class AppointmentResponse(models.TextChoices):
    NONE = "", "No answer"  # no answer yet
    CONFIRMED = "confirmed", "Confirmed"  # replied C (or "sí", "confirmo", ...)
    RESCHEDULE = "reschedule", "Asked to reschedule"  # replied R ("reprogramar", ...): call them


class Appointment(models.Model):
    patient = models.ForeignKey("audience.Contact", on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=120)  # the source system's id
    provider_name = models.CharField(max_length=160)
    provider_phone = models.CharField(max_length=40)
    location = EncryptedTextField(blank=True, default="")  # may reveal a specialty: PHI
    start_at = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    response = models.CharField(
        max_length=12, choices=AppointmentResponse.choices, blank=True, default=""
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-start_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="appointment_external_id"),
            models.CheckConstraint(
                condition=Q(status__in=AppointmentStatus.values), name="appointment_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["start_at"]), models.Index(fields=["patient", "start_at"])]

    def __str__(self) -> str:
        return f"appointment {self.pk}"


class Dispense(models.Model):
    """One fill handed to a patient; the refill is due when its supply runs out.

    Read by the `insights` app for adherence (PDC): drug code, patient, handed-over date, days'
    supply and quantity. The drug's name is clinical detail (PHI) and stored encrypted.
    """

    patient = models.ForeignKey("audience.Contact", on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(max_length=120)
    drug_code = models.CharField(max_length=40)  # NDC or RxNorm code, plain for grouping
    drug_system = models.CharField(max_length=120, blank=True)  # the code's system URI
    drug_name = EncryptedTextField(blank=True, default="")
    handed_over = models.DateField()
    days_supply = models.PositiveIntegerField()
    quantity = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    refill_due = models.DateField()  # handed_over + days_supply
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-handed_over", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="dispense_external_id"),
            models.CheckConstraint(condition=Q(days_supply__gt=0), name="dispense_days_positive"),
        ]
        indexes = [models.Index(fields=["patient", "drug_code", "handed_over"])]

    def __str__(self) -> str:
        return f"dispense {self.pk}"


class MedicationSchedule(models.Model):
    """A patient's daily medication reminder at a local time they chose."""

    patient = models.ForeignKey("audience.Contact", on_delete=models.PROTECT, related_name="+")
    drug_name = EncryptedTextField(blank=True, default="")
    local_time = models.TimeField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"medication schedule {self.pk}"
