"""Letters: the provider collects each letter for the day's batch to a mail house.

`send` keeps the letter (`LetterItem`: the outbox key, the postal address's id, the text) and
accepts it; the daily batch (`messaging.services.letters`) prints every collected letter into
one PDF and a CSV manifest for the mail house. Nothing goes out on the wire: the mail house
takes the files from an operator (console download, or the CLI's output).

It deduplicates on the outbox key (a second send of the same key is the first letter), so it is
safe to retry when an outcome is unknown. Only postal addresses (`postal:<id>`) are accepted.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from django.db import IntegrityError, transaction
from django.utils import timezone

from carereach.channels.base import (
    DeliveryStatus,
    InboundText,
    Outbound,
    SendResult,
    StatusReport,
)
from carereach.channels.models import LetterItem

CODE = "letters"
POSTAL_PREFIX = "postal:"


def _accepted(item: LetterItem) -> SendResult:
    return SendResult(
        accepted=True, provider_message_id=item.provider_message_id, status=DeliveryStatus.QUEUED
    )


class LetterTransport:
    code = CODE
    idempotent = True  # one letter per outbox key
    paced = False  # the mail house takes a day's letters at once

    def send(self, message: Outbound) -> SendResult:
        suffix = message.to.removeprefix(POSTAL_PREFIX)
        if not message.to.startswith(POSTAL_PREFIX) or not suffix.isdigit():
            return SendResult(
                accepted=False,
                error_code="not_postal",
                error_message="a letter needs a postal address",
            )
        if not message.body.strip():
            return SendResult(
                accepted=False, error_code="empty", error_message="the letter is empty"
            )
        existing = LetterItem.objects.filter(key=message.key).first()
        if existing is not None:
            return _accepted(existing)
        try:
            with transaction.atomic():
                item = LetterItem.objects.create(
                    key=message.key,
                    provider_message_id="LTR" + secrets.token_hex(16),
                    to=message.to,
                    sender=message.sender,
                    subject=message.subject,
                    body=message.body,
                    collected_at=timezone.now(),
                )
        except IntegrityError:  # another worker collected the same key a moment ago
            item = LetterItem.objects.get(key=message.key)
        return _accepted(item)

    def verify(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return False  # a mail house posts no callbacks: the manifest is the proof

    def parse_status(self, params: Mapping[str, str]) -> StatusReport:
        raise ValueError("the letters provider sends no status callbacks")

    def parse_inbound(self, params: Mapping[str, str]) -> InboundText:
        raise ValueError("letters have no inbound")
