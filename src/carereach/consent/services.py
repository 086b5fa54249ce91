"""Every write of the consent app: programs, ledger entries with their state, reassignments.

`consent_record` is the one door into the ledger: every capture path (rep, web form, keyword,
reply, import, API, carrier write-back) calls it, so the same checks hold everywhere.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent import ledger
from carereach.consent.models import (
    ConsentAction,
    ConsentEntry,
    ConsentMethod,
    ConsentState,
    ConsentStatus,
    Program,
    ProgramType,
)
from carereach.errors import ConflictError, ValidationError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

# Methods whose evidence must show the person's own act for marketing (written) consent.
_WRITTEN_EVIDENCE = {
    ConsentMethod.IN_PERSON: ("signature", "typed_name"),
    ConsentMethod.WEB_FORM: ("ip", "user_agent"),
    ConsentMethod.KEYWORD: ("inbound_message_id",),
    ConsentMethod.REPLY: ("inbound_message_id",),
    ConsentMethod.PREFERENCE_PAGE: ("ip", "user_agent"),
    ConsentMethod.IMPORT: ("source_file", "signature", "typed_name", "ip"),
    ConsentMethod.API: ("signature", "typed_name", "ip", "inbound_message_id", "source_file"),
}
PHONE_CHANNELS = (Channel.SMS, Channel.VOICE)


def _addresses_of(contact: Contact, channel: str) -> set[str]:
    if channel in PHONE_CHANNELS:
        return set(contact.phones.values_list("e164", flat=True))
    if channel == Channel.EMAIL:
        return set(contact.emails.values_list("address", flat=True))
    return {f"postal:{pk}" for pk in contact.postal_addresses.values_list("pk", flat=True)}


def _check_evidence(
    *, program: Program | None, action: str, method: str, evidence: dict[str, Any]
) -> None:
    if action == ConsentAction.REVOKE or program is None:
        return  # a revocation by any reasonable means counts, evidence or not
    if program.type != ProgramType.MARKETING or action != ConsentAction.GRANT:
        return
    needed = _WRITTEN_EVIDENCE.get(ConsentMethod(method))
    if needed is None:
        raise ValidationError(
            f"Marketing consent needs written evidence; {method} cannot provide it.",
            field="method",
        )
    if not any(str(evidence.get(key) or "").strip() for key in needed):
        raise ValidationError(
            f"Marketing consent by {method} needs evidence: one of {', '.join(needed)}.",
            field="evidence",
        )


def _event(entry: ConsentEntry) -> ledger.Event:
    return ledger.Event(
        entry_id=entry.pk,
        contact_id=entry.contact_id,
        address=entry.address,
        channel=entry.channel,
        program_id=entry.program_id,
        action=entry.action,
        occurred_at=entry.occurred_at,
        expires_at=entry.expires_at,
    )


def _load_states(address: str, channel: str) -> dict[ledger.Key, ledger.State]:
    rows = ConsentState.objects.filter(address=address, channel=channel)
    return {
        (r.address, r.channel, r.program_id): ledger.State(
            contact_id=r.contact_id,
            status=r.status,
            granted_at=r.granted_at,
            expires_at=r.expires_at,
            changed_at=r.changed_at,
            entry_id=r.entry_id,
        )
        for r in rows
    }


def _save_states(states: dict[ledger.Key, ledger.State], keys: Iterable[ledger.Key]) -> None:
    for address, channel, program_id in keys:
        state = states[(address, channel, program_id)]
        ConsentState.objects.update_or_create(
            address=address,
            channel=channel,
            program_id=program_id,
            defaults={
                "contact_id": state.contact_id,
                "status": state.status,
                "granted_at": state.granted_at,
                "expires_at": state.expires_at,
                "changed_at": state.changed_at,
                "entry_id": state.entry_id,
            },
        )


def _apply_to_state(entry: ConsentEntry) -> None:
    """Fold one new entry into the state table, replaying its address if it came late."""
    states = _load_states(entry.address, entry.channel)
    event = _event(entry)
    # An entry at the same instant as, or before, one already in the ledger for this address
    # and channel: only a replay orders it right (a revocation wins a tie, and an entry that
    # changed nothing still decides what comes after it).
    late = (
        ConsentEntry.objects.filter(
            address=entry.address, channel=entry.channel, occurred_at__gte=entry.occurred_at
        )
        .exclude(pk=entry.pk)
        .exists()
    )
    if not late:
        _save_states(states, ledger.apply(states, event))
        return
    # A backdated entry (an import of old consents): replay this address and channel.
    history = ConsentEntry.objects.filter(address=entry.address, channel=entry.channel)
    replayed = ledger.replay(_event(e) for e in history)
    _save_states(replayed, replayed.keys())


@dataclass(frozen=True)
class Recorded:
    entries: list[ConsentEntry]
    batch: str


def consent_record(
    *,
    contact: Contact,
    address: str,
    channels: Sequence[str],
    programs: Sequence[Program | None],
    action: ConsentAction | str,
    method: ConsentMethod | str,
    actor: User | None,
    evidence: dict[str, Any] | None = None,
    disclosure_version: str = "",
    reason: str = "",
    occurred_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> Recorded:
    """Write ledger entries for every (channel, program) pair, and their state, atomically.

    `programs` may hold None for "every program" (revocations only). Nothing is written when
    any pair is invalid.
    """
    evidence = dict(evidence or {})
    for name, value in (("occurred_at", occurred_at), ("expires_at", expires_at)):
        if value is not None and timezone.is_naive(value):
            raise ValidationError(
                "Give the time with its offset (e.g. 2026-01-31T14:00:00-05:00).", field=name
            )
    now = timezone.now()
    occurred_at = occurred_at or now
    if action not in ConsentAction.values:
        raise ValidationError(f"Unknown action {action!r}.", field="action")
    if method not in ConsentMethod.values:
        raise ValidationError(f"Unknown method {method!r}.", field="method")
    if occurred_at > now + timedelta(minutes=5):
        raise ValidationError("The consent cannot be given in the future.", field="occurred_at")
    if expires_at is not None and expires_at <= now:
        raise ValidationError("The expiry is in the past.", field="expires_at")
    if not channels:
        raise ValidationError("Name at least one channel.", field="channels")
    if not programs:
        raise ValidationError("Name at least one program.", field="programs")
    for channel in channels:
        if channel not in Channel.values:
            raise ValidationError(f"Unknown channel {channel!r}.", field="channels")
        if address not in _addresses_of(contact, channel):
            raise ValidationError(
                f"That address is not one of this contact's {channel} addresses.",
                field="address",
            )
        for program in programs:
            if program is None:
                if action != ConsentAction.REVOKE:
                    raise ValidationError(
                        "Only a revocation may cover every program.", field="programs"
                    )
                continue
            if action != ConsentAction.REVOKE:
                if not program.active:
                    raise ValidationError(f"Program {program.code} is closed.", field="programs")
                if channel not in program.channels:
                    raise ValidationError(
                        f"Program {program.code} does not use {channel}.", field="channels"
                    )
            _check_evidence(program=program, action=action, method=method, evidence=evidence)
    batch = secrets.token_hex(8)
    label = actor.get_username() if actor is not None else "system"
    entries = []
    with transaction.atomic():
        for channel in channels:
            for program in programs:
                entry = ConsentEntry.objects.create(
                    contact=contact,
                    address=address,
                    channel=channel,
                    program=program,
                    action=action,
                    method=method,
                    captured_by=actor,
                    captured_by_label=label,
                    disclosure_version=disclosure_version
                    or (program.disclosure_version if program else ""),
                    evidence=evidence,
                    reason=reason[:200],
                    batch=batch,
                    occurred_at=occurred_at,
                    recorded_at=now,
                    expires_at=expires_at if action == ConsentAction.GRANT else None,
                )
                _apply_to_state(entry)
                entries.append(entry)
        audit_record(
            actor=actor,
            action=AuditAction.CREATE,
            object_type="consent_entry",
            object_id=contact.pk,
            note=f"{action} by {method}: {len(entries)} entries, batch {batch}",
        )
    return Recorded(entries=entries, batch=batch)


def programs_on_sender(sender: str) -> list[Program]:
    """Programs that send from this number (a STOP to it covers all of them)."""
    return [p for p in Program.objects.filter(active=True) if sender in p.sender_numbers]


def consent_void_reassigned(
    *, disconnects: Iterable[tuple[str, datetime]], actor: User | None
) -> int:
    """Void consents obtained before each number's reported disconnection.

    A number disconnected after the consent was given may now belong to someone else: the old
    consent no longer speaks for the new holder.
    """
    voided = 0
    for number, disconnected_at in disconnects:
        stale = ConsentState.objects.filter(
            address=number,
            status=ConsentStatus.GRANTED,
            granted_at__lt=disconnected_at,
        ).select_related("contact", "program")
        for state in stale:
            consent_record(
                contact=state.contact,
                address=number,
                channels=[state.channel],
                programs=[state.program],
                action=ConsentAction.REVOKE,
                method=ConsentMethod.REASSIGNED,
                actor=actor,
                evidence={"disconnected_at": disconnected_at.isoformat()},
                reason="number reported disconnected after consent",
                occurred_at=min(disconnected_at, timezone.now()),
            )
            voided += 1
    return voided


def program_save(
    *, fields: dict[str, Any], actor: User | None, program: Program | None = None
) -> Program:
    """Create or change a program; opt-in keywords must be unique across active programs."""
    from carereach.consent.keywords import classify, normalize

    code = str(fields.get("code") or (program.code if program else "")).strip()
    if not code:
        raise ValidationError("A program needs a code.", field="code")
    program_type = fields.get("type", program.type if program else "")
    if program_type not in ProgramType.values:
        raise ValidationError(f"Unknown program type {program_type!r}.", field="type")
    channels = list(fields.get("channels", program.channels if program else []))
    if not channels or any(c not in Channel.values for c in channels):
        raise ValidationError(
            f"Channels must be some of {', '.join(Channel.values)}.", field="channels"
        )
    keywords = [normalize(k) for k in fields.get("keywords", program.keywords if program else [])]
    for keyword in keywords:
        if classify(keyword) is not None:
            raise ValidationError(
                f"{keyword} is reserved (STOP, START, HELP and their kin).", field="keywords"
            )
    clash = Program.objects.filter(active=True)
    if program is not None:
        clash = clash.exclude(pk=program.pk)
    for other in clash:
        shared = set(other.keywords) & set(keywords)
        if shared:
            raise ConflictError(
                f"Keyword {sorted(shared)[0]} already belongs to {other.code}.", field="keywords"
            )
    for required in ("name", "frequency", "help_contact", "disclosure_text", "disclosure_version"):
        value = str(fields.get(required, getattr(program, required, "") if program else "")).strip()
        if not value:
            raise ValidationError(f"A program needs {required.replace('_', ' ')}.", field=required)
    values = {
        "code": code,
        "type": program_type,
        "channels": channels,
        "keywords": keywords,
        **{
            k: fields[k]
            for k in (
                "name",
                "brand",
                "description",
                "sender_numbers",
                "sender_emails",
                "frequency",
                "terms_url",
                "privacy_url",
                "help_contact",
                "double_opt_in",
                "disclosure_text",
                "disclosure_version",
                "replies",
                "active",
            )
            if k in fields
        },
    }
    with transaction.atomic():
        if program is None:
            if Program.objects.filter(code=code).exists():
                raise ConflictError(f"Program {code} already exists.", field="code")
            program = Program.objects.create(created_at=timezone.now(), **values)
            action = AuditAction.CREATE
        else:
            for key, value in values.items():
                setattr(program, key, value)
            program.save()
            action = AuditAction.UPDATE
        audit_record(
            actor=actor,
            action=action,
            object_type="program",
            object_id=program.pk,
            changes=sorted(values),
        )
    return program
