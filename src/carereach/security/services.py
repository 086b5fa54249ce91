"""Every write of the security app: users and roles, API keys, key rotation."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import CharField, F, Q
from django.db.models.functions import Substr
from django.utils import timezone

from carereach.errors import NotFoundError, ValidationError
from carereach.security.audit import audit_record
from carereach.security.crypto import keyring
from carereach.security.fields import EncryptedTextField, normalize_for_index
from carereach.security.models import ApiKey, AuditAction
from carereach.security.roles import Role

API_KEY_PREFIX = "cr"


def user_create(
    *,
    username: str,
    password: str,
    role: Role,
    email: str = "",
    actor: User | None = None,
    check_password: bool = True,
) -> User:
    """Create a console user in exactly one role group."""
    if not username.strip():
        raise ValidationError("Username is required.", field="username")
    if User.objects.filter(username=username).exists():
        raise ValidationError(f"User {username!r} already exists.", field="username")
    if check_password:
        try:
            validate_password(password)
        except DjangoValidationError as exc:
            raise ValidationError(" ".join(exc.messages), field="password") from None
    with transaction.atomic():
        user = User.objects.create_user(username=username, password=password, email=email)
        user.groups.set([Group.objects.get(name=role.value)])
        audit_record(actor=actor, action=AuditAction.CREATE, object_type="user", object_id=user.pk)
    return user


def user_set_role(*, user: User, role: Role, actor: User | None) -> None:
    with transaction.atomic():
        user.groups.set([Group.objects.get(name=role.value)])
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type="user",
            object_id=user.pk,
            changes=["role"],
        )


def _hash_key(secret: str) -> str:
    # API keys carry 256 bits of randomness: a fast hash is enough, unlike passwords.
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    plaintext: str  # shown once, never stored


def apikey_create(*, user: User, name: str, actor: User | None) -> IssuedKey:
    name = name.strip()
    if not name:
        raise ValidationError("Give the key a name that says what uses it.", field="name")
    if len(name) > 100:
        raise ValidationError("Key name is longer than 100 characters.", field="name")
    prefix = secrets.token_hex(4)
    plaintext = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            key_hash=_hash_key(plaintext),
            created_at=timezone.now(),
        )
        audit_record(
            actor=actor, action=AuditAction.CREATE, object_type="api_key", object_id=key.pk
        )
    return IssuedKey(key=key, plaintext=plaintext)


def apikey_revoke(*, key_id: int, user: User, actor: User | None) -> ApiKey:
    """Revoke one of `user`'s keys; another user's key is reported as not found."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().filter(pk=key_id, user=user).first()
        if key is None:
            raise NotFoundError("No such API key.")
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            audit_record(
                actor=actor,
                action=AuditAction.UPDATE,
                object_type="api_key",
                object_id=key.pk,
                changes=["revoked_at"],
            )
    return key


def apikey_authenticate(raw: str) -> ApiKey | None:
    """The active key matching `raw`, or None; compares hashes in constant time."""
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    key = ApiKey.objects.select_related("user").filter(prefix=parts[1]).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash_key(raw.strip())):
        return None
    if key.revoked_at is not None or not key.user.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


@dataclass(frozen=True)
class RotationReport:
    rows: int
    columns: list[str]


def _encrypted_columns() -> list[tuple[type[models.Model], list[EncryptedTextField]]]:
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields and model._meta.managed:
            found.append((model, fields))
    return found


def field_keys_rotate(*, batch_size: int = 500, actor: User | None = None) -> RotationReport:
    """Re-encrypt every encrypted value under the newest key, batch by batch.

    Each batch commits on its own, so a long rotation can stop and resume; rows already under the
    newest key are skipped by a prefix test in SQL, without decrypting them.
    """
    ring = keyring()
    rows = 0
    columns: list[str] = []
    for model, fields in _encrypted_columns():
        columns.extend(f"{model._meta.db_table}.{f.column}" for f in fields)
        # Ciphertext admits no lookups (see EncryptedTextField), so compare its prefix in SQL.
        prefix = ring.newest_prefix
        heads = {
            f"_head_{field.attname}": Substr(
                F(field.attname), 1, len(prefix), output_field=CharField()
            )
            for field in fields
        }
        stale = Q()
        for field in fields:
            stale |= Q(**{f"{field.attname}__isnull": False}) & ~Q(
                **{f"_head_{field.attname}": prefix}
            )
        last_pk = None
        while True:
            batch_qs = model._default_manager.annotate(**heads).filter(stale).order_by("pk")
            if last_pk is not None:
                batch_qs = batch_qs.filter(pk__gt=last_pk)
            batch = list(batch_qs[:batch_size])
            if not batch:
                break
            with transaction.atomic():
                update_fields: list[str] = []
                for obj in batch:
                    for field in fields:
                        if field.attname not in update_fields:
                            update_fields.append(field.attname)
                        if field.blind_index:
                            value = getattr(obj, field.attname)
                            index = (
                                None
                                if value is None
                                else ring.blind_index(normalize_for_index(value))
                            )
                            setattr(obj, field.blind_index, index)
                            if field.blind_index not in update_fields:
                                update_fields.append(field.blind_index)
                model._default_manager.bulk_update(batch, update_fields)
            rows += len(batch)
            last_pk = batch[-1].pk
        if fields:
            audit_record(
                actor=actor,
                action=AuditAction.ROTATE,
                object_type=model._meta.label_lower,
                changes=[f.attname for f in fields],
            )
    return RotationReport(rows=rows, columns=columns)
