"""Writing journeys: create one, or change its steps, channels and content.

An edit applies to steps not yet run and never re-sends what went: every enrolment keeps the
ids of the steps it ran (`done_steps`), kept steps keep their ids, and a step added with a time
that has already passed for an enrolment is marked run for it (it is never sent late). An edit
that would leave a send step without approved, current content is refused, naming the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from carereach.consent.models import Program
from carereach.content.models import ContentVersion
from carereach.errors import NotFoundError, ValidationError
from carereach.journeys.models import (
    Enrolment,
    EnrolmentState,
    Journey,
    JourneyKind,
    JourneyStep,
    StepAction,
    StepCondition,
)
from carereach.journeys.rendering import content_problem
from carereach.journeys.services.engine import next_due, step_due, steps_of
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction

SENDABLE = ("sms", "email", "voice")
CHUNK = 500


@dataclass
class StepInput:
    offset_minutes: int
    action: str = StepAction.SEND
    condition: str = StepCondition.ALWAYS
    content_version_id: int | None = None
    channels: list[str] = field(default_factory=list)
    id: int | None = None  # an existing step of this journey, kept (and what it ran stays run)


@dataclass
class JourneyInput:
    code: str
    name: str
    kind: str
    program: Program
    channels: list[str]
    steps: list[StepInput]
    local_time: time | None = None
    active: bool = True


def _check_channels(channels: list[str], program: Program, where: str) -> None:
    for channel in channels:
        if channel not in SENDABLE:
            raise ValidationError(
                f"{where}: “{channel}” is not a channel we can send on.", field="channels"
            )
        if channel not in (program.channels or []):
            raise ValidationError(
                f"{where}: the program {program.name} does not use {channel}.", field="channels"
            )


def _check_step(
    index: int, step: StepInput, data: JourneyInput, at: datetime
) -> ContentVersion | None:
    where = f"Step {index}"
    if step.action not in StepAction.values:
        raise ValidationError(f"{where}: unknown action “{step.action}”.", field="steps")
    if step.condition not in StepCondition.values:
        raise ValidationError(f"{where}: unknown condition “{step.condition}”.", field="steps")
    _check_channels(step.channels, data.program, where)
    if step.action == StepAction.STOP:
        return None
    if step.content_version_id is None:
        raise ValidationError(
            f"{where} sends a message: choose an approved content version.", field="steps"
        )
    version = (
        ContentVersion.objects.select_related("item").filter(pk=step.content_version_id).first()
    )
    if version is None:
        raise ValidationError(
            f"{where}: content version {step.content_version_id} does not exist.", field="steps"
        )
    problem = content_problem(version, at)
    if problem:
        raise ValidationError(
            f"{where} would have no approved content: “{version.item.title}” {problem} "
            "Choose an approved, current version.",
            field="steps",
        )
    if version.item.program_id not in (None, data.program.pk):
        raise ValidationError(
            f"{where}: “{version.item.title}” belongs to another program.", field="steps"
        )
    channels = step.channels or data.channels
    bodies = {body.channel for body in version.bodies.all()}
    if not bodies & set(channels):
        raise ValidationError(
            f"{where}: “{version.item.title}” {version.label} has no body for "
            f"{' or '.join(channels)}.",
            field="steps",
        )
    return version


def _validate(data: JourneyInput, at: datetime) -> None:
    if not data.name.strip():
        raise ValidationError("Give the journey a name.", field="name")
    if not data.code.strip():
        raise ValidationError("Give the journey a code.", field="code")
    if data.kind not in JourneyKind.values:
        raise ValidationError(f"Unknown journey kind “{data.kind}”.", field="kind")
    if not data.program.active:
        raise ValidationError("The program is not active.", field="program")
    if not data.channels:
        raise ValidationError("Choose at least one channel.", field="channels")
    _check_channels(data.channels, data.program, "The journey")
    if not data.steps:
        raise ValidationError("A journey needs at least one step.", field="steps")
    for index, step in enumerate(data.steps, start=1):
        _check_step(index, step, data, at)


def _apply_steps(journey: Journey, steps: list[StepInput]) -> list[int]:
    """Save the steps in order; returns the ids of steps that are new."""
    existing = {s.pk: s for s in journey.steps.all()}
    keep = {s.id for s in steps if s.id is not None}
    unknown = keep - set(existing)
    if unknown:
        raise ValidationError(
            f"Step {sorted(unknown)[0]} is not a step of this journey.", field="steps"
        )
    JourneyStep.objects.filter(journey=journey).exclude(pk__in=keep).delete()
    # Positions are unique: move the kept steps out of the way first.
    for step in journey.steps.all():
        step.position += 10000
        step.save(update_fields=["position"])
    new: list[int] = []
    for position, data in enumerate(steps, start=1):
        row = existing[data.id] if data.id is not None else JourneyStep(journey=journey)
        row.position = position
        row.action = data.action
        row.condition = data.condition
        row.offset_minutes = data.offset_minutes
        row.content_version_id = data.content_version_id if data.action == StepAction.SEND else None
        row.channels = list(data.channels)
        row.save()
        if data.id is None:
            new.append(row.pk)
    return new


def _reschedule_enrolments(journey: Journey, new_steps: list[int], at: datetime) -> int:
    """Active enrolments: new steps already past are marked run; the next due time follows the
    edited offsets. Returns how many enrolments were looked at."""
    steps = steps_of(journey)
    by_id = {s.pk: s for s in steps}
    last = 0
    seen = 0
    while True:
        rows = Enrolment.objects.filter(
            journey=journey, state=EnrolmentState.ACTIVE, pk__gt=last
        ).order_by("pk")
        if connection.vendor == "postgresql":
            rows = rows.select_for_update()  # wait for a scheduler advancing them; read fresh
        chunk = list(rows[:CHUNK])
        if not chunk:
            return seen
        for enrolment in chunk:
            done = [pk for pk in enrolment.done_steps if pk in by_id]
            done += [
                pk for pk in new_steps if pk not in done and step_due(enrolment, by_id[pk]) <= at
            ]
            enrolment.done_steps = done
            enrolment.due_at = next_due(enrolment, steps)
            if enrolment.due_at is None:
                enrolment.due_at = at  # the scheduler finishes it (or repeats it) next tick
            enrolment.updated_at = at
        Enrolment.objects.bulk_update(chunk, ["done_steps", "due_at", "updated_at"])
        seen += len(chunk)
        last = chunk[-1].pk


def journey_create(*, data: JourneyInput, actor: User | None) -> Journey:
    at = timezone.now()
    _validate(data, at)
    if Journey.objects.filter(code=data.code).exists():
        raise ValidationError(f"A journey with the code “{data.code}” exists.", field="code")
    with transaction.atomic():
        journey = Journey.objects.create(
            code=data.code,
            name=data.name.strip(),
            kind=data.kind,
            program=data.program,
            channels=list(data.channels),
            local_time=data.local_time,
            active=data.active,
            created_at=at,
            updated_at=at,
        )
        _apply_steps(journey, data.steps)
        audit_record(
            actor=actor, action=AuditAction.CREATE, object_type="journey", object_id=journey.pk
        )
    return journey


def journey_update(*, journey: Journey, data: JourneyInput, actor: User | None) -> Journey:
    """Change a journey; applies to steps not yet run, never re-sends a step that ran."""
    at = timezone.now()
    if data.kind != journey.kind:
        raise ValidationError("A journey's kind cannot change; make a new journey.", field="kind")
    _validate(data, at)
    with transaction.atomic():
        locked = Journey.objects.select_for_update().filter(pk=journey.pk).first()
        if locked is None:
            raise NotFoundError("No such journey.")
        locked.name = data.name.strip()
        locked.program = data.program
        locked.channels = list(data.channels)
        locked.local_time = data.local_time
        locked.active = data.active
        locked.updated_at = at
        locked.save()
        new_steps = _apply_steps(locked, data.steps)
        _reschedule_enrolments(locked, new_steps, at)
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type="journey",
            object_id=locked.pk,
            changes=["name", "channels", "local_time", "active", "steps"],
        )
    return locked


def journey_input_of(journey: Journey) -> JourneyInput:
    return JourneyInput(
        code=journey.code,
        name=journey.name,
        kind=journey.kind,
        program=journey.program,
        channels=list(journey.channels),
        local_time=journey.local_time,
        active=journey.active,
        steps=[
            StepInput(
                id=s.pk,
                offset_minutes=s.offset_minutes,
                action=s.action,
                condition=s.condition,
                content_version_id=s.content_version_id,
                channels=list(s.channels),
            )
            for s in journey.steps.all()
        ],
    )
