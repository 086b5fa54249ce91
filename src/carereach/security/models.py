"""Security data: role permissions, the hash-chained audit log, and API keys."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from carereach.security.roles import CAPABILITY_LABELS


class Access(models.Model):
    """Holds the capability permissions of roles.py; no table, only permission rows."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(cap.value, label) for cap, label in CAPABILITY_LABELS.items()]

    def __str__(self) -> str:
        return "capabilities"


class AuditAction(models.TextChoices):
    CREATE = "create"  # an object was created
    UPDATE = "update"  # fields changed; `changes` names them, never their values
    DELETE = "delete"  # an object was removed
    READ = "read"  # a patient record (or other PHI) was shown or exported
    SIGN_IN = "sign_in"  # a console sign-in succeeded
    SIGN_IN_FAILED = "sign_in_failed"  # wrong username or password
    SIGN_OUT = "sign_out"  # a console sign-out, by hand or by idle timeout
    EXPORT = "export"  # data left the system as a file
    ROTATE = "rotate"  # encryption keys were rotated


class AuditEntry(models.Model):
    """One append-only entry; `entry_hash` covers its fields and the previous entry's hash.

    Rows are never updated: editing one breaks its own hash, deleting one breaks the next
    entry's `prev_hash`, and `carereach audit verify` names the first entry that does not fit.
    """

    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(max_length=80)
    object_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=200, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor", "at"]),
            models.Index(fields=["action", "at"]),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.object_type}:{self.object_id}"


class ApiKey(models.Model):
    """A bearer key for scripts, tied to one user and their role; only its hash is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
