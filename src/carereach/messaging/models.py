"""Messaging data. For now: the heartbeats that tell health checks which workers are alive."""

from __future__ import annotations

from django.db import models


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
