"""Analytics data: conversions reported by other systems, credited to the message before them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ConversionKind(models.TextChoices):
    """What the person did that the engagement was for."""

    APPOINTMENT_ATTENDED = "appointment_attended"  # came to the appointment reminded of
    REFILL_PICKED_UP = "refill_picked_up"  # picked up the refill reminded of
    SAMPLE_REQUESTED = "sample_requested"  # an HCP asked for samples
    PROGRAM_ENROLLED = "program_enrolled"  # joined a patient support program
    SURVEY_COMPLETED = "survey_completed"  # answered a survey sent
    OTHER = "other"  # anything else an integration reports


class Conversion(models.Model):
    """One conversion; `message` is the last message sent to the contact within the window
    before it (null: none, so not attributed). A `converted` event is added to that message."""

    contact = models.ForeignKey("audience.Contact", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=30, choices=ConversionKind.choices)
    occurred_at = models.DateTimeField()
    value = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    reference = models.CharField(max_length=120, blank=True)  # the caller's id; repeats are refused
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    window_days = models.PositiveSmallIntegerField()  # the attribution window used
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "occurred_at"]),
            models.Index(fields=["kind", "occurred_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["reference"], condition=~Q(reference=""), name="conversion_reference_once"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=ConversionKind.values), name="conversion_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class Experiment(models.Model):
    """A split of an audience into arms: a hold-out control that gets nothing, and variants.

    Each variant is sent by its own campaign (different content or send time) whose query names
    the arm with the segment function ``variant("<code>", "<arm>")``; the split is a fixed hash
    of the contact id, so every campaign and every re-run agrees on who is in which arm. Results
    compare each arm's conversion rate (people with a conversion of `conversion_kind` between
    `starts_at` and `ends_at`) with the control's.
    """

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    query = models.TextField()  # the audience (a segment query), split into the arms
    holdout_percent = models.PositiveSmallIntegerField()  # 0-50: the control's share
    arms = models.JSONField()  # [{"code": "a", "weight": 1, "note": "text at 9am"}, ...]
    conversion_kind = models.CharField(max_length=30, choices=ConversionKind.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="experiment_holdout_at_most_half"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="experiment_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.name
