"""The sandbox carrier: Carereach's built-in stand-in for SMS, e-mail and voice providers.

It "delivers" by writing a row the phone simulator shows, so the demo and the tests exercise the
whole pipeline with no traffic leaving the machine. It deduplicates on the outbox key (a second
send of the same key returns the first result), so it is safe to retry when an outcome is unknown.

Simulated failures, so every path can be tried by hand (see doc.md):
- a phone number ending in 0199 is unreachable: undelivered with carrier code 30003;
- a phone number ending in 0198 has unsubscribed at the carrier: refused with code 21610;
- an e-mail address starting with "bounce" bounces: undelivered with code "bounce".
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
    keypress_id,
)
from carereach.channels.models import Direction, SandboxMessage
from carereach.vocabulary import Channel

UNREACHABLE_SUFFIX = "0199"
UNSUBSCRIBED_SUFFIX = "0198"


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _outcome(message: Outbound) -> tuple[str, str]:
    if message.channel == Channel.EMAIL:
        if message.to.lower().startswith("bounce"):
            return DeliveryStatus.UNDELIVERED, "bounce"
        return DeliveryStatus.DELIVERED, ""
    if message.to.endswith(UNSUBSCRIBED_SUFFIX):
        return DeliveryStatus.FAILED, "21610"
    if message.to.endswith(UNREACHABLE_SUFFIX):
        return DeliveryStatus.UNDELIVERED, "30003"
    return DeliveryStatus.DELIVERED, ""


def _result(row: SandboxMessage) -> SendResult:
    refused = row.status == DeliveryStatus.FAILED
    return SendResult(
        accepted=not refused,
        provider_message_id=row.provider_message_id,
        status=row.status,
        error_code=row.error_code,
        error_message="recipient unsubscribed at the carrier" if refused else "",
    )


class SandboxTransport:
    code = "sandbox"
    idempotent = True
    paced = False  # nothing real to throttle

    def send(self, message: Outbound) -> SendResult:
        existing = SandboxMessage.objects.filter(key=message.key).first()
        if existing is not None:
            return _result(existing)
        status, error = _outcome(message)
        try:
            with transaction.atomic():
                row = SandboxMessage.objects.create(
                    direction=Direction.OUT,
                    key=message.key,
                    provider_message_id=_new_id("SBM"),
                    channel=message.channel,
                    to=message.to,
                    sender=message.sender,
                    subject=message.subject,
                    body=message.body,
                    status=status,
                    error_code=error,
                    created_at=timezone.now(),
                )
        except IntegrityError:  # another worker sent the same key a moment ago
            row = SandboxMessage.objects.get(key=message.key)
        return _result(row)

    def verify(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return True  # the sandbox posts from inside the process; nothing to forge

    def parse_status(self, params: Mapping[str, str]) -> StatusReport:
        return StatusReport(
            provider_message_id=params["id"],
            status=params["status"],
            error_code=params.get("error_code", ""),
        )

    def parse_inbound(self, params: Mapping[str, str]) -> InboundText:
        return InboundText(
            provider_message_id=params["id"],
            sender=params["from"],
            to=params["to"],
            body=params["body"],
        )


def sandbox_receive(*, from_number: str, to: str, body: str) -> InboundText:
    """A person replies from the phone simulator: the sandbox records it like a carrier would."""
    row = SandboxMessage.objects.create(
        direction=Direction.IN,
        provider_message_id=_new_id("SBI"),
        channel=Channel.SMS,
        to=to,
        sender=from_number,
        body=body,
        status=DeliveryStatus.DELIVERED,
        created_at=timezone.now(),
    )
    return InboundText(
        provider_message_id=row.provider_message_id,
        sender=from_number,
        to=to,
        body=body,
        at=row.created_at,
    )


def sandbox_keypress_receive(*, call_id: str, digits: str) -> InboundText:
    """A person presses a key during a sandbox call (the phone simulator's keypad): recorded as
    the call's answer, one per call (a second press is the first one)."""
    call = SandboxMessage.objects.get(
        provider_message_id=call_id, channel=Channel.VOICE, direction=Direction.OUT
    )
    press_id = keypress_id(call_id)
    row, _ = SandboxMessage.objects.get_or_create(
        provider_message_id=press_id,
        defaults={
            "direction": Direction.IN,
            "channel": Channel.VOICE,
            "to": call.sender,
            "sender": call.to,
            "body": digits,
            "status": DeliveryStatus.DELIVERED,
            "created_at": timezone.now(),
        },
    )
    return InboundText(
        provider_message_id=press_id,
        sender=row.sender,
        to=row.to,
        body=row.body or "",
        at=row.created_at,
    )
