from django.db import models

from carereach.security.fields import EncryptedTextField


class SecretNote(models.Model):
    """Stands in for a patient record until the audience app has one."""

    mrn = EncryptedTextField(null=True, blank=True, blind_index="mrn_index")
    mrn_index = models.CharField(max_length=80, null=True, blank=True, db_index=True)  # noqa: DJ001
    diagnosis = EncryptedTextField(null=True, blank=True)

    def __str__(self) -> str:
        return f"note {self.pk}"
