"""Channels data: the sandbox carrier's own record of what it "sent" and "received".

Real carriers keep this on their side; the sandbox keeps it here so the phone simulator can show
a conversation and tests can read exactly what reached a "handset".
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from carereach.security.fields import EncryptedTextField
from carereach.vocabulary import Channel


class Direction(models.TextChoices):
    OUT = "out"  # we sent it to the person
    IN = "in"  # the person sent it to us


class SandboxMessage(models.Model):
    """One message through the sandbox carrier, either way."""

    direction = models.CharField(max_length=3, choices=Direction.choices)
    key = models.CharField(max_length=200, null=True, blank=True, unique=True)  # outbox key
    provider_message_id = models.CharField(max_length=40, unique=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    to = models.CharField(max_length=320)
    sender = models.CharField(max_length=320)
    subject = models.CharField(max_length=300, blank=True)
    body = EncryptedTextField()  # may hold PHI, like the outbox
    status = models.CharField(max_length=12)
    error_code = models.CharField(max_length=12, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["to", "created_at"]), models.Index(fields=["sender"])]

    def __str__(self) -> str:
        return f"{self.direction} {self.provider_message_id}"


class LetterBatch(models.Model):
    """One day's letters for the mail house: a PDF (one letter per page) and its CSV manifest.

    Both hold names and postal addresses (PHI for patients), so both are encrypted at rest; the
    PDF as base64 text."""

    date = models.DateField(unique=True)  # letters collected up to the end of this day (UTC)
    letters = models.PositiveIntegerField()
    pages = models.PositiveIntegerField()
    pdf = EncryptedTextField()  # base64 of the PDF
    manifest = EncryptedTextField()  # CSV: message id, name, address lines, pages, large print
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"letter batch {self.date}"


class LetterItem(models.Model):
    """A letter the letters provider accepted, waiting for (or printed in) a day's batch."""

    key = models.CharField(max_length=200, unique=True)  # outbox key: a resend is the same letter
    provider_message_id = models.CharField(max_length=40, unique=True)
    to = models.CharField(max_length=40)  # "postal:<id>", as the outbox and the ledger name it
    sender = models.CharField(max_length=320, blank=True)
    subject = EncryptedTextField(blank=True, default="")
    body = EncryptedTextField()
    collected_at = models.DateTimeField()
    batch = models.ForeignKey(
        LetterBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="items"
    )
    page = models.PositiveIntegerField(null=True, blank=True)  # its first page in the batch PDF

    class Meta:
        ordering = ["collected_at", "id"]
        indexes = [
            models.Index(
                fields=["collected_at"], name="letter_unbatched", condition=Q(batch__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"letter {self.provider_message_id}"
