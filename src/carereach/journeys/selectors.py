"""Reads for journeys: the list with counts, one journey, appointments and their rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from carereach.errors import NotFoundError
from carereach.journeys.models import (
    Appointment,
    AppointmentResponse,
    AppointmentStatus,
    Enrolment,
    EnrolmentState,
    Journey,
    SubjectKind,
)


@dataclass(frozen=True)
class JourneyRow:
    journey: Journey
    steps: int
    active: int
    done: int


def journeys_overview() -> list[JourneyRow]:
    rows = Journey.objects.select_related("program").annotate(
        n_steps=Count("steps", distinct=True),
        n_active=Count(
            "enrolments", filter=Q(enrolments__state=EnrolmentState.ACTIVE), distinct=True
        ),
        n_done=Count("enrolments", filter=Q(enrolments__state=EnrolmentState.DONE), distinct=True),
    )
    return [JourneyRow(j, j.n_steps, j.n_active, j.n_done) for j in rows]


def journey_get(*, journey_id: int) -> Journey:
    found = (
        Journey.objects.select_related("program")
        .prefetch_related("steps__content_version__item")
        .filter(pk=journey_id)
        .first()
    )
    if found is None:
        raise NotFoundError("No such journey.")
    return found


def journey_default(*, kind: str) -> Journey | None:
    """The journey a record of this kind enrols in when none is named: the first active one."""
    return (
        Journey.objects.filter(kind=kind, active=True)
        .select_related("program")
        .order_by("pk")
        .first()
    )


def appointments_for_console(
    *, response: str = "", upcoming: bool = True, now: datetime | None = None, limit: int = 200
) -> QuerySet[Appointment]:
    """Appointments for the coordinators' page: upcoming (soonest first) or past (latest first),
    optionally only those whose patient answered `response` (e.g. asked to reschedule)."""
    at = now or timezone.now()
    rows = Appointment.objects.select_related("patient")
    if response:
        rows = rows.filter(response=response)
    if upcoming:
        return rows.filter(start_at__gt=at).order_by("start_at", "pk")[:limit]
    return rows.filter(start_at__lte=at).order_by("-start_at", "-pk")[:limit]


@dataclass(frozen=True)
class AppointmentRates:
    reminded: int  # appointments enrolled in a reminder journey
    confirmed: int  # of those, confirmed by the patient's reply
    reschedule: int  # of those, the patient asked to reschedule
    past: int  # appointments whose time has passed (not cancelled)
    no_show: int  # of those, marked no-show

    @property
    def confirmation_rate(self) -> float | None:
        return self.confirmed / self.reminded if self.reminded else None

    @property
    def no_show_rate(self) -> float | None:
        return self.no_show / self.past if self.past else None


def appointment_rates(
    *, since: datetime | None = None, now: datetime | None = None
) -> AppointmentRates:
    """Confirmation and no-show rates, from two grouped queries (aggregates only: no PHI)."""
    at = now or timezone.now()
    rows = Appointment.objects.all()
    if since is not None:
        rows = rows.filter(start_at__gte=since)
    reminded_ids = Enrolment.objects.filter(subject_kind=SubjectKind.APPOINTMENT).values(
        "subject_id"
    )
    reminded = rows.filter(pk__in=reminded_ids).aggregate(
        total=Count("id"),
        confirmed=Count("id", filter=Q(response=AppointmentResponse.CONFIRMED)),
        reschedule=Count("id", filter=Q(response=AppointmentResponse.RESCHEDULE)),
    )
    past = (
        rows.filter(start_at__lte=at)
        .exclude(status=AppointmentStatus.CANCELLED)
        .aggregate(
            total=Count("id"), no_show=Count("id", filter=Q(status=AppointmentStatus.NO_SHOW))
        )
    )
    return AppointmentRates(
        reminded=reminded["total"],
        confirmed=reminded["confirmed"],
        reschedule=reminded["reschedule"],
        past=past["total"],
        no_show=past["no_show"],
    )
