"""Pausing, resuming and cancelling what one trigger still has waiting in the outbox.

A trigger's messages share a key prefix, `<trigger key>:` (see `fanout.Trigger.message_key`), so
they are found through the unique key's index (on PostgreSQL its `LIKE 'prefix%'` companion).
Work goes in keyset chunks, each in its own transaction with the rows locked, so a worker
claiming a row at the same moment either wins (the row is `sending` and stays out of this) or
waits and finds it paused. Nothing here ever sends: resuming only puts `paused` rows back to
`queued` or `held`, so what went out once never goes again.

- pause: `queued`/`held` → `paused` (dispatch never claims paused rows);
- resume: `paused` → `queued`, or `held` until quiet hours end in the recipient's zone (the
  original due time still holds when it is later); `expired` when that is past the expiry;
  `cancelled` when the content version was retired meanwhile;
- cancel: `queued`/`held`/`paused` → `cancelled`.

Each change appends its reason and an event (pause and resume use the `held`, `queued` events
with the reason `trigger_paused` / `trigger_resumed` in their detail).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count, QuerySet

from carereach.audience.selectors import reach_for_contacts
from carereach.content.eligibility import Reason as ContentReason
from carereach.content.eligibility import version_availability
from carereach.content.hooks import RetiredVersion
from carereach.content.selectors import version_get
from carereach.errors import NotFoundError
from carereach.messaging import wake
from carereach.messaging.models import (
    WAITING,
    EventKind,
    Message,
    MessageEvent,
    MessageStatus,
)
from carereach.messaging.policy.quiet_hours import next_allowed
from carereach.messaging.services.outbox import Reason, event_new

CHUNK = 1000
PAUSED_REASON = "trigger_paused"
RESUMED_REASON = "trigger_resumed"
QUIET_CHANNELS = ("sms", "voice")  # e-mail and letters wait in an inbox, not a pocket


def trigger_messages(*, trigger_key: str) -> QuerySet[Message]:
    """Every outbox row of one trigger (all steps, contacts and channels)."""
    return Message.objects.filter(key__startswith=f"{trigger_key}:")


def trigger_status_counts(*, trigger_key: str) -> dict[str, int]:
    """How many of the trigger's messages stand in each status, in one grouped query."""
    rows = (
        trigger_messages(trigger_key=trigger_key)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {str(status): int(n) for status, n in rows}


def trigger_unfinished(*, trigger_key: str) -> bool:
    """True while any message of the trigger may still go (waiting, paused or being sent)."""
    return (
        trigger_messages(trigger_key=trigger_key)
        .filter(status__in=[*WAITING, MessageStatus.PAUSED, MessageStatus.SENDING])
        .exists()
    )


def _chunks(rows: QuerySet[Message]) -> Iterator[list[Message]]:
    """Locked chunks of `rows`, ascending by id; each chunk lives in its caller's transaction."""
    last = 0
    while True:
        with transaction.atomic():
            page = rows.filter(pk__gt=last).order_by("pk")
            if connection.vendor == "postgresql":
                page = page.select_for_update(of=("self",))
            chunk = list(page[:CHUNK])
            if not chunk:
                return
            yield chunk
        last = chunk[-1].pk


def trigger_pause(*, trigger_key: str, at: datetime, reason: Reason) -> int:
    """Hold every waiting message of the trigger; returns how many were paused."""
    paused = 0
    rows = trigger_messages(trigger_key=trigger_key).filter(status__in=WAITING)
    for chunk in _chunks(rows):
        for message in chunk:
            message.status = MessageStatus.PAUSED
            message.reasons = [*message.reasons, reason.as_dict()]
        Message.objects.bulk_update(chunk, ["status", "reasons"])
        MessageEvent.objects.bulk_create(
            [event_new(m, EventKind.HELD, at, reason=PAUSED_REASON) for m in chunk]
        )
        paused += len(chunk)
    return paused


@dataclass
class ResumeReport:
    queued: int = 0
    held: int = 0
    expired: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.queued + self.held + self.expired + self.cancelled


def _retired_versions(chunk: list[Message], at: datetime) -> dict[int, str]:
    """Content versions of the chunk that may no longer go out, with the word for why."""
    retired: dict[int, str] = {}
    for version_id in {m.content_version_id for m in chunk if m.content_version_id}:
        try:
            version = version_get(version_id=version_id)
        except NotFoundError:
            retired[version_id] = "removed"
            continue
        availability = version_availability(version, at)
        if availability in (ContentReason.CONTENT_WITHDRAWN, ContentReason.CONTENT_EXPIRED):
            retired[version_id] = "withdrawn" if version.status == "withdrawn" else "expired"
        elif availability == ContentReason.CONTENT_UNAPPROVED:
            retired[version_id] = "unapproved"
    return retired


def _resume_due(message: Message, at: datetime, zone: str, state: str) -> datetime:
    due = max(message.due_at, at)
    if message.channel in QUIET_CHANNELS:
        due = next_allowed(due, time_zone=zone, state=state)
    return due


def trigger_resume(*, trigger_key: str, at: datetime) -> ResumeReport:
    """Put the trigger's paused messages back in line; nothing already sent is touched.

    Quiet hours are weighed again in each recipient's zone (a pause may have run into the
    night), the original due time still holds when it is later, and a message whose window
    now opens only after its expiry expires instead of going late.
    """
    report = ResumeReport()
    rows = trigger_messages(trigger_key=trigger_key).filter(status=MessageStatus.PAUSED)
    for chunk in _chunks(rows):
        retired = _retired_versions(chunk, at)
        facts: dict[tuple[str, int], tuple[str, str]] = {}
        for channel in {m.channel for m in chunk}:
            ids = [m.contact_id for m in chunk if m.channel == channel and m.contact_id]
            for pk, reach in reach_for_contacts(contact_ids=ids, channel=channel).items():
                facts[(channel, pk)] = (reach.time_zone, reach.state)
        events: list[MessageEvent] = []
        for message in chunk:
            if message.content_version_id in retired:
                word = retired[message.content_version_id or 0]
                why = Reason("content_retired", f"The content version was {word} while paused.")
                message.status = MessageStatus.CANCELLED
                message.done_at = at
                message.reasons = [*message.reasons, why.as_dict()]
                events.append(event_new(message, EventKind.CANCELLED, at, reason=why.code))
                report.cancelled += 1
                continue
            zone, state = facts.get((message.channel, message.contact_id or 0), ("", ""))
            due = _resume_due(message, at, zone, state)
            if message.expires_at is not None and due >= message.expires_at:
                why = Reason("expired", "Paused until past its expiry; never sent late.")
                message.status = MessageStatus.EXPIRED
                message.done_at = at
                message.reasons = [*message.reasons, why.as_dict()]
                events.append(event_new(message, EventKind.EXPIRED, at, reason=why.code))
                report.expired += 1
                continue
            message.due_at = due
            if due > at:
                message.status = MessageStatus.HELD
                events.append(event_new(message, EventKind.HELD, at, reason=RESUMED_REASON))
                report.held += 1
            else:
                message.status = MessageStatus.QUEUED
                events.append(event_new(message, EventKind.QUEUED, at, reason=RESUMED_REASON))
                report.queued += 1
        Message.objects.bulk_update(chunk, ["status", "due_at", "done_at", "reasons"])
        MessageEvent.objects.bulk_create(events)
    if report.queued:
        transaction.on_commit(wake.nudge)
    return report


def trigger_cancel(*, trigger_key: str, at: datetime, reason: Reason) -> int:
    """Cancel everything of the trigger that has not gone yet (waiting or paused)."""
    rows = trigger_messages(trigger_key=trigger_key).filter(
        status__in=[*WAITING, MessageStatus.PAUSED]
    )
    return _cancel(rows, at, reason)


def _cancel(rows: QuerySet[Message], at: datetime, reason: Reason) -> int:
    cancelled = 0
    for chunk in _chunks(rows):
        for message in chunk:
            message.status = MessageStatus.CANCELLED
            message.done_at = at
            message.reasons = [*message.reasons, reason.as_dict()]
        Message.objects.bulk_update(chunk, ["status", "done_at", "reasons"])
        MessageEvent.objects.bulk_create(
            [event_new(m, EventKind.CANCELLED, at, reason=reason.code) for m in chunk]
        )
        cancelled += len(chunk)
    return cancelled


def messages_cancel_paused_for_version(event: RetiredVersion) -> int:
    """Content withdrawn or expired: paused messages of that version are cancelled too (the
    outbox's own hook cancels the queued and held ones). Runs in the retirement's transaction."""
    why = Reason(
        "content_retired",
        f"The content version was {event.status} before it was sent"
        + (f": {event.reason}" if event.reason else "."),
    )
    rows = Message.objects.filter(content_version_id=event.version_id, status=MessageStatus.PAUSED)
    return _cancel(rows, event.at, why)
