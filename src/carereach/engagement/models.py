"""Engagement: the triggers that are not time-offset journeys.

- a series **release**: one published episode fanned out to the series' subscribers (outbox key
  `series:<version>:<contact>`), progress read from the outbox by that prefix;
- a rep's **interaction** (visit, call) with an HCP, and what it sent: an approved follow-up under
  the rep's name, a virtual-meeting invite with its reminder, a "an e-mail is waiting" text;
- **surveys** by text (NPS 0-10, satisfaction 1-5) and each person's answer.

Result-ready notices keep no table of their own: the outbox row is the record (key
`result:<reference hash>::<contact>:any`), and the audit log says who asked for it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from carereach.security.fields import EncryptedTextField


class ReleaseStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"  # waits for the episode's validity window to open
    RUNNING = "running", "Sending"  # fanning out to subscribers, batch by batch
    DONE = "done", "Fanned out"  # every subscriber decided (messages may still wait to go)
    CANCELLED = "cancelled", "Cancelled"  # the episode was withdrawn or expired first


class SeriesRelease(models.Model):
    """One published episode version on its way to the series' subscribers."""

    series = models.ForeignKey("content.Series", on_delete=models.PROTECT, related_name="+")
    version = models.OneToOneField(
        "content.ContentVersion", on_delete=models.PROTECT, related_name="+"
    )
    program = models.ForeignKey("consent.Program", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=ReleaseStatus.choices, default=ReleaseStatus.SCHEDULED
    )
    begins_at = models.DateTimeField()  # the version's valid_from (or its approval)
    cursor = models.PositiveBigIntegerField(default=0)  # last subscriber id fanned out
    planned = models.PositiveIntegerField(default=0)
    skip_reasons = models.JSONField(default=dict, blank=True)  # code -> count
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)  # why it was cancelled
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "begins_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ReleaseStatus.values), name="series_release_status_valid"
            )
        ]

    def __str__(self) -> str:
        return f"release of version {self.version_id}"

    @property
    def trigger_key(self) -> str:
        return f"series:{self.version_id}"


class InteractionKind(models.TextChoices):
    VISIT = "visit", "Visit"  # the rep met the HCP in person
    CALL = "call", "Call"  # by phone or video


class MeetingStatus(models.TextChoices):
    NONE = "", "No meeting"  # no virtual meeting planned
    INVITED = "invited", "Invited"  # invite sent; waiting for 1 (confirm) or 2 (cancel)
    CONFIRMED = "confirmed", "Confirmed"  # the HCP replied 1
    CANCELLED = "cancelled", "Cancelled"  # the HCP replied 2


class Interaction(models.Model):
    """A rep's visit or call with an HCP, and the follow-up it sent."""

    contact = models.ForeignKey("audience.Contact", on_delete=models.PROTECT, related_name="+")
    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rep_name = models.CharField(max_length=150)  # as it was signed on the follow-up
    kind = models.CharField(max_length=8, choices=InteractionKind.choices)
    occurred_at = models.DateTimeField()
    notes = models.TextField(blank=True)  # the rep's own notes about an HCP (never a patient)
    program = models.ForeignKey(
        "consent.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # the consent program the follow-up goes under
    follow_up = models.ForeignKey(
        "content.ContentVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    channel = models.CharField(max_length=8, blank=True)  # "" = the HCP's preferred channel
    notify_by_text = models.BooleanField(default=False)  # text that an e-mail/voicemail waits
    meeting_at = models.DateTimeField(null=True, blank=True)
    meeting_link = models.URLField(max_length=500, blank=True)
    meeting_status = models.CharField(
        max_length=10, choices=MeetingStatus.choices, default=MeetingStatus.NONE, blank=True
    )
    reminder_at = models.DateTimeField(null=True, blank=True)  # when the reminder is due
    reminded_at = models.DateTimeField(null=True, blank=True)  # when it was fanned out
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["contact", "occurred_at"]),
            models.Index(
                fields=["reminder_at"],
                name="interaction_reminder_due",
                condition=Q(reminded_at__isnull=True, reminder_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    @property
    def trigger_key(self) -> str:
        return f"rep:{self.pk}"


class SurveyKind(models.TextChoices):
    NPS = "nps", "Net promoter (0-10)"  # how likely to recommend, 0 to 10
    CSAT = "csat", "Satisfaction (1-5)"  # how satisfied, 1 to 5


SCALES: dict[str, tuple[int, int]] = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}


class Survey(models.Model):
    """A one-question survey by text, with an optional follow-up question."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=6, choices=SurveyKind.choices)
    program = models.ForeignKey("consent.Program", on_delete=models.PROTECT, related_name="+")
    question = models.CharField(max_length=300)
    follow_up = models.CharField(max_length=300, blank=True)  # asked after a valid score
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=SurveyKind.values), name="survey_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scale(self) -> tuple[int, int]:
        return SCALES[self.kind]

    @property
    def trigger_key(self) -> str:
        return f"survey:{self.pk}"


class AnswerStatus(models.TextChoices):
    REASKED = "reasked", "Asked again"  # the first answer was not a score in range
    FOLLOW_UP = "follow_up", "Follow-up asked"  # scored; the follow-up question is out
    DONE = "done", "Answered"  # scored (and the follow-up answered, if any)
    UNREADABLE = "unreadable", "No usable answer"  # not a score in range, twice


class SurveyAnswer(models.Model):
    """One person's answer to one survey (made when they first reply)."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="answers")
    contact = models.ForeignKey("audience.Contact", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=AnswerStatus.choices)
    score = models.SmallIntegerField(null=True, blank=True)
    comment = EncryptedTextField(blank=True, default="")  # the follow-up answer: may hold PHI
    created_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["survey", "contact"], name="survey_answer_once"),
            models.CheckConstraint(
                condition=Q(status__in=AnswerStatus.values), name="survey_answer_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"answer #{self.pk}"
