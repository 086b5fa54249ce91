"""Messaging data: the outbox (`Message`), its events, raw provider callbacks and the inbox.

Also the heartbeats that tell health checks which workers are alive.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from carereach.security.fields import EncryptedTextField
from carereach.vocabulary import Channel


class ProcessKind(models.TextChoices):
    WORKER = "worker"  # claims and dispatches outbox rows
    SCHEDULER = "scheduler"  # fires due triggers; one leader at a time


class Heartbeat(models.Model):
    """Last sign of life of one background process (host:pid), upserted every few seconds."""

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=ProcessKind.choices)
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class MessageStatus(models.TextChoices):
    """Where one outbox row stands. Terminal: delivered, undelivered, failed, skipped, cancelled,
    expired (sent may still move to delivered or undelivered when the receipt comes)."""

    QUEUED = "queued"  # decided to send; goes when due_at comes
    HELD = "held"  # decided to wait (quiet hours, pacing) until due_at, unless it expires first
    PAUSED = "paused"  # its trigger (a campaign) is paused: never claimed until resumed
    SENDING = "sending"  # claimed by a worker; the provider is being called
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the handset or mailbox confirmed it
    UNDELIVERED = "undelivered"  # the network gave up after accepting it
    FAILED = "failed"  # refused, or out of attempts; error_code and reasons say why
    SKIPPED = "skipped"  # decided not to send; reasons say why
    CANCELLED = "cancelled"  # withdrawn before sending (content retired, campaign cancelled)
    EXPIRED = "expired"  # still waiting when it went stale: never sent late


WAITING = (MessageStatus.QUEUED, MessageStatus.HELD)


class Lane(models.IntegerChoices):
    """Priority: lower goes first. Clinical and transactional bypass marketing caps, not consent."""

    CONSENT = 0, "Consent notices"  # opt-out confirmations, receipts, HELP answers
    CLINICAL = 1, "Clinical and transactional"  # reminders, result-ready notices
    BULK = 2, "Campaigns and series"  # marketing and informational broadcasts


class Message(models.Model):
    """One outbox row: the single source of truth for what will be, is being and was sent."""

    key = models.CharField(max_length=200, unique=True)  # (trigger, step, contact, channel)
    origin = models.CharField(max_length=40)  # notice, campaign, journey, api, rep
    origin_ref = models.CharField(max_length=120, blank=True)  # e.g. notice kind, campaign id
    lane = models.PositiveSmallIntegerField(choices=Lane.choices, default=Lane.BULK)
    contact = models.ForeignKey(
        "audience.Contact",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )  # null only for a reply to a number no contact has (HELP or STOP from a stranger)
    program = models.ForeignKey(
        "consent.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content_version = models.ForeignKey(
        "content.ContentVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )  # the approved version rendered; its withdrawal or expiry cancels what still waits
    channel = models.CharField(max_length=8, choices=Channel.choices)
    address = models.CharField(max_length=320)  # the exact number or e-mail it goes to
    sender = models.CharField(max_length=320, blank=True)
    subject = EncryptedTextField(blank=True, default="")
    body = EncryptedTextField()  # the exact text sent: may hold PHI, so encrypted at rest
    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    reasons = models.JSONField(default=list)  # why it is sent, held or skipped: [{code, text}]
    due_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=40, blank=True)
    provider_message_id = models.CharField(max_length=80, blank=True)
    segments = models.PositiveSmallIntegerField(default=0)
    error_code = models.CharField(max_length=40, blank=True)
    reply_to = models.CharField(max_length=80, blank=True)  # inbound provider id it answers
    # The trigger's channels still untried after this one, in order: where a post-send fallback
    # goes when this message turns out undeliverable (messaging.services.fallback).
    cascade = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)  # reached a terminal status

    class Meta:
        indexes = [
            models.Index(
                fields=["lane", "due_at"],
                name="message_due",
                condition=Q(status__in=["queued", "held"]),
            ),
            models.Index(
                fields=["claimed_at"], name="message_sending", condition=Q(status="sending")
            ),
            models.Index(fields=["provider", "provider_message_id"]),
            models.Index(fields=["contact", "created_at"]),
            # Analytics: a campaign's (any trigger's) messages, by when they were created.
            models.Index(fields=["origin_ref", "created_at"], name="message_origin_created"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} message {self.pk} ({self.status})"


class EventKind(models.TextChoices):
    """Append-only facts about messages; analytics reads these, never the other way round."""

    QUEUED = "queued"  # entered the outbox to be sent
    HELD = "held"  # entered the outbox to wait
    SKIPPED = "skipped"  # decided not to send
    SENT = "sent"  # the provider accepted it
    RETRY = "retry"  # a transient failure; tried again later
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REPLIED = "replied"  # the person answered (inbound text after this message)
    OPTED_OUT = "opted_out"  # the person's reply revoked consent
    CONVERTED = "converted"  # a conversion (appointment kept, refill picked up) attributed to it


class MessageEvent(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)  # error code, provider status, ...

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["kind", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} message {self.message_id}"


class IngestKind(models.TextChoices):
    STATUS = "status"  # a delivery receipt
    INBOUND = "inbound"  # a text the person sent us


class IngestEvent(models.Model):
    """A provider callback, stored raw the moment it arrives; workers process it afterwards.

    An acknowledged callback is never lost: it is durable before the provider gets its 200.
    Inbound texts are deduplicated on the provider's message id (carriers retry callbacks).
    """

    provider = models.CharField(max_length=40)
    kind = models.CharField(max_length=8, choices=IngestKind.choices)
    provider_message_id = models.CharField(max_length=80)
    payload = EncryptedTextField()  # JSON of the callback's fields; inbound bodies may be PHI
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_message_id"],
                condition=Q(kind="inbound"),
                name="ingest_inbound_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["received_at"], name="ingest_pending", condition=Q(processed_at=None)
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.provider_message_id}"


class InboundMessage(models.Model):
    """A text a person sent us, with what Carereach made of it (the inbox reads these)."""

    provider = models.CharField(max_length=40)
    provider_message_id = models.CharField(max_length=80)
    from_number = models.CharField(max_length=32)
    to_number = models.CharField(max_length=32)
    body = EncryptedTextField()
    contact = models.ForeignKey(
        "audience.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(max_length=20, blank=True)  # opt_out, help, ... or "" (a reply)
    needs_review = models.BooleanField(default=False)  # unclear: a person decides
    reviewed_by = models.CharField(max_length=150, blank=True)
    handled_by = models.CharField(max_length=40, blank=True)  # an app answered it (replies.py)
    in_reply_to = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_message_id"], name="inbound_once")
        ]
        indexes = [models.Index(fields=["from_number", "received_at"])]

    def __str__(self) -> str:
        return f"inbound {self.provider_message_id}"


class SenderBudget(models.Model):
    """A sender's pace, in message segments, shared by every worker on every machine.

    Carriers throttle per sender and per segment (about 1/s on a US long code, 100/s on a short
    code) and fail what queues too long; workers take each message's slot from this row under a
    row lock before calling the provider, so adding workers never bursts past the sender's limit.
    """

    sender = models.CharField(max_length=320, unique=True)
    # When the sender's next segment may go: each message granted moves it on by its segments
    # over the rate, so a backlog drains at the rate and no second goes over it.
    free_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"budget of {self.sender}"
