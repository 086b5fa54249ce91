"""Every write of the consent app: programs, ledger entries with their state, reassignments.

`consent_record` is the one door into the ledger: every capture path (rep, web form, keyword,
reply, import, API, carrier write-back) calls it, so the same checks hold everywhere.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent import ledger, links, texts
from carereach.consent.models import (
    ConsentAction,
    ConsentEntry,
    ConsentMethod,
    ConsentState,
    ConsentStatus,
    Program,
    ProgramType,
    SignupKind,
    Suppression,
    SuppressionReason,
)
from carereach.consent.notices import Notice, NoticeKind, notice_send
from carereach.errors import ConflictError, ValidationError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

# Methods whose evidence must show the person's own act for marketing (written) consent.
# A scanned signed form (`signature_file`, `source_file`) is written consent given in person.
_WRITTEN_EVIDENCE = {
    ConsentMethod.IN_PERSON: ("signature", "typed_name", "signature_file", "source_file"),
    ConsentMethod.WEB_FORM: ("ip", "user_agent"),
    ConsentMethod.KEYWORD: ("inbound_message_id",),
    ConsentMethod.REPLY: ("inbound_message_id",),
    ConsentMethod.PREFERENCE_PAGE: ("ip", "user_agent"),
    ConsentMethod.IMPORT: ("source_file", "signature", "signature_file", "typed_name", "ip"),
    ConsentMethod.API: (
        "signature",
        "signature_file",
        "typed_name",
        "ip",
        "inbound_message_id",
        "source_file",
    ),
}
PHONE_CHANNELS = (Channel.SMS, Channel.VOICE)


def written_evidence_keys(method: str) -> tuple[str, ...]:
    """The evidence keys, one of which a marketing grant by this method must carry."""
    if method not in ConsentMethod.values:
        return ()
    return _WRITTEN_EVIDENCE.get(ConsentMethod(method), ())


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


def act_times_check(
    *,
    action: str,
    method: str,
    occurred_at: datetime | None,
    expires_at: datetime | None,
    now: datetime,
) -> datetime:
    """The checks of one act that do not depend on the address: returns when it happened."""
    for name, value in (("occurred_at", occurred_at), ("expires_at", expires_at)):
        if value is not None and timezone.is_naive(value):
            raise ValidationError(
                "Give the time with its offset (e.g. 2026-01-31T14:00:00-05:00).", field=name
            )
    if action not in ConsentAction.values:
        raise ValidationError(f"Unknown action {action!r}.", field="action")
    if method not in ConsentMethod.values:
        raise ValidationError(f"Unknown method {method!r}.", field="method")
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise ValidationError("The consent cannot be given in the future.", field="occurred_at")
    if expires_at is not None and expires_at <= now:
        raise ValidationError("The expiry is in the past.", field="expires_at")
    return occurred_at


def act_pair_check(
    *,
    address: str,
    owned: set[str],
    channel: str,
    program: Program | None,
    action: str,
    method: str,
    evidence: dict[str, Any],
) -> None:
    """The checks of one (address, channel, program) of an act; `owned`: the contact's
    addresses on that channel. Imports call it with addresses they loaded in bulk."""
    if address not in owned:
        raise ValidationError(
            f"That address is not one of this contact's {channel} addresses.", field="address"
        )
    if program is None:
        if action != ConsentAction.REVOKE:
            raise ValidationError("Only a revocation may cover every program.", field="programs")
        return
    if action != ConsentAction.REVOKE:
        if not program.active:
            raise ValidationError(f"Program {program.code} is closed.", field="programs")
        if channel not in program.channels:
            raise ValidationError(
                f"Program {program.code} does not use {channel}.", field="channels"
            )
    _check_evidence(program=program, action=action, method=method, evidence=evidence)


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
    now = timezone.now()
    occurred_at = act_times_check(
        action=action, method=method, occurred_at=occurred_at, expires_at=expires_at, now=now
    )
    if not channels:
        raise ValidationError("Name at least one channel.", field="channels")
    if not programs:
        raise ValidationError("Name at least one program.", field="programs")
    for channel in channels:
        if channel not in Channel.values:
            raise ValidationError(f"Unknown channel {channel!r}.", field="channels")
        owned = _addresses_of(contact, channel)
        for program in programs:
            act_pair_check(
                address=address,
                owned=owned,
                channel=channel,
                program=program,
                action=action,
                method=method,
                evidence=evidence,
            )
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


@dataclass(frozen=True)
class Capture:
    """An in-person capture: its id (in each entry's evidence), entries and the receipt sent."""

    capture: str
    entries: list[ConsentEntry]
    receipt: str
    receipt_channel: str  # Channel.SMS or Channel.EMAIL; "" when it could not be sent
    receipt_address: str


def _receipt_destination(contact: Contact, address: str) -> tuple[str, str]:
    """Where the receipt goes: the address consented, or the first e-mail for a landline."""
    if "@" in address:
        return Channel.EMAIL, address
    line = contact.phones.filter(e164=address).values_list("line_type", flat=True).first()
    if line is not None and line != "landline":
        return Channel.SMS, address
    email = contact.emails.order_by("rank", "id").values_list("address", flat=True).first()
    return (Channel.EMAIL, email) if email else ("", "")


def consent_capture_in_person(
    *,
    contact: Contact,
    address: str,
    groups: Sequence[tuple[Program, Sequence[str]]],
    evidence: dict[str, Any],
    actor: User | None,
) -> Capture:
    """A rep's in-person capture: one grant per program, all or nothing, and the receipt.

    Signed or with a typed name, it is written consent, so a grant even where the program asks
    for double opt-in (that confirms keyword and web sign-ups). The receipt, listing what the
    person agreed to and how to stop, is stored as evidence and queued in the same transaction:
    by text to the number consented, by e-mail to the address consented (or, for a landline,
    to the contact's first e-mail address).
    """
    if not groups:
        raise ValidationError("Tick at least one program the person agrees to.", field="programs")
    capture = secrets.token_hex(8)
    now = timezone.now()
    when = timezone.localtime(now).strftime("%Y-%m-%d %H:%M %Z")
    receipt = texts.capture_receipt(groups=groups, address=address, when=when)
    channel, destination = _receipt_destination(contact, address)
    evidence = {"capture": capture, **evidence, "receipt": receipt, "receipt_to": channel or "none"}
    entries: list[ConsentEntry] = []
    with transaction.atomic():
        for program, channels in groups:
            entries += consent_record(
                contact=contact,
                address=address,
                channels=list(channels),
                programs=[program],
                action=ConsentAction.GRANT,
                method=ConsentMethod.IN_PERSON,
                actor=actor,
                evidence=evidence,
                occurred_at=now,
            ).entries
        if channel:
            first = groups[0][0]
            body, subject = receipt, ""
            if channel == Channel.EMAIL:
                subject = "Your consent record"
                state = ConsentState.objects.filter(address=address, program=first).first()
                if state is not None:
                    body += f"\nChange or stop at any time: {links.preferences_url(state)}"
            notice_send(
                Notice(
                    kind=NoticeKind.CAPTURE_RECEIPT,
                    key=f"receipt:{capture}",
                    contact_id=contact.pk,
                    channel=channel,
                    address=destination,
                    body=body,
                    program_id=first.pk,
                    subject=subject,
                )
            )
    return Capture(
        capture=capture,
        entries=entries,
        receipt=receipt,
        receipt_channel=channel,
        receipt_address=destination,
    )


def programs_on_sender(sender: str) -> list[Program]:
    """Programs that send from this number (a STOP to it covers all of them)."""
    return [p for p in Program.objects.filter(active=True) if sender in p.sender_numbers]


Pair = tuple[str, str]  # (address, channel): the unit the ledger replays


def consent_states_rebuild(*, pairs: Iterable[Pair]) -> int:
    """Set the state of every program on these (address, channel) pairs to a replay of their
    ledger entries: one read of the entries, one upsert of the states.

    The set-based writers (imports, reassigned numbers) insert their entries in bulk, then call
    this for the pairs they touched; the result is the replay by definition, so it equals what
    `consent_record` would have kept entry by entry. Returns the number of states written.
    """
    wanted = set(pairs)
    if not wanted:
        return 0
    addresses = sorted({address for address, _ in wanted})
    channels = sorted({channel for _, channel in wanted})
    # Only the columns the replay reads: evidence (a signature image) can be large.
    fields = ConsentEntry.objects.filter(address__in=addresses, channel__in=channels).only(
        "contact", "address", "channel", "program", "action", "occurred_at", "expires_at"
    )
    events = [_event(entry) for entry in fields if (entry.address, entry.channel) in wanted]
    replayed = ledger.replay(events)
    rows = [
        ConsentState(
            address=address,
            channel=channel,
            program_id=program_id,
            contact_id=state.contact_id,
            status=state.status,
            granted_at=state.granted_at,
            expires_at=state.expires_at,
            changed_at=state.changed_at,
            entry_id=state.entry_id,
        )
        for (address, channel, program_id), state in replayed.items()
    ]
    ConsentState.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["address", "channel", "program"],
        update_fields=[
            "contact",
            "status",
            "granted_at",
            "expires_at",
            "changed_at",
            "entry",
        ],
    )
    return len(rows)


def _chunks(
    items: Iterable[tuple[str, datetime]], size: int
) -> Iterator[list[tuple[str, datetime]]]:
    chunk: list[tuple[str, datetime]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


REASSIGNED_REASON = "number reported disconnected after consent"


def consent_void_reassigned(
    *,
    disconnects: Iterable[tuple[str, datetime]],
    actor: User | None,
    batch_size: int = 1000,
) -> int:
    """Void consents obtained before each number's reported disconnection; returns how many.

    A number disconnected after the consent was given may now belong to someone else: the old
    consent no longer speaks for the new holder. Set-based: per batch of disconnects, one query
    finds the granted states, one insert writes a revocation for each, and their states are
    replayed (`consent_states_rebuild`). A consent is voided as of the first disconnection
    reported after it was granted (or now, for a date in the future). All batches commit
    together or not at all.
    """
    now = timezone.now()
    batch = secrets.token_hex(8)
    label = actor.get_username() if actor is not None else "system"
    voided = 0
    with transaction.atomic():
        for chunk in _chunks(disconnects, batch_size):
            dates: dict[str, list[datetime]] = {}
            for number, disconnected_at in chunk:
                if timezone.is_naive(disconnected_at):
                    raise ValidationError(
                        "Give the disconnection time with its offset.", field="disconnected_at"
                    )
                dates.setdefault(number, []).append(disconnected_at)
            for listed in dates.values():
                listed.sort()
            stale = ConsentState.objects.filter(
                address__in=sorted(dates), status=ConsentStatus.GRANTED, granted_at__isnull=False
            ).select_related("program")
            entries = []
            for state in stale:
                granted_at = state.granted_at
                cut = next((d for d in dates[state.address] if granted_at and granted_at < d), None)
                if cut is None:
                    continue
                entries.append(
                    ConsentEntry(
                        contact_id=state.contact_id,
                        address=state.address,
                        channel=state.channel,
                        program=state.program,
                        action=ConsentAction.REVOKE,
                        method=ConsentMethod.REASSIGNED,
                        captured_by=actor,
                        captured_by_label=label,
                        disclosure_version=state.program.disclosure_version,
                        evidence={"disconnected_at": cut.isoformat()},
                        reason=REASSIGNED_REASON,
                        batch=batch,
                        occurred_at=min(cut, now),
                        recorded_at=now,
                    )
                )
            if not entries:
                continue
            ConsentEntry.objects.bulk_create(entries, batch_size=500)
            consent_states_rebuild(pairs={(e.address, e.channel) for e in entries})
            voided += len(entries)
        if voided:
            audit_record(
                actor=actor,
                action=AuditAction.CREATE,
                object_type="consent_entry",
                note=f"revoke by reassigned: {voided} entries, batch {batch}",
            )
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
    signup_kind = str(fields.get("signup_kind", program.signup_kind if program else ""))
    if signup_kind not in SignupKind.values:
        raise ValidationError(
            f"Sign-up kind must be one of {', '.join(v for v in SignupKind.values if v)}, "
            "or empty to ask the person.",
            field="signup_kind",
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
                "web_signup",
                "signup_kind",
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


@transaction.atomic
def consent_unclear_resolve(
    *, inbound_message_id: str, opt_out: bool, actor: User
) -> list[ConsentEntry]:
    """A person decides what an unclear reply meant (it was treated as an opt-out meanwhile).

    Kept as an opt-out: nothing changes but the audit trail. Not an opt-out: every consent that
    reply revoked, and that was granted just before it, is granted again, citing the reply and
    the reviewer; consents it did not take away are not created.
    """
    revoked = list(
        ConsentEntry.objects.filter(
            action=ConsentAction.REVOKE,
            program__isnull=False,
            evidence__inbound_message_id=inbound_message_id,
        ).select_related("contact", "program")
    )
    audit_record(
        actor=actor,
        action=AuditAction.UPDATE,
        object_type="inbound_review",
        object_id=inbound_message_id[:64],
        note="kept as opt-out" if opt_out else "not an opt-out: consent restored",
    )
    if opt_out:
        return []
    restored: list[ConsentEntry] = []
    for entry in revoked:
        before = (
            ConsentEntry.objects.filter(
                address=entry.address,
                channel=entry.channel,
                program=entry.program,
                occurred_at__lte=entry.occurred_at,
            )
            .exclude(pk=entry.pk)
            .order_by("-occurred_at", "-id")
            .first()
        )
        if before is None or before.action != ConsentAction.GRANT:
            continue
        if before.expires_at is not None and before.expires_at <= timezone.now():
            continue  # it would have lapsed anyway
        restored.extend(
            consent_record(
                contact=entry.contact,
                address=entry.address,
                channels=[entry.channel],
                programs=[entry.program],
                action=ConsentAction.GRANT,
                method=ConsentMethod.REPLY,
                actor=actor,
                evidence={"inbound_message_id": inbound_message_id, "reviewed": "not an opt-out"},
                disclosure_version=before.disclosure_version,
                reason="reviewed: the reply was not an opt-out",
                expires_at=before.expires_at,
            ).entries
        )
    return restored


def suppression_add(*, address: str, channel: str, reason: str, source: str = "") -> bool:
    """Stop using an address on a channel; False when it was already suppressed."""
    if reason not in SuppressionReason.values:
        raise ValidationError(f"Unknown suppression reason {reason!r}.", field="reason")
    _, created = Suppression.objects.get_or_create(
        address=address,
        channel=channel,
        defaults={"reason": reason, "source": source[:120], "created_at": timezone.now()},
    )
    return created
