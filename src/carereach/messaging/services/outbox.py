"""Writing to the outbox: one row per message ever meant, keyed so nothing is created twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from carereach.consent.notices import Notice
from carereach.consent.selectors import program_by_id
from carereach.content.encoding import analyze
from carereach.content.hooks import RetiredVersion
from carereach.messaging import wake
from carereach.messaging.models import (
    WAITING,
    EventKind,
    Lane,
    Message,
    MessageEvent,
    MessageStatus,
)
from carereach.vocabulary import Channel


@dataclass(frozen=True)
class Reason:
    code: str  # stable, for grouping and reports: "consent_notice", "no_consent", ...
    text: str  # for a person reading "why did she get this / why not?"

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}


def segments_of(channel: str, body: str) -> int:
    """What a carrier bills and throttles: SMS segments by the text's encoding; 1 otherwise."""
    return analyze(body).segments if channel == Channel.SMS else 1


def event_new(message: Message, kind: str, at: datetime, **detail: str) -> MessageEvent:
    return MessageEvent(message=message, kind=kind, at=at, detail=detail)


def message_event_record(*, message: Message, kind: EventKind, at: datetime, **detail: str) -> None:
    """Append one fact about a message (apps above messaging: a conversion credited to it)."""
    MessageEvent.objects.create(message=message, kind=kind, at=at, detail=detail)


def message_enqueue(
    *,
    key: str,
    origin: str,
    channel: str,
    address: str,
    body: str,
    reasons: list[Reason],
    contact_id: int | None,
    program_id: int | None = None,
    content_version_id: int | None = None,
    origin_ref: str = "",
    lane: int = Lane.BULK,
    sender: str = "",
    subject: str = "",
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    held: bool = False,
    reply_to: str = "",
) -> Message | None:
    """Queue one message; returns None when a message with this key already exists.

    Runs inside the caller's transaction (a savepoint isolates the duplicate-key case), and asks
    the local worker to look at the outbox once that transaction commits.
    """
    now = timezone.now()
    if Message.objects.filter(key=key).exists():
        return None
    status = MessageStatus.HELD if held else MessageStatus.QUEUED
    try:
        with transaction.atomic():
            message = Message.objects.create(
                key=key,
                origin=origin,
                origin_ref=origin_ref,
                lane=lane,
                contact_id=contact_id,
                program_id=program_id,
                content_version_id=content_version_id,
                channel=channel,
                address=address,
                sender=sender,
                subject=subject,
                body=body,
                status=status,
                reasons=[reason.as_dict() for reason in reasons],
                due_at=due_at or now,
                expires_at=expires_at,
                segments=segments_of(channel, body),
                created_at=now,
            )
            kind = EventKind.HELD if held else EventKind.QUEUED
            event_new(message, kind, now).save()
    except IntegrityError:  # the same key, written by another process a moment ago
        return None
    transaction.on_commit(wake.nudge)
    return message


NOTICE_REASONS = {
    "opt_out_confirmation": "the one confirmation owed after an opt-out",
    "opt_in_confirmation": "confirms a subscription the person just gave",
    "double_opt_in_request": "asks the person to confirm a sign-up they just made",
    "capture_receipt": "receipt of the consent the person just gave in person",
    "help": "answers the person's HELP request",
}


def _notice_sender(notice: Notice) -> str:
    if notice.sender:
        return notice.sender
    program = program_by_id(notice.program_id) if notice.program_id else None
    if notice.channel == Channel.EMAIL:
        choices = list(program.sender_emails) if program else []
        return choices[0] if choices else settings.DEFAULT_EMAIL_SENDER
    choices = list(program.sender_numbers) if program else []
    return choices[0] if choices else settings.DEFAULT_SMS_SENDER


def notice_enqueue(notice: Notice) -> None:
    """Consent's notices go out at once, ahead of everything, without a consent check: each
    answers something the person just did (a STOP, a sign-up, HELP), which is what the rules
    allow; they never carry marketing."""
    why = NOTICE_REASONS.get(notice.kind, notice.kind.replace("_", " "))
    message_enqueue(
        key=f"notice:{notice.key}",
        origin="notice",
        origin_ref=notice.kind,
        lane=Lane.CONSENT,
        contact_id=notice.contact_id or None,
        program_id=notice.program_id,
        channel=notice.channel,
        address=notice.address,
        sender=_notice_sender(notice),
        subject=notice.subject,
        body=notice.body,
        reasons=[Reason("consent_notice", f"Sent without a consent check: {why}.")],
        reply_to=notice.reply_to_id,
    )


def messages_cancel_for_version(event: RetiredVersion) -> int:
    """Content withdrawn or expired: every message of that version still waiting is cancelled,
    in the same transaction as the retirement (content calls this through its hook)."""
    waiting = list(Message.objects.filter(content_version_id=event.version_id, status__in=WAITING))
    if not waiting:
        return 0
    why = Reason(
        "content_retired",
        f"The content version was {event.status} before it was sent"
        + (f": {event.reason}" if event.reason else "."),
    )
    for message in waiting:
        message.status = MessageStatus.CANCELLED
        message.done_at = event.at
        message.reasons = [*message.reasons, why.as_dict()]
    Message.objects.bulk_update(waiting, ["status", "done_at", "reasons"], batch_size=1000)
    MessageEvent.objects.bulk_create(
        [event_new(m, EventKind.CANCELLED, event.at, reason=why.code) for m in waiting],
        batch_size=1000,
    )
    return len(waiting)
