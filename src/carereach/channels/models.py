"""Channels data: the sandbox carrier's own record of what it "sent" and "received".

Real carriers keep this on their side; the sandbox keeps it here so the phone simulator can show
a conversation and tests can read exactly what reached a "handset".
"""

from __future__ import annotations

from django.db import models

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
