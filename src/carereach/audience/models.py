"""Who we talk to: contacts of three kinds, their addresses, profiles, territories, segments.

Names, birth dates and record numbers of patients and caregivers are PHI and stored encrypted;
HCP names and NPIs are public directory data and stay searchable. Phones and e-mails stay plain:
consent, inbound matching and sends look them up by exact value at volume.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from carereach.security.fields import EncryptedTextField
from carereach.vocabulary import AddressUse


class EqualityIndex(models.Index):
    """An index that serves `=` and `IN` alone: a hash index on PostgreSQL, a plain one elsewhere.

    For keys written in random order (e-mail addresses, MRN blind-index hashes) a B-tree insert
    touches a random leaf and splits pages as the index grows; a hash index only appends to a
    bucket, which measured cheaper per imported row. Nothing looks these columns up by range,
    prefix or sort order, which a hash index cannot serve.
    """

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if schema_editor.connection.vendor == "postgresql":
            using = " USING hash"
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class ContactKind(models.TextChoices):
    HCP = "hcp", "Healthcare professional"  # prescribers and other providers (NPI holders)
    PATIENT = "patient", "Patient"  # people in a patient program or a clinic's care
    CAREGIVER = "caregiver", "Caregiver"  # receives messages for a patient who allows it


class ContactStatus(models.TextChoices):
    ACTIVE = "active"  # may be contacted, subject to consent
    UNREACHABLE = "unreachable"  # no working address is known
    DECEASED = "deceased"  # never contact again
    MERGED = "merged"  # folded into another contact (`merged_into`)


class TimeZoneSource(models.TextChoices):
    GIVEN = "given"  # stated by the person or the source system
    POSTAL = "postal"  # inferred from the postal address (state and ZIP)
    PHONE = "phone"  # inferred from the phone number's region
    UNKNOWN = "unknown"  # nothing says; sends use the window legal in every US zone


class LineType(models.TextChoices):
    MOBILE = "mobile"  # can receive texts
    LANDLINE = "landline"  # voice only
    VOIP = "voip"  # may or may not receive texts
    UNKNOWN = "unknown"  # the numbering plan does not say (common in North America)


class Territory(models.Model):
    """A sales or service territory; field reps see only the contacts of theirs."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    reps = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="territories")

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "territories"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)

    def __str__(self) -> str:
        return self.name


class Specialty(models.Model):
    """A NUCC Health Care Provider Taxonomy code, loaded from the shipped list."""

    code = models.CharField(max_length=10, unique=True)
    grouping = models.CharField(max_length=200, blank=True)
    classification = models.CharField(max_length=200, blank=True)
    specialization = models.CharField(max_length=200, blank=True)
    display_name = models.CharField(max_length=300, blank=True)
    version = models.CharField(max_length=20)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "specialties"

    def __str__(self) -> str:
        return f"{self.code} {self.display_name or self.classification}"


class Contact(models.Model):
    kind = models.CharField(max_length=10, choices=ContactKind.choices)
    status = models.CharField(
        max_length=12, choices=ContactStatus.choices, default=ContactStatus.ACTIVE
    )
    time_zone = models.CharField(max_length=64, blank=True)
    time_zone_source = models.CharField(
        max_length=8, choices=TimeZoneSource.choices, default=TimeZoneSource.UNKNOWN
    )
    language = models.CharField(max_length=35, default="en")
    preferred_channels = models.JSONField(default=list, blank=True)
    large_print = models.BooleanField(default=False)
    spoken_messages = models.BooleanField(default=False)
    interpreter_language = models.CharField(max_length=35, blank=True)
    persona = models.SlugField(max_length=60, blank=True, db_index=False)  # Meta index covers it
    territory = models.ForeignKey(  # indexed by (territory, kind) in Meta, where set
        Territory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        db_index=False,
    )
    external_ids = models.JSONField(default=dict, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    merged_into = models.ForeignKey(  # indexed in Meta where set
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        db_index=False,
    )
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()

    class Meta:
        # Every index costs each imported row a B-tree insert, so values most rows share (no
        # territory, English, active, not merged) are left out of theirs: a query for such a
        # value reads most of the table anyway. The ids of each kind have their own index, so
        # a segment on one kind counts and pages newest-first through that kind alone (with the
        # status in it, for the scoping that leaves merged contacts out).
        indexes = [
            *(
                models.Index(
                    fields=["id"],
                    include=["status"],  # PostgreSQL: counts read the index alone
                    condition=Q(kind=kind),
                    name=f"contact_{kind}_ids",
                )
                for kind in ("hcp", "patient", "caregiver")
            ),
            models.Index(
                fields=["status"], condition=~Q(status="active"), name="contact_status_not_active"
            ),
            models.Index(
                fields=["territory", "kind"],
                condition=Q(territory__isnull=False),
                name="contact_territory_kind",
            ),
            models.Index(
                fields=["language"], condition=~Q(language="en"), name="contact_language_not_en"
            ),
            models.Index(fields=["persona"]),
            models.Index(
                fields=["merged_into"],
                condition=Q(merged_into__isnull=False),
                name="contact_merged_into",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ContactKind.values), name="contact_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ContactStatus.values), name="contact_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class HcpProfile(models.Model):
    contact = models.OneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="hcp"
    )
    npi = models.CharField(  # noqa: DJ001 - null: no NPI (unique allows many NULLs, not "")
        max_length=10, null=True, blank=True
    )  # unique: see Meta
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    credentials = models.CharField(max_length=60, blank=True)
    organization = models.CharField(max_length=200, blank=True)
    specialties = models.ManyToManyField(Specialty, blank=True, related_name="hcps")
    owner_rep = models.ForeignKey(  # indexed in Meta where set
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_hcps",
        db_index=False,
    )

    class Meta:
        # A constraint rather than unique=True: on PostgreSQL that would add a second,
        # LIKE-only index on the NPI, which no query reads.
        constraints = [models.UniqueConstraint(fields=["npi"], name="hcp_npi_unique")]
        indexes = [
            models.Index(
                fields=["owner_rep"], condition=Q(owner_rep__isnull=False), name="hcp_owner_rep"
            )
        ]

    def __str__(self) -> str:
        return f"HCP {self.npi or self.contact_id}"

    @property
    def display_name(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return f"{name}, {self.credentials}" if self.credentials else name


class ConfidentialChannel(models.TextChoices):
    NONE = ""  # no restriction
    SMS = "sms"  # only texts
    EMAIL = "email"  # only e-mail
    VOICE = "voice"  # only calls
    LETTER = "letter"  # only letters


class PatientProfile(models.Model):
    """Patient identity is PHI: every identifying field is encrypted at rest."""

    contact = models.OneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="patient"
    )
    first_name = EncryptedTextField(null=True, blank=True)
    last_name = EncryptedTextField(null=True, blank=True)
    date_of_birth = EncryptedTextField(null=True, blank=True)  # ISO date, encrypted
    mrn = EncryptedTextField(null=True, blank=True, blind_index="mrn_index")
    mrn_index = models.CharField(  # noqa: DJ001 - null: no MRN, distinct from any hash
        max_length=80, null=True, blank=True
    )  # indexed in Meta (db_index would add a LIKE-only index on PostgreSQL, read by nothing)
    # HIPAA right to request confidential communications: only this channel and/or address.
    confidential_channel = models.CharField(
        max_length=8, choices=ConfidentialChannel.choices, blank=True
    )
    confidential_address = models.CharField(max_length=320, blank=True)
    # Channels on which the patient accepted PHI after being told the risk, and when.
    phi_accepted_channels = models.JSONField(default=list, blank=True)
    phi_accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [EqualityIndex(fields=["mrn_index"], name="patient_mrn_index")]

    def __str__(self) -> str:
        return f"patient #{self.contact_id}"


class CaregiverProfile(models.Model):
    contact = models.OneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="caregiver"
    )
    first_name = EncryptedTextField(null=True, blank=True)
    last_name = EncryptedTextField(null=True, blank=True)

    def __str__(self) -> str:
        return f"caregiver #{self.contact_id}"


class CaregiverLink(models.Model):
    """A caregiver acting for a patient; messages go to them only when the patient allows."""

    patient = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="caregiver_links")
    caregiver = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="cares_for")
    relationship = models.CharField(max_length=40, blank=True)
    may_receive_messages = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "caregiver"], name="caregiver_link_once")
        ]

    def __str__(self) -> str:
        return f"caregiver {self.caregiver_id} for {self.patient_id}"


class Phone(models.Model):
    # Looked up by contact through the (contact, e164) constraint, by number through Meta's
    # index (exact matches only: db_index would add a LIKE-only index on PostgreSQL).
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="phones", db_index=False
    )
    e164 = models.CharField(max_length=16)
    line_type = models.CharField(max_length=10, choices=LineType.choices, default=LineType.UNKNOWN)
    region = models.CharField(max_length=2, blank=True)
    use = models.CharField(max_length=8, choices=AddressUse.choices, default=AddressUse.MOBILE)
    rank = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "e164"], name="phone_once_per_contact")
        ]
        indexes = [models.Index(fields=["e164"], name="phone_e164")]

    def __str__(self) -> str:
        return f"phone #{self.pk}"


class Email(models.Model):
    # Indexed like Phone: by contact through the constraint, by address in Meta.
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="emails", db_index=False
    )
    address = models.CharField(max_length=320)
    use = models.CharField(max_length=8, choices=AddressUse.choices, default=AddressUse.WORK)
    rank = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["rank", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contact", "address"], name="email_once_per_contact")
        ]
        indexes = [EqualityIndex(fields=["address"], name="email_address")]

    def __str__(self) -> str:
        return f"email #{self.pk}"


class PostalAddress(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="postal_addresses")
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100)
    state = models.CharField(max_length=3)  # indexed with contact in Meta, for segments
    postal_code = models.CharField(max_length=12)
    country = models.CharField(max_length=2, default="US")
    use = models.CharField(max_length=8, choices=AddressUse.choices, default=AddressUse.WORK)
    rank = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["rank", "id"]
        indexes = [models.Index(fields=["state", "contact"], name="postal_state_contact")]

    def __str__(self) -> str:
        return f"address #{self.pk}"


class Segment(models.Model):
    """A saved, dynamic query: membership is computed when it is used, never stored."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    query = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing"  # one transaction: nothing is written if any row is bad
    VALID_ONLY = "valid_only"  # valid rows are written; bad ones go to the error file


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded"  # stored and checked to be UTF-8 CSV; nothing validated yet
    VALIDATING = "validating"  # a dry run is reading the rows
    VALIDATED = "validated"  # dry run finished: counts and report show what a run would do
    IMPORTING = "importing"  # a run is writing contacts (`processed_rows` shows progress)
    DONE = "done"  # the run finished and its writes are committed
    FAILED = "failed"  # the run wrote nothing (all or nothing with bad rows) or broke off


class ContactImport(models.Model):
    """One CSV file of contacts: its column mapping, dry-run report and run outcome.

    The stored file and the error file live under VAR_DIR/imports and hold the rows as given,
    PHI included; `report` never holds a PHI value.
    """

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    filename = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=300)  # relative to VAR_DIR
    mapping = models.JSONField(default=dict)  # CSV header → canonical field (or "" to ignore)
    mode = models.CharField(max_length=16, choices=ImportMode.choices)
    status = models.CharField(
        max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)  # rows that made a new contact
    merged_rows = models.PositiveIntegerField(default=0)  # rows folded into a known contact
    processed_rows = models.PositiveIntegerField(default=0)  # progress of the current pass
    error_path = models.CharField(max_length=300, blank=True)  # relative to VAR_DIR
    report = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(mode__in=ImportMode.values), name="contact_import_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ImportStatus.values), name="contact_import_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"import #{self.pk} {self.filename}"
