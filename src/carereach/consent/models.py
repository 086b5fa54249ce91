"""The consent ledger: programs people consent to, append-only entries, and the current state.

Entries are never updated or deleted. `ConsentState` holds, per (address, channel, program), the
result of replaying the ledger; services change both in one transaction, so a send checks a
million recipients with one join, and a test replays the ledger to prove the two agree.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from carereach.vocabulary import Channel


class ProgramType(models.TextChoices):
    MARKETING = "marketing"  # promotion: needs prior express written consent
    INFORMATIONAL = "informational"  # non-promotional information: prior express consent
    HEALTHCARE_EXEMPT = "healthcare_exempt"  # FCC healthcare exemption; limits still apply
    TRANSACTIONAL = "transactional"  # replies and receipts the person asked for


class SignupKind(models.TextChoices):
    ASK = "", "Ask the person"  # the sign-up page asks who they are
    HCP = "hcp", "Healthcare professional"  # e.g. a podcast for prescribers
    PATIENT = "patient", "Patient"  # e.g. a patient support program
    CAREGIVER = "caregiver", "Caregiver"  # someone caring for a patient


class Program(models.Model):
    """A named purpose people consent to, with its senders, keywords and required replies."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    type = models.CharField(max_length=20, choices=ProgramType.choices)
    brand = models.CharField(max_length=120, blank=True)  # brand or service line
    description = models.TextField(blank=True)
    channels = models.JSONField(default=list)  # Channel values the program uses
    sender_numbers = models.JSONField(default=list, blank=True)  # E.164 or short codes
    sender_emails = models.JSONField(default=list, blank=True)
    frequency = models.CharField(max_length=60)  # "up to 4 msgs/mo"
    terms_url = models.URLField(blank=True)
    privacy_url = models.URLField(blank=True)
    help_contact = models.CharField(max_length=120)  # phone or e-mail a person can reach
    keywords = models.JSONField(default=list, blank=True)  # normalized opt-in keywords
    double_opt_in = models.BooleanField(default=True)
    # A public sign-up page at /join/<code>/ (no login); off unless the program asks for it.
    web_signup = models.BooleanField(default=False)
    # Who signs up there: a contact kind, or "" to let the person say (HCP, patient, caregiver).
    signup_kind = models.CharField(max_length=10, blank=True, choices=SignupKind.choices)
    # Disclosure shown at capture; its version is stored on each entry made under it.
    disclosure_text = models.TextField()
    disclosure_version = models.CharField(max_length=40)
    # Replies per language: {"en": {"confirmation": ..., "help": ..., "stop": ...}, "es": {...}}
    replies = models.JSONField(default=dict)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConsentAction(models.TextChoices):
    GRANT = "grant"  # permission given (double opt-in: once confirmed)
    PENDING = "pending"  # double opt-in requested, waiting for YES or the e-mail link
    REVOKE = "revoke"  # permission withdrawn; wins ties with a grant


class ConsentMethod(models.TextChoices):
    IN_PERSON = "in_person"  # rep capture with signature or typed name
    WEB_FORM = "web_form"  # public sign-up page
    KEYWORD = "keyword"  # texted a program keyword
    REPLY = "reply"  # texted STOP/START/YES
    VERBAL = "verbal"  # by phone, noted by staff
    IMPORT = "import"  # bulk file with evidence columns
    API = "api"  # another system through the REST API
    CALL_CENTER = "call_center"  # staff note of a revocation by any reasonable means
    PREFERENCE_PAGE = "preference_page"  # signed link in a message
    EMAIL_UNSUBSCRIBE = "email_unsubscribe"  # RFC 8058 one-click
    CARRIER = "carrier"  # the carrier reported the recipient unsubscribed (21610)
    REASSIGNED = "reassigned"  # number disconnected after consent: the consent is void
    EXPIRY = "expiry"  # reserved for reporting; expiry itself is a field, not an entry


class ConsentEntry(models.Model):
    """One append-only ledger entry for one address, one channel, one program or all."""

    contact = models.ForeignKey(
        "audience.Contact", on_delete=models.PROTECT, related_name="consent_entries"
    )
    address = models.CharField(max_length=320)  # the exact E.164 number or e-mail address
    channel = models.CharField(max_length=8, choices=Channel.choices)
    program = models.ForeignKey(
        Program, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )  # null: every program (a revocation such as STOPALL)
    action = models.CharField(max_length=8, choices=ConsentAction.choices)
    method = models.CharField(max_length=20, choices=ConsentMethod.choices)
    captured_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    captured_by_label = models.CharField(max_length=150)  # user name, or "system"
    disclosure_version = models.CharField(max_length=40, blank=True)
    evidence = models.JSONField(default=dict, blank=True)  # typed name, IP, user agent, ids
    reason = models.CharField(max_length=200, blank=True)
    batch = models.CharField(max_length=32, blank=True)  # entries written by one act share it
    occurred_at = models.DateTimeField()  # when the person gave or withdrew it
    recorded_at = models.DateTimeField()  # when Carereach wrote it
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["address", "channel", "occurred_at"]),
            models.Index(fields=["contact", "occurred_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=ConsentAction.values), name="consent_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(program__isnull=False) | Q(action=ConsentAction.REVOKE),
                name="consent_all_programs_only_for_revoke",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.channel} #{self.pk}"


class ConsentStatus(models.TextChoices):
    GRANTED = "granted"  # may be contacted (until expires_at, if set)
    PENDING = "pending"  # double opt-in not confirmed yet: may not be contacted
    REVOKED = "revoked"  # withdrawn: may not be contacted


class ConsentState(models.Model):
    """The current consent per (address, channel, program): a replay of the ledger, kept live."""

    address = models.CharField(max_length=320)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="states")
    contact = models.ForeignKey(
        "audience.Contact", on_delete=models.PROTECT, related_name="consent_states"
    )
    status = models.CharField(max_length=8, choices=ConsentStatus.choices)
    granted_at = models.DateTimeField(null=True, blank=True)  # when this number's consent began
    expires_at = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField()
    entry = models.ForeignKey(ConsentEntry, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["address", "channel", "program"], name="consent_state_once"
            )
        ]
        indexes = [
            models.Index(fields=["program", "channel", "status"]),
            models.Index(fields=["contact"]),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.channel} program {self.program_id}"


class SuppressionReason(models.TextChoices):
    INVALID = "invalid"  # the carrier says the number is not valid (21211) or unknown (30005)
    BOUNCED = "bounced"  # the mail server refused the address for good
    COMPLAINED = "complained"  # the person marked a mail as spam
    OPERATOR = "operator"  # set by a person, with a note


class Suppression(models.Model):
    """An address Carereach must not use on a channel, whatever the consent says.

    Consent is about permission; suppression is about the address itself being unusable or
    refused. A send is skipped with the reason while the suppression stands.
    """

    address = models.CharField(max_length=320)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    reason = models.CharField(max_length=12, choices=SuppressionReason.choices)
    source = models.CharField(max_length=120, blank=True)  # e.g. "carrier 30005 on message 42"
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["address", "channel"], name="suppression_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel} suppression ({self.reason})"


class SignupAttempt(models.Model):
    """A POST to a public sign-up page, kept a day to limit sign-ups per network address.

    In the database, not a process cache, so every web process on every machine counts the
    same attempts: a script that submits many numbers (SMS pumping) is stopped wherever it lands.
    """

    ip = models.GenericIPAddressField(unpack_ipv4=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["ip", "at"])]

    def __str__(self) -> str:
        return f"sign-up attempt from {self.ip}"
