"""Writes of analytics: recording a conversion and crediting it to a message."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.analytics.experiments import arms_layout
from carereach.analytics.models import Conversion, ConversionKind, Experiment
from carereach.audience.segments.compiler import validate_segment
from carereach.audience.segments.fields import default_contact_schema
from carereach.audience.selectors import contact_get_for_user
from carereach.errors import ConflictError, ValidationError
from carereach.messaging.models import EventKind
from carereach.messaging.selectors import last_sent_message
from carereach.messaging.services.outbox import message_event_record
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction

MAX_WINDOW_DAYS = 90
# A conversion may be reported a little ahead of our clock (the other system's clock drifts).
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class ConversionInput:
    contact_id: int
    kind: str
    occurred_at: datetime
    value: Decimal | None = None
    reference: str = ""
    window_days: int | None = None  # None: settings.ATTRIBUTION_WINDOW_DAYS


def _check(data: ConversionInput, now: datetime) -> int:
    if data.kind not in ConversionKind.values:
        raise ValidationError(
            f"Unknown conversion kind {data.kind!r}; "
            f"use one of {', '.join(ConversionKind.values)}.",
            field="kind",
        )
    if timezone.is_naive(data.occurred_at):
        raise ValidationError("Give occurred_at with a time zone offset.", field="occurred_at")
    if data.occurred_at > now + CLOCK_SKEW:
        raise ValidationError("occurred_at is in the future.", field="occurred_at")
    if data.value is not None and data.value < 0:
        raise ValidationError("value cannot be negative.", field="value")
    if len(data.reference) > 120:
        raise ValidationError("reference is longer than 120 characters.", field="reference")
    window = settings.ATTRIBUTION_WINDOW_DAYS if data.window_days is None else data.window_days
    if not 1 <= window <= MAX_WINDOW_DAYS:
        raise ValidationError(
            f"window_days must be between 1 and {MAX_WINDOW_DAYS}.", field="window_days"
        )
    return window


def conversion_record(
    *, actor: User, data: ConversionInput, now: datetime | None = None
) -> Conversion:
    """Record a conversion of a contact the actor may see, credited to the last message sent to
    that contact in the `window_days` before it (and marked on that message by a `converted`
    event). A `reference` already recorded is refused (the caller retried)."""
    now = now or timezone.now()
    window = _check(data, now)
    contact = contact_get_for_user(user=actor, contact_id=data.contact_id)
    with transaction.atomic():
        if data.reference and Conversion.objects.filter(reference=data.reference).exists():
            raise ConflictError(
                f"Conversion {data.reference!r} is already recorded.", field="reference"
            )
        message = last_sent_message(
            contact_id=contact.pk,
            since=data.occurred_at - timedelta(days=window),
            until=data.occurred_at,
        )
        conversion = Conversion.objects.create(
            contact=contact,
            kind=data.kind,
            occurred_at=data.occurred_at,
            value=data.value,
            reference=data.reference,
            message=message,
            window_days=window,
            recorded_by=actor,
            recorded_at=now,
        )
        if message is not None:
            message_event_record(
                message=message,
                kind=EventKind.CONVERTED,
                at=data.occurred_at,
                conversion=str(conversion.pk),
                kind_of_conversion=data.kind,
            )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type="conversion",
            object_id=conversion.pk,
            changes=["contact", "kind", "occurred_at", "value", "reference", "message"],
        )
    return conversion


@dataclass(frozen=True)
class ArmInput:
    code: str
    weight: int = 1
    note: str = ""  # what the arm's campaign does differently ("text at 9am", "episode v2")


@dataclass(frozen=True)
class ExperimentInput:
    code: str
    name: str
    query: str
    holdout_percent: int
    arms: tuple[ArmInput, ...]
    conversion_kind: str
    starts_at: datetime
    ends_at: datetime


_ARM_CODE = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*", re.ASCII)


def _check_experiment(data: ExperimentInput) -> None:
    if not _ARM_CODE.fullmatch(data.code) or len(data.code) > 60:
        raise ValidationError("code: use lower-case letters, digits and hyphens.", field="code")
    if not data.name.strip():
        raise ValidationError("name: give the experiment a name.", field="name")
    validate_segment(data.query, schema=default_contact_schema())  # SegmentSyntaxError: query
    for arm in data.arms:
        if not _ARM_CODE.fullmatch(arm.code):
            raise ValidationError(f"arms: bad arm code {arm.code!r}.", field="arms")
    try:
        arms_layout(data.holdout_percent, [(arm.code, arm.weight) for arm in data.arms])
    except ValueError as error:
        field = "holdout_percent" if "hold-out" in str(error) else "arms"
        raise ValidationError(f"{field}: {error}.", field=field) from None
    if data.conversion_kind not in ConversionKind.values:
        raise ValidationError(
            f"conversion_kind: use one of {', '.join(ConversionKind.values)}.",
            field="conversion_kind",
        )
    if timezone.is_naive(data.starts_at) or timezone.is_naive(data.ends_at):
        raise ValidationError("starts_at: give times with an offset.", field="starts_at")
    if data.ends_at <= data.starts_at:
        raise ValidationError("ends_at: the end must come after the start.", field="ends_at")


def experiment_create(
    *, actor: User, data: ExperimentInput, now: datetime | None = None
) -> Experiment:
    """Define an experiment: its audience, hold-out share, variant arms and the conversion it
    measures. The campaigns that send each arm name it with ``variant("<code>", "<arm>")``."""
    _check_experiment(data)
    with transaction.atomic():
        if Experiment.objects.filter(code=data.code).exists():
            raise ConflictError(f"An experiment {data.code!r} exists already.", field="code")
        experiment = Experiment.objects.create(
            code=data.code,
            name=data.name.strip(),
            query=data.query,
            holdout_percent=data.holdout_percent,
            arms=[{"code": a.code, "weight": a.weight, "note": a.note} for a in data.arms],
            conversion_kind=data.conversion_kind,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            created_by=actor,
            created_at=now or timezone.now(),
        )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type="experiment",
            object_id=experiment.pk,
            changes=[f.name for f in fields(ExperimentInput)],
        )
    return experiment
