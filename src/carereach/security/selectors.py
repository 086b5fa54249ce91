"""Reads of the security app: a user's keys, the audit log with filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from carereach.security.models import ApiKey, AuditEntry


def apikeys_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user_id=user.pk or 0).order_by("-created_at")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: date | None = None
    until: date | None = None


def audit_entries(*, filters: AuditFilter) -> QuerySet[AuditEntry]:
    """Newest first; dates are whole days in UTC, `until` inclusive."""
    entries = AuditEntry.objects.order_by("-id")
    if filters.actor:
        entries = entries.filter(actor_label=filters.actor)
    if filters.action:
        entries = entries.filter(action=filters.action)
    if filters.object_type:
        entries = entries.filter(object_type=filters.object_type)
    if filters.object_id:
        entries = entries.filter(object_id=filters.object_id)
    if filters.since:
        entries = entries.filter(at__gte=_day_start(filters.since))
    if filters.until:
        entries = entries.filter(at__lt=_day_start(filters.until + timedelta(days=1)))
    return entries


def audit_object_types() -> list[str]:
    return list(
        AuditEntry.objects.order_by("object_type").values_list("object_type", flat=True).distinct()
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
