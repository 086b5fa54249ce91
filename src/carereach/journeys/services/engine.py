"""Running journeys: open an enrolment, advance due ones, stop or cancel them.

`enrolments_advance_due` is the scheduler's pass: it claims a batch of due enrolments in one
query (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so a second scheduler or a manual tick never
takes the same rows) and runs each one's due steps. A send step goes through
`messaging.services.fanout` with the trigger `journey:<enrolment>` and the step's id as its
step, so its outbox key is `journey:<enrolment>:<step>:<contact>:<channel or any>`: the key and
the enrolment's progress commit together, and a re-run finds the key and sends nothing.

Steps are read at run time, so an edit to a step not yet run (offset, content, channels)
applies to it; a step that ran is in `done_steps` and never runs again for that enrolment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.audience.selectors import reach_for_contacts
from carereach.consent.selectors import opt_outs_since
from carereach.journeys.models import (
    Enrolment,
    EnrolmentState,
    Journey,
    JourneyKind,
    JourneyStep,
    MedicationSchedule,
    StepAction,
    StepCondition,
    SubjectKind,
)
from carereach.journeys.rendering import (
    SUBJECT_MODELS,
    Failures,
    Subject,
    content_problem,
    step_renderer,
    zone_of,
)
from carereach.messaging.models import (
    WAITING,
    EventKind,
    Lane,
    Message,
    MessageEvent,
    MessageStatus,
)
from carereach.messaging.services.fanout import Rendered, Renderer, Trigger, fanout
from carereach.messaging.services.outbox import Reason
from carereach.messaging.services.triggers import trigger_cancel

logger = logging.getLogger(__name__)

BATCH = 100  # enrolments claimed per transaction
STALE_AFTER = timedelta(hours=12)  # a reminder not sent by then is not sent (except appointments)
RETRY_AFTER = timedelta(minutes=5)  # an enrolment whose step failed unexpectedly tries again
# Skips that end the journey: nobody may be reached for it any more.
ENDING_SKIPS = {
    "consent_revoked": "The person opted out.",
    "contact_inactive": "The contact is no longer active.",
}


@dataclass
class BatchFacts:
    """What a batch of enrolments needs from other tables, read once per batch (set-based):
    their records, their opt-outs since enrolment, their addresses per channel."""

    subjects: dict[tuple[str, int], Subject] = field(default_factory=dict)
    opt_outs: dict[tuple[int, int], datetime] = field(default_factory=dict)
    addresses: dict[str, dict[int, str]] = field(default_factory=dict)  # channel -> contact -> ""


def batch_facts(enrolments: list[Enrolment]) -> BatchFacts:
    facts = BatchFacts()
    if not enrolments:
        return facts
    by_kind: dict[str, list[int]] = {}
    for enrolment in enrolments:
        by_kind.setdefault(enrolment.subject_kind, []).append(enrolment.subject_id)
    for kind, ids in by_kind.items():
        for pk, subject in SUBJECT_MODELS[SubjectKind(kind)].objects.in_bulk(ids).items():
            facts.subjects[(kind, pk)] = subject
    contact_ids = sorted({e.contact_id for e in enrolments})
    facts.opt_outs = opt_outs_since(
        contact_ids=contact_ids,
        program_ids=sorted({e.journey.program_id for e in enrolments}),
        since=min(e.created_at for e in enrolments),
    )
    channels = {
        c for e in enrolments for s in e.journey.steps.all() for c in step_channels(e.journey, s)
    }
    for channel in sorted(channels):
        reach = reach_for_contacts(contact_ids=contact_ids, channel=channel)
        facts.addresses[channel] = {pk: one.address for pk, one in reach.items()}
    return facts


def steps_of(journey: Journey) -> list[JourneyStep]:
    """Steps in time order (offset, then position)."""
    return sorted(journey.steps.all(), key=lambda s: (s.offset_minutes, s.position))


def step_due(enrolment: Enrolment, step: JourneyStep) -> datetime:
    return enrolment.anchor_at + timedelta(minutes=step.offset_minutes)


def step_channels(journey: Journey, step: JourneyStep) -> list[str]:
    if step.channels:
        return list(step.channels)
    cascade = list(journey.channels)
    if step.condition == StepCondition.NO_REPLY and len(cascade) > 1:
        return cascade[1:]  # the fallback: the next channel(s) of the cascade
    return cascade


def next_due(enrolment: Enrolment, steps: Iterable[JourneyStep]) -> datetime | None:
    pending = [step_due(enrolment, s) for s in steps if s.pk not in set(enrolment.done_steps)]
    return min(pending) if pending else None


def enrolment_open(
    *,
    journey: Journey,
    contact: Contact,
    subject_kind: str,
    subject_id: int,
    anchor_at: datetime,
    now: datetime | None = None,
) -> Enrolment:
    """Enrol one person for one record. Steps whose time has already passed are left out (a
    72-hour reminder for an appointment booked tomorrow is not sent late)."""
    at = now or timezone.now()
    enrolment = Enrolment(
        journey=journey,
        contact=contact,
        subject_kind=subject_kind,
        subject_id=subject_id,
        anchor_at=anchor_at,
        created_at=at,
        updated_at=at,
    )
    steps = steps_of(journey)
    enrolment.done_steps = [s.pk for s in steps if step_due(enrolment, s) <= at]
    enrolment.due_at = next_due(enrolment, steps)
    if enrolment.due_at is None:
        enrolment.state = EnrolmentState.DONE
        enrolment.stop_reason = "Every step's time had already passed."
    enrolment.save()
    return enrolment


def _finish(enrolment: Enrolment, state: str, reason: str, at: datetime) -> None:
    enrolment.state = state
    enrolment.stop_reason = reason[:200]
    enrolment.due_at = None
    enrolment.updated_at = at
    enrolment.save(update_fields=["state", "stop_reason", "due_at", "updated_at"])
    trigger_cancel(trigger_key=enrolment.trigger_key, at=at, reason=Reason("journey_ended", reason))


def enrolment_stop(*, enrolment: Enrolment, reason: str, at: datetime | None = None) -> None:
    """End the enrolment early; whatever of it still waits in the outbox is cancelled."""
    _finish(enrolment, EnrolmentState.STOPPED, reason, at or timezone.now())


def enrolments_cancel(
    *, subject_kind: str, subject_id: int, reason: str, at: datetime | None = None
) -> int:
    """The record was cancelled, moved or replaced: its active enrolments end and their waiting
    messages are cancelled. Returns how many enrolments ended."""
    when = at or timezone.now()
    rows = Enrolment.objects.filter(
        subject_kind=subject_kind, subject_id=subject_id, state=EnrolmentState.ACTIVE
    )
    if connection.vendor == "postgresql":
        rows = rows.select_for_update(of=("self",))
    ended = list(rows)
    for enrolment in ended:
        _finish(enrolment, EnrolmentState.CANCELLED, reason, when)
    return len(ended)


def _expiry(enrolment: Enrolment, due: datetime) -> datetime:
    if enrolment.journey.kind == JourneyKind.APPOINTMENT and enrolment.anchor_at > due:
        return enrolment.anchor_at  # a reminder for an appointment that has begun is never sent
    return due + STALE_AFTER


def _skip_unrendered(failures: Failures, at: datetime) -> None:
    """Rows the content refused to render become skips with the content's reason, in the same
    transaction as the fan-out (before any worker may claim them)."""
    for key, error in failures.errors.items():
        message = Message.objects.filter(key=key, status__in=WAITING).first()
        if message is None:
            continue
        code = str(getattr(error, "reason", "") or error.code)
        message.status = MessageStatus.SKIPPED
        message.done_at = at
        message.body = ""
        message.subject = ""
        message.segments = 0
        message.reasons = [{"code": code, "text": error.message}]
        message.save(update_fields=["status", "done_at", "body", "subject", "segments", "reasons"])
        MessageEvent.objects.filter(
            message=message, kind__in=[EventKind.QUEUED, EventKind.HELD]
        ).update(kind=EventKind.SKIPPED, detail={"reason": code})


def step_send(
    enrolment: Enrolment, step: JourneyStep, at: datetime, facts: BatchFacts | None = None
) -> Message | None:
    """The step's message through the pipeline (decide, render, outbox); returns its row."""
    facts = facts or batch_facts([enrolment])
    journey = enrolment.journey
    channels = step_channels(journey, step)
    version = step.content_version
    due = step_due(enrolment, step)
    suffix = f".{enrolment.occurrence}" if enrolment.occurrence else ""
    trigger = Trigger(
        key=enrolment.trigger_key,
        origin="journey",
        program=journey.program,
        channel=channels[0],
        step=f"{step.pk}{suffix}",
        lane=Lane.CLINICAL,
        expires_at=_expiry(enrolment, due),
        content_version_id=version.pk if version is not None else None,
        content_problem=content_problem(version, at),
        fallback=tuple(channels[1:]),
    )
    failures = Failures()
    subject = facts.subjects.get((enrolment.subject_kind, enrolment.subject_id))
    renderers: dict[str, Renderer] = {}
    for channel in trigger.channels:
        if version is not None:
            renderers[channel] = step_renderer(
                version=version,
                subject=subject,
                channel=channel,
                address=facts.addresses.get(channel, {}).get(enrolment.contact_id, ""),
                failures=failures,
                at=at,
            )
    if not renderers:  # no content: every candidate is skipped before rendering
        renderers = dict.fromkeys(trigger.channels, _no_render)
    fanout(
        trigger=trigger,
        contacts=Contact.objects.filter(pk=enrolment.contact_id),
        render=renderers[trigger.channel],
        render_by_channel=renderers,
        now=at,
        batch_size=2,
    )
    _skip_unrendered(failures, at)
    return Message.objects.filter(key=trigger.message_key(enrolment.contact_id)).first()


def _no_render(contact: Contact, key: str, language: str) -> Rendered:
    return Rendered(body="")  # never called: a step without content is skipped before


def _runs(step: JourneyStep, enrolment: Enrolment) -> bool:
    if step.condition == StepCondition.NO_REPLY:
        return not enrolment.reply
    if step.condition == StepCondition.REPLIED:
        return bool(enrolment.reply)
    return True


def enrolment_advance(
    enrolment: Enrolment, *, now: datetime, facts: BatchFacts | None = None
) -> None:
    """Run every step of the enrolment that is due at `now`, then set when the next one is."""
    facts = facts or batch_facts([enrolment])
    steps = steps_of(enrolment.journey)
    opted_out = facts.opt_outs.get((enrolment.contact_id, enrolment.journey.program_id))
    if opted_out is not None and opted_out >= enrolment.created_at:
        enrolment_stop(enrolment=enrolment, reason=ENDING_SKIPS["consent_revoked"], at=now)
        return
    done = list(enrolment.done_steps)
    due_steps = [s for s in steps if s.pk not in done and step_due(enrolment, s) <= now]
    for index, step in enumerate(due_steps):
        done.append(step.pk)
        enrolment.done_steps = done
        if not _runs(step, enrolment):
            continue
        if step.action == StepAction.STOP:
            enrolment_stop(enrolment=enrolment, reason="The journey's stop step.", at=now)
            return
        later = [
            s for s in due_steps[index + 1 :] if s.action == StepAction.SEND and _runs(s, enrolment)
        ]
        if later:
            continue  # a later reminder is due too: only the latest goes, never a burst
        message = step_send(enrolment, step, now, facts)
        if message is not None and message.status == MessageStatus.SKIPPED:
            ending = ENDING_SKIPS.get(message.reasons[0]["code"] if message.reasons else "")
            if ending:
                enrolment_stop(enrolment=enrolment, reason=ending, at=now)
                return
    enrolment.done_steps = done
    enrolment.due_at = next_due(enrolment, steps)
    enrolment.updated_at = now
    if enrolment.due_at is None and not _repeat(enrolment, steps, now, facts):
        enrolment.state = EnrolmentState.DONE
    # Only what advancing changes: an answer recorded meanwhile (`reply`) is never overwritten.
    enrolment.save(
        update_fields=["done_steps", "due_at", "updated_at", "state", "anchor_at", "occurrence"]
    )


def next_local(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`at` on `day` in `zone`, as an aware datetime (a time skipped by DST moves forward)."""
    return datetime.combine(day, at, tzinfo=zone)


def medication_anchor(schedule: MedicationSchedule, contact: Contact, now: datetime) -> datetime:
    """The next time the patient's chosen local time comes, from `now` on."""
    zone = zone_of(contact)
    today = now.astimezone(zone).date()
    anchor = next_local(today, schedule.local_time, zone)
    return (
        anchor if anchor > now else next_local(today + timedelta(days=1), schedule.local_time, zone)
    )


def _repeat(
    enrolment: Enrolment, steps: list[JourneyStep], now: datetime, facts: BatchFacts
) -> bool:
    """A daily medication reminder goes on to the next day while its schedule is active."""
    if enrolment.journey.kind != JourneyKind.MEDICATION:
        return False
    schedule = facts.subjects.get((enrolment.subject_kind, enrolment.subject_id))
    if not isinstance(schedule, MedicationSchedule) or not schedule.active:
        return False
    zone = zone_of(enrolment.contact)
    if not steps:
        return False
    # After a long stop of the scheduler, days whose every step has passed are left out.
    while enrolment.due_at is None:
        day = enrolment.anchor_at.astimezone(zone).date() + timedelta(days=1)
        enrolment.anchor_at = next_local(day, schedule.local_time, zone)
        enrolment.occurrence += 1
        enrolment.done_steps = [s.pk for s in steps if step_due(enrolment, s) <= now]
        enrolment.due_at = next_due(enrolment, steps)
    return True


def enrolments_advance_due(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Claim up to `limit` due enrolments and advance each; returns how many were advanced."""
    at = now or timezone.now()
    with transaction.atomic():
        rows = Enrolment.objects.filter(state=EnrolmentState.ACTIVE, due_at__lte=at).order_by(
            "due_at", "pk"
        )
        if connection.vendor == "postgresql":
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        claimed = list(
            rows.select_related("journey", "journey__program", "contact").prefetch_related(
                "journey__steps",
                "journey__steps__content_version__bodies",
                "journey__steps__content_version__item__program",
            )[:limit]
        )
        facts = batch_facts(claimed)
        for enrolment in claimed:
            try:
                with transaction.atomic():
                    enrolment_advance(enrolment, now=at, facts=facts)
            except Exception:  # one enrolment's failure must not stop the others
                logger.exception("enrolment %s could not advance; retried later", enrolment.pk)
                Enrolment.objects.filter(pk=enrolment.pk).update(due_at=at + RETRY_AFTER)
    return len(claimed)
