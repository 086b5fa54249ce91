"""Model fields that keep PHI encrypted at rest.

`EncryptedTextField` stores AES-GCM ciphertext bound to its table and column (a value copied to
another column fails to decrypt). When a model must find rows by the value, it names a companion
`blind_index` CharField; services fill it with `blind_index_for(value)` and look up with
`blind_index_lookup(value)`. Rotation re-encrypts the value and recomputes the index together.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression

from carereach.security.crypto import keyring
from carereach.security.crypto import normalize_for_index as normalize_for_index  # re-exported


def blind_index_for(value: str | None) -> str | None:
    if value is None:
        return None
    return keyring().blind_index(normalize_for_index(value))


def blind_index_lookup(value: str) -> list[str]:
    """Values to match with `__in` against a blind index column: one hash per configured key."""
    return keyring().blind_index_candidates(normalize_for_index(value))


class EncryptedTextField(models.TextField[str | None, str | None]):
    """A text value encrypted with the newest CARE_FIELD_KEYS key; decrypted on load."""

    description = "Encrypted text (PHI)"

    def __init__(self, *args: Any, blind_index: str | None = None, **kwargs: Any) -> None:
        self.blind_index = blind_index
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if self.blind_index:
            kwargs["blind_index"] = self.blind_index
        return name, path, args, kwargs

    @property
    def crypto_context(self) -> str:
        return f"{self.model._meta.db_table}.{self.column}"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or isinstance(value, Expression):
            return value
        return keyring().encrypt(str(value), context=self.crypto_context)

    def from_db_value(
        self, value: str | None, expression: Any, connection: BaseDatabaseWrapper
    ) -> str | None:
        if value is None:
            return None
        return keyring().decrypt(value, context=self.crypto_context)

    def get_lookup(self, lookup_name: str) -> Any:
        # Ciphertext is randomized: equality or LIKE on it could never match. Search by the
        # blind index instead; failing loudly beats a query that silently finds nothing.
        if lookup_name not in {"isnull"}:
            return None
        return super().get_lookup(lookup_name)
