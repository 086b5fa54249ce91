"""Reads of the sandbox carrier's record, for the phone simulator."""

from __future__ import annotations

from django.db.models import QuerySet

from carereach.channels.models import Direction, SandboxMessage
from carereach.vocabulary import Channel


def sandbox_numbers(*, limit: int = 50) -> list[str]:
    """Phones and mailboxes the sandbox has reached or heard from, most recent first."""
    seen: dict[str, None] = {}
    rows = SandboxMessage.objects.filter(channel__in=[Channel.SMS, Channel.EMAIL]).order_by(
        "-created_at", "-id"
    )
    for direction, to, sender in rows.values_list("direction", "to", "sender")[: limit * 20]:
        seen.setdefault(to if direction == Direction.OUT else sender, None)
        if len(seen) >= limit:
            break
    return list(seen)


def sandbox_thread(*, number: str, limit: int = 200) -> QuerySet[SandboxMessage]:
    """The conversation with one phone (or the mails to one mailbox), oldest first (the last
    `limit` messages)."""
    channel = Channel.EMAIL if "@" in number else Channel.SMS
    recent = (
        SandboxMessage.objects.filter(channel=channel, to=number)
        | SandboxMessage.objects.filter(channel=channel, sender=number)
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


def sandbox_delivered_to(*, number: str, limit: int = 50) -> list[SandboxMessage]:
    """What the sandbox sent to this number, newest first."""
    rows = SandboxMessage.objects.filter(direction=Direction.OUT, to=number)
    return list(rows.order_by("-created_at", "-id")[:limit])
