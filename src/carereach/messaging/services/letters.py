"""The daily letter batch: every letter the letters provider collected, printed for a mail house.

Dispatch hands each letter to the letters provider (`channels.types.letter`), which collects it
(the message is then `sent`: the provider has it). `letters_batch(day=...)` takes every letter
collected up to the end of that day (UTC) and not printed yet, resolves each recipient's name
and postal address as they stand now, and stores one PDF (one letter from each page, large
print where the contact's accessibility needs say so) and a CSV manifest (message id, name,
address lines, pages, large print): the manifest is the proof of what went to the mail house.
Each message gets a `letter_batched` reason naming its batch and page.

A letter whose postal address was deleted since is not printed: its message fails with
`address_gone`. A batch is made once per day: asking again returns the stored one, and
letters collected later wait for the next day's.

`letters_batch_due` is the scheduler's task: yesterday's batch, once.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from carereach.audience.selectors import POSTAL_PREFIX, postal_recipients
from carereach.channels.base import DeliveryStatus
from carereach.channels.models import LetterBatch
from carereach.channels.selectors import letter_batch_on, letters_unbatched
from carereach.channels.services import letter_batch_save
from carereach.channels.types.letter.printing import Letter, letters_print
from carereach.channels.types.letter.transport import CODE
from carereach.errors import ValidationError
from carereach.messaging.models import Message
from carereach.messaging.services.dispatch import message_status_apply
from carereach.messaging.services.outbox import Reason

logger = logging.getLogger(__name__)


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def letters_batch(*, day: date, now: datetime | None = None) -> LetterBatch | None:
    """The batch of `day`: made now from the letters waiting, or the one made before; None when
    no letter waits and none was made."""
    at = now or timezone.now()
    if day > at.date():
        raise ValidationError("A batch can be made for today or an earlier day.", field="date")
    existing = letter_batch_on(day=day)
    if existing is not None:
        return existing
    with transaction.atomic():
        items = letters_unbatched(before=min(_end_of(day), at))
        if not items:
            return None
        messages = {m.key: m for m in Message.objects.filter(key__in=[item.key for item in items])}
        postal_ids = [int(item.to.removeprefix(POSTAL_PREFIX)) for item in items]
        recipients = postal_recipients(postal_ids)
        letters: list[Letter] = []
        gone: list[Message] = []
        for item, postal_id in zip(items, postal_ids, strict=True):
            message = messages.get(item.key)
            recipient = recipients.get(postal_id)
            if message is None or recipient is None:
                if message is not None:
                    gone.append(message)
                continue
            letters.append(
                Letter(
                    message_id=message.pk,
                    name=recipient.name,
                    lines=recipient.lines,
                    subject=item.subject or "",
                    body=item.body or "",
                    large_print=recipient.large_print,
                )
            )
        printed = letters_print(letters, day=day, font=settings.LETTER_FONT)
        by_message = {m.pk: m for m in messages.values()}
        pages_of = {
            item.pk: printed.first_page.get(messages[item.key].pk) if item.key in messages else None
            for item in items
        }
        batch = letter_batch_save(
            day=day, printed=printed, pages_of=pages_of, letters=len(letters), at=at
        )
        for letter in letters:
            message = by_message[letter.message_id]
            note = Reason(
                "letter_batched",
                f"Printed in the letter batch of {day.isoformat()}, page "
                f"{printed.first_page[letter.message_id]}"
                f"{' (large print)' if letter.large_print else ''}; the manifest lists it.",
            )
            Message.objects.filter(pk=message.pk).update(reasons=[*message.reasons, note.as_dict()])
        for message in gone:
            note = Reason("address_gone", "Its postal address was deleted before printing.")
            Message.objects.filter(pk=message.pk).update(reasons=[*message.reasons, note.as_dict()])
            message_status_apply(
                provider=CODE,
                provider_message_id=message.provider_message_id,
                status=DeliveryStatus.FAILED,
                error_code="address_gone",
            )
    logger.info("letter batch %s: %s letters, %s pages", day, batch.letters, batch.pages)
    return batch


def letters_batch_due(*, now: datetime | None = None) -> LetterBatch | None:
    """The scheduler's pass: yesterday's batch (UTC), made once when letters wait for it."""
    at = now or timezone.now()
    return letters_batch(day=at.date() - timedelta(days=1), now=at)
