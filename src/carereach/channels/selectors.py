"""Reads of the sandbox carrier's record, for the phone simulator."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import QuerySet

from carereach.channels.base import keypress_id
from carereach.channels.models import Direction, LetterBatch, LetterItem, SandboxMessage
from carereach.vocabulary import Channel


def sandbox_numbers(*, limit: int = 50) -> list[str]:
    """Phones and mailboxes the sandbox has reached or heard from, most recent first."""
    seen: dict[str, None] = {}
    rows = SandboxMessage.objects.filter(
        channel__in=[Channel.SMS, Channel.VOICE, Channel.EMAIL]
    ).order_by("-created_at", "-id")
    for direction, to, sender in rows.values_list("direction", "to", "sender")[: limit * 20]:
        seen.setdefault(to if direction == Direction.OUT else sender, None)
        if len(seen) >= limit:
            break
    return list(seen)


def sandbox_thread(*, number: str, limit: int = 200) -> QuerySet[SandboxMessage]:
    """The conversation with one phone, texts and calls (or the mails to one mailbox), oldest
    first (the last `limit` messages)."""
    channels = [Channel.EMAIL] if "@" in number else [Channel.SMS, Channel.VOICE]
    recent = (
        SandboxMessage.objects.filter(channel__in=channels, to=number)
        | SandboxMessage.objects.filter(channel__in=channels, sender=number)
    ).order_by("-created_at", "-id")[:limit]
    return SandboxMessage.objects.filter(pk__in=list(recent.values_list("pk", flat=True))).order_by(
        "created_at", "id"
    )


def sandbox_last_sender(*, number: str) -> str:
    """The number that last texted this phone: where a reply from the simulator goes."""
    last = (
        SandboxMessage.objects.filter(channel=Channel.SMS, to=number, direction=Direction.OUT)
        .order_by("-created_at", "-id")
        .values_list("sender", flat=True)
        .first()
    )
    return last or ""


def sandbox_answered_calls(*, number: str) -> set[str]:
    """The sandbox calls to this phone a key was pressed on (the keypad answers once)."""
    presses = SandboxMessage.objects.filter(
        channel=Channel.VOICE, direction=Direction.IN, sender=number
    ).values_list("provider_message_id", flat=True)
    return {press.removesuffix(keypress_id("")) for press in presses}


def sandbox_delivered_to(*, number: str, limit: int = 50) -> list[SandboxMessage]:
    """What the sandbox sent to this number, newest first."""
    rows = SandboxMessage.objects.filter(direction=Direction.OUT, to=number)
    return list(rows.order_by("-created_at", "-id")[:limit])


def letters_unbatched(*, before: datetime) -> list[LetterItem]:
    """Letters collected before `before` and not printed yet, oldest first."""
    return list(
        LetterItem.objects.filter(batch__isnull=True, collected_at__lt=before).order_by(
            "collected_at", "id"
        )
    )


def letter_batches(*, limit: int = 60) -> list[LetterBatch]:
    """The latest batches, newest first, without their files."""
    return list(LetterBatch.objects.defer("pdf", "manifest").order_by("-date")[:limit])


def letter_batch_on(*, day: date) -> LetterBatch | None:
    return LetterBatch.objects.filter(date=day).first()
