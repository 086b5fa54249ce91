"""The content library: items and their reviewed versions, series, program rules, tracked links.

A version is what a compliance reviewer approves: its bodies per channel and language, who it may
reach, and, when it promotes a drug, its fair-balance facts. Once it leaves draft it never changes
again; editing an approved version makes the next draft. Tracked links point at the version they
were sent with, so withdrawing a version disables every link already out.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from carereach.vocabulary import Channel


class ContentKind(models.TextChoices):
    PODCAST_EPISODE = "podcast_episode", "Podcast episode"  # an episode of a series
    ARTICLE = "article", "Article"  # clinical or educational reading
    DOSING_UPDATE = "dosing_update", "Dosing update"  # a change to dosing or administration
    FORMULARY_UPDATE = "formulary_update", "Formulary update"  # coverage or formulary status
    MEETING_INVITE = "meeting_invite", "Meeting invite"  # an event, webinar or rep visit
    REMINDER = "reminder", "Reminder"  # appointment, refill or medication reminder
    SURVEY = "survey", "Survey"  # questions with a link to answer them
    HEALTH_TIP = "health_tip", "Health tip"  # general wellness information
    RESULT_READY = "result_ready", "Result-ready notice"  # "your results are in the portal"


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # being written; the only state in which a version changes
    IN_REVIEW = "in_review", "In review"  # submitted, locked, waiting for a compliance reviewer
    APPROVED = "approved", "Approved"  # may be sent between valid_from and valid_until
    EXPIRED = "expired", "Expired"  # its validity window ended; never sent again
    WITHDRAWN = "withdrawn", "Withdrawn"  # pulled by a reviewer; never sent again


OPEN_STATUSES = (VersionStatus.DRAFT, VersionStatus.IN_REVIEW)
RETIRED_STATUSES = (VersionStatus.EXPIRED, VersionStatus.WITHDRAWN)


class ReviewAction(models.TextChoices):
    CREATED = "created", "Created"  # a draft was started (new item or edit of a locked version)
    SUBMITTED = "submitted", "Submitted for review"  # the author sent it to review
    RECALLED = "recalled", "Recalled to draft"  # the author took it back before a decision
    CHANGES_REQUESTED = "changes_requested", "Changes requested"  # the reviewer sent it back
    APPROVED = "approved", "Approved"  # the reviewer approved it with a review code and window
    WITHDRAWN = "withdrawn", "Withdrawn"  # a reviewer pulled an approved version
    EXPIRED = "expired", "Expired"  # the validity window ended


class Series(models.Model):
    """An ordered run of content items, e.g. a podcast; subscribers get each new episode."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    program = models.ForeignKey(
        "consent.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.name


class ContentItem(models.Model):
    """A piece of content; what is sent is one of its approved versions."""

    code = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=ContentKind.choices)
    program = models.ForeignKey(
        "consent.Program", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    series = models.ForeignKey(
        Series, null=True, blank=True, on_delete=models.PROTECT, related_name="episodes"
    )
    episode_number = models.PositiveIntegerField(null=True, blank=True)  # order in its series
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ContentKind.values), name="content_item_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["series", "episode_number"], name="content_episode_once_per_series"
            ),
            models.CheckConstraint(
                condition=Q(series__isnull=True, episode_number__isnull=True)
                | Q(series__isnull=False, episode_number__isnull=False),
                name="content_episode_number_with_series",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class ContentVersion(models.Model):
    """One reviewable state of an item: bodies, audience rules, and the review that approved it."""

    item = models.ForeignKey(ContentItem, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    based_on = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    media_url = models.URLField(max_length=500, blank=True)  # episode audio, article, survey
    # Fair balance for prescription-drug promotion (FDA): shown with every benefit claim.
    promotional = models.BooleanField(default=False)
    brand_name = models.CharField(max_length=120, blank=True)
    generic_name = models.CharField(max_length=160, blank=True)
    serious_risks = models.TextField(blank=True)  # the most serious risks, in one short statement
    safety_info_url = models.URLField(max_length=500, blank=True)  # the full Important Safety Info
    # Who it may reach; an empty list means no restriction on that dimension.
    contact_kinds = models.JSONField(default=list, blank=True)  # ContactKind values
    specialties = models.JSONField(default=list, blank=True)  # NUCC codes (HCPs)
    pediatric = models.BooleanField(default=False)  # HCPs in pediatrics and family medicine only
    languages = models.JSONField(default=list, blank=True)  # empty: the languages it has bodies in
    territories = models.JSONField(default=list, blank=True)  # Territory codes
    # Channels whose bodies hold PHI (the program allows it): patients must have accepted PHI there.
    phi_channels = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_code = models.CharField(max_length=60, blank=True)  # the MLR job number
    review_comments = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)  # expired or withdrawn at
    retired_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retired_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["item_id", "-number"]
        indexes = [models.Index(fields=["status", "valid_until"])]
        constraints = [
            models.UniqueConstraint(fields=["item", "number"], name="content_version_number_once"),
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(status__in=["draft", "in_review"]),
                name="content_one_open_version_per_item",
            ),
            models.CheckConstraint(
                condition=Q(status__in=VersionStatus.values), name="content_version_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=models.F("valid_from")),
                name="content_validity_window_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id} v{self.number}"

    @property
    def label(self) -> str:
        return f"v{self.number}"

    def usable_at(self, now: datetime) -> bool:
        """Approved, and `now` inside its validity window: the only versions that may go out."""
        return (
            self.status == VersionStatus.APPROVED
            and (self.valid_from is None or self.valid_from <= now)
            and (self.valid_until is None or now < self.valid_until)
        )


class ContentBody(models.Model):
    """What one channel says in one language: SMS text, e-mail subject + HTML + text, a script."""

    version = models.ForeignKey(ContentVersion, on_delete=models.CASCADE, related_name="bodies")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    language = models.CharField(max_length=35)
    subject = models.CharField(max_length=200, blank=True)  # e-mail only
    text = models.TextField()  # SMS text, e-mail plain text, voice script, letter
    html = models.TextField(blank=True)  # e-mail HTML

    class Meta:
        ordering = ["channel", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "channel", "language"], name="content_body_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}/{self.language}"


class ReviewEvent(models.Model):
    """One step of a version's review, for the history shown beside it (the audit log has all)."""

    version = models.ForeignKey(ContentVersion, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=ReviewAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    at = models.DateTimeField()
    comments = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.action} {self.version_id}"


class ProgramPolicy(models.Model):
    """Content rules of one program, kept by content (the program itself belongs to consent)."""

    program = models.OneToOneField(
        "consent.Program", on_delete=models.CASCADE, related_name="content_policy"
    )
    sms_footer_required = models.BooleanField(default=True)  # program name + STOP line in texts
    sms_segment_limit = models.PositiveSmallIntegerField(default=3)
    postal_address = models.TextField(blank=True)  # CAN-SPAM: the sender's physical address
    # PHI may go only to channels the patient accepted it on; bodies with PHI may be approved.
    phi_to_accepted_channels = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"content policy of {self.program_id}"


class PhiCategory(models.TextChoices):
    TEST = "test", "Test"  # a lab test or procedure ("A1c", "biopsy")
    DIAGNOSIS = "diagnosis", "Diagnosis"  # a condition ("HIV", "diabetes")
    DRUG = "drug", "Drug"  # a medicine: PHI when it tells what a patient takes


class PhiTerm(models.Model):
    """A word the PHI guard looks for in patient-facing bodies (a configurable list)."""

    term = models.CharField(max_length=80, unique=True)
    category = models.CharField(max_length=10, choices=PhiCategory.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term


class TrackedLink(models.Model):
    """One link in one message to one recipient; the token is all the URL holds."""

    token = models.CharField(max_length=32, unique=True)
    version = models.ForeignKey(ContentVersion, on_delete=models.PROTECT, related_name="links")
    contact = models.ForeignKey(
        "audience.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message_key = models.CharField(max_length=200)  # the delivery engine's opaque reference
    position = models.PositiveSmallIntegerField()  # which link of the message, from 0
    url = models.TextField()  # where it redirects
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)  # from the delivery receipt

    class Meta:
        indexes = [models.Index(fields=["message_key"])]
        constraints = [
            models.UniqueConstraint(
                fields=["message_key", "position"], name="tracked_link_once_per_message"
            )
        ]

    def __str__(self) -> str:
        return f"link #{self.pk}"


class ClickKind(models.TextChoices):
    HUMAN = "human", "Person"  # counted as a click
    HEAD = "head", "HEAD request"  # link checkers and previews ask for headers only
    SCANNER = "scanner", "Known scanner"  # a security scanner's or unfurler's user agent
    PREFETCH = "prefetch", "Prefetch"  # within a second of delivery: a mail gateway, not a person


class LinkClick(models.Model):
    """One request for a tracked link; only `human` ones count as clicks."""

    link = models.ForeignKey(TrackedLink, on_delete=models.CASCADE, related_name="clicks")
    at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=ClickKind.choices)
    method = models.CharField(max_length=8)
    user_agent = models.CharField(max_length=300, blank=True)
    available = models.BooleanField(default=True)  # False: the content was expired or withdrawn

    class Meta:
        indexes = [models.Index(fields=["link", "at"]), models.Index(fields=["kind", "at"])]

    def __str__(self) -> str:
        return f"{self.kind} click #{self.pk}"
