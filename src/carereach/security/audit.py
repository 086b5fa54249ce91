"""Writing and verifying the hash-chained audit log.

Services call `audit_record` inside their own transaction, so an entry exists exactly when the
change it describes does. Entries carry who, what kind of object, which id and which fields,
never the values: the log must be safe to show an auditor without exposing PHI.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.utils import timezone

from carereach.security.context import current_request_id
from carereach.security.models import AuditAction, AuditEntry

GENESIS = "0" * 64
# Any constant works; it names the PostgreSQL advisory lock that serializes chain appends.
_CHAIN_LOCK = 0x6361726561756474


def _canonical(entry: AuditEntry) -> bytes:
    at = entry.at.astimezone(UTC).isoformat(timespec="microseconds")
    body: dict[str, Any] = {
        "at": at,
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "request_id": entry.request_id,
        "changes": entry.changes,
        "note": entry.note,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(_canonical(entry)).hexdigest()


def _lock_chain() -> None:
    # SQLite runs write transactions one at a time already (BEGIN IMMEDIATE).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])


def audit_record(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: AuditAction | str,
    object_type: str,
    object_id: object = "",
    changes: Iterable[str] = (),
    note: str = "",
) -> AuditEntry:
    """Append one entry. `changes` lists field names only; `note` must not hold PHI."""
    with transaction.atomic():
        _lock_chain()
        last = AuditEntry.objects.order_by("-id").values_list("entry_hash", flat=True).first()
        user = actor if isinstance(actor, AbstractBaseUser) else None
        entry = AuditEntry(
            at=timezone.now(),
            actor_id=user.pk if user is not None else None,
            actor_label=user.get_username() if user is not None else "system",
            action=str(action),
            object_type=object_type,
            object_id=str(object_id) if object_id not in (None, "") else "",
            request_id=current_request_id(),
            changes=sorted(set(changes)),
            note=note[:200],
            prev_hash=last or GENESIS,
        )
        entry.entry_hash = entry_hash(entry)
        entry.save(force_insert=True)
        return entry


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def audit_verify(*, batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order; report the first entry whose hash or link does not hold."""
    previous = GENESIS
    previous_id: int | None = None
    checked = 0
    for entry in AuditEntry.objects.order_by("id").iterator(chunk_size=batch_size):
        if entry.prev_hash != previous:
            where = f"entry #{previous_id}" if previous_id else "the start of the log"
            return ChainReport(
                checked, entry.pk, f"its link does not match {where} (an entry was removed?)"
            )
        if entry_hash(entry) != entry.entry_hash:
            return ChainReport(checked, entry.pk, "its content does not match its hash (edited)")
        previous, previous_id = entry.entry_hash, entry.pk
        checked += 1
    return ChainReport(checked)
