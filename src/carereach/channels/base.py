"""What every provider adapter speaks: typed outbound messages, results, receipts and inbound.

A transport (`Transport`) is the only code that talks to a carrier, mail service or the sandbox.
The messaging app hands it an `Outbound` and gets a `SendResult`; the ingest path hands it a
callback's form fields and gets `StatusReport`s or an `InboundText`. Nothing here touches the
database except the sandbox, which *is* its own carrier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django.db import models


class DeliveryStatus(models.TextChoices):
    """A provider's view of one message, in the order it can move (never backwards)."""

    QUEUED = "queued"  # accepted by the provider, not yet handed to the network
    SENT = "sent"  # handed to the network or the mail server
    DELIVERED = "delivered"  # the handset or mailbox confirmed it
    UNDELIVERED = "undelivered"  # the network gave up (unreachable, filtered, unknown number)
    FAILED = "failed"  # the provider refused or could not send it


# Forward-only: a receipt may arrive late, twice, or out of order; a lower rank never overwrites.
STATUS_RANK: dict[str, int] = {
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.FAILED: 3,
}


@dataclass(frozen=True)
class Outbound:
    key: str  # the outbox idempotency key; providers that can, deduplicate on it
    channel: str
    to: str  # E.164 or e-mail address
    sender: str  # E.164, short code or from-address
    body: str
    subject: str = ""
    headers: Mapping[str, str] | None = None  # e-mail headers (List-Unsubscribe, ...)
    status_callback: str = ""  # where the provider should report receipts


@dataclass(frozen=True)
class SendResult:
    accepted: bool
    provider_message_id: str = ""
    status: str = DeliveryStatus.QUEUED
    error_code: str = ""
    error_message: str = ""
    retryable: bool = False  # a transient failure: try again later
    segments: int = 1
    # Seconds the provider asked us to wait (Retry-After), or 0 for a hiccup of its API that is
    # worth trying again soon; None: the usual backoff.
    retry_after: float | None = None
    # The provider may have taken it (no answer in time): never resent before a reconciliation
    # says it did not go.
    unknown: bool = False
    # Nothing was sent: its pacing slot had passed (it would have bunched with the next ones).
    # It waits for a new slot; not an attempt.
    unsent: bool = False


# A paced message not on its way within this long after its slot is not sent: going later would
# put it closer to the next slot than the sender's rate allows (see messaging.services.pacing).
SLOT_TOLERANCE = timedelta(milliseconds=25)
LATE = SendResult(accepted=False, error_code="late", unsent=True)


def too_late(slot: datetime | None, now: datetime) -> bool:
    return slot is not None and now - slot > SLOT_TOLERANCE


@dataclass(frozen=True)
class StatusReport:
    provider_message_id: str
    status: str  # a DeliveryStatus value
    error_code: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class InboundText:
    provider_message_id: str
    sender: str  # the person's number (E.164)
    to: str  # our number that received it
    body: str
    at: datetime | None = None


def keypress_id(call_id: str) -> str:
    """The id a key pressed during a call is stored under: one answer per call."""
    return f"{call_id}:key"  # fits the sandbox record's 40 characters


class Transport(Protocol):
    """One provider's wire: send, and read its callbacks."""

    code: str
    # True when re-sending the same key cannot reach the person twice (the provider dedupes):
    # only then may a message whose outcome is unknown be tried again.
    idempotent: bool
    # True when the provider throttles per sender and per segment (carriers): dispatch takes
    # each message's segments from the sender's shared budget before calling it.
    paced: bool

    def send(self, message: Outbound) -> SendResult: ...

    def verify(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool: ...

    def parse_status(self, params: Mapping[str, str]) -> StatusReport: ...

    def parse_inbound(self, params: Mapping[str, str]) -> InboundText: ...


class BatchTransport(Transport, Protocol):
    """A transport that sends many messages at once (concurrent requests on pooled connections).

    `slots` gives, per message, the moment it may go (a paced sender's schedule) or None for at
    once; it is never sent earlier. One result per message, in order; a failure of one is its
    result, never an exception for the batch."""

    def send_batch(
        self, messages: Sequence[Outbound], slots: Sequence[datetime | None]
    ) -> list[SendResult]: ...


class ReconcilingTransport(Transport, Protocol):
    """A transport that can tell whether a message whose outcome is unknown went out."""

    def lookup(self, message: Outbound, since: datetime) -> list[SendResult] | None:
        """The provider's messages created since `since` that match this one exactly (same
        recipient, sender and text), newest first; None when the provider cannot be asked now."""
        ...
