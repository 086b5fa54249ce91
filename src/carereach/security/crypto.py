"""Authenticated encryption of PHI values and keyed hashes for equality search.

Each master key in CARE_FIELD_KEYS (newest first) yields two subkeys through HKDF: one for
AES-256-GCM, one for HMAC-SHA256 blind indexes. A ciphertext names the key that made it
(`v1:<key id>:<base64 nonce+ciphertext>`), so old rows stay readable while `carereach keys
rotate` re-encrypts them, and a lookup by blind index tries every key's hash at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from carereach.errors import CarereachError

FORMAT_VERSION = "v1"
NONCE_BYTES = 12


class DecryptionError(CarereachError):
    """A stored value cannot be decrypted: its key is gone or the bytes were changed."""

    code = "decryption_failed"
    status = 500


@dataclass(frozen=True)
class FieldKey:
    key_id: str
    aead: AESGCM
    mac_key: bytes


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


def make_key(master: bytes) -> FieldKey:
    key_id = hashlib.sha256(b"carereach-key-id" + master).hexdigest()[:8]
    return FieldKey(
        key_id=key_id,
        aead=AESGCM(_derive(master, b"carereach field encryption")),
        mac_key=_derive(master, b"carereach blind index"),
    )


@dataclass(frozen=True)
class Keyring:
    """The configured keys; `keys[0]` encrypts, all of them decrypt."""

    keys: tuple[FieldKey, ...]

    @property
    def newest(self) -> FieldKey:
        return self.keys[0]

    def by_id(self, key_id: str) -> FieldKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        key = self.newest
        nonce = os.urandom(NONCE_BYTES)
        sealed = key.aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        payload = base64.b64encode(nonce + sealed).decode("ascii")
        return f"{FORMAT_VERSION}:{key.key_id}:{payload}"

    def decrypt(self, token: str, *, context: str) -> str:
        try:
            version, key_id, payload = token.split(":", 2)
        except ValueError:
            raise DecryptionError(f"{context}: value is not in the encrypted format") from None
        if version != FORMAT_VERSION:
            raise DecryptionError(f"{context}: unknown encryption format {version!r}")
        key = self.by_id(key_id)
        if key is None:
            raise DecryptionError(f"{context}: key {key_id} is not in CARE_FIELD_KEYS")
        raw = base64.b64decode(payload)
        try:
            plain = key.aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
        except InvalidTag:
            raise DecryptionError(f"{context}: value fails its integrity check") from None
        return plain.decode("utf-8")

    def needs_rotation(self, token: str) -> bool:
        return not token.startswith(self.newest_prefix)

    @property
    def newest_prefix(self) -> str:
        return f"{FORMAT_VERSION}:{self.newest.key_id}:"

    def blind_index(self, value: str) -> str:
        """Keyed hash of a normalized value under the newest key, for equality search."""
        return self._mac(self.newest, value)

    def blind_index_candidates(self, value: str) -> list[str]:
        """The value's hash under every key, so lookups work while a rotation is half done."""
        return [self._mac(key, value) for key in self.keys]

    @staticmethod
    def _mac(key: FieldKey, value: str) -> str:
        digest = hmac.new(key.mac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{key.key_id}:{digest}"


@lru_cache(maxsize=4)
def keyring_for(masters: tuple[bytes, ...]) -> Keyring:
    """The keyring of these master keys, newest first (no Django: a worker process uses it)."""
    return Keyring(keys=tuple(make_key(master) for master in masters))


def normalize_for_index(value: str) -> str:
    """Case and spacing must not defeat equality search (an MRN typed ' ab12 ' finds 'AB12')."""
    return " ".join(value.split()).casefold()


def keyring() -> Keyring:
    """The keyring built from settings.FIELD_KEYS (cached per key list)."""
    from django.conf import settings

    return keyring_for(tuple(settings.FIELD_KEYS))
