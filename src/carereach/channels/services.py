"""Writes of the channels app's own records (the letters provider's batches)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date, datetime

from django.db import transaction

from carereach.channels.models import LetterBatch, LetterItem
from carereach.channels.types.letter.printing import Printed


@transaction.atomic
def letter_batch_save(
    *, day: date, printed: Printed, pages_of: Mapping[int, int | None], letters: int, at: datetime
) -> LetterBatch:
    """Store a printed batch and mark its letters (`pages_of`: item id -> first page, or None
    for a letter that could not be printed) as taken by it."""
    batch = LetterBatch.objects.create(
        date=day,
        letters=letters,
        pages=printed.pages,
        pdf=base64.b64encode(printed.pdf).decode("ascii"),
        manifest=printed.manifest,
        created_at=at,
    )
    for item in LetterItem.objects.filter(pk__in=list(pages_of)):
        item.batch = batch
        item.page = pages_of[item.pk]
        item.save(update_fields=["batch", "page"])
    return batch


def letter_batch_pdf(batch: LetterBatch) -> bytes:
    return base64.b64decode(batch.pdf or "")
