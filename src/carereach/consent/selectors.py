"""Reads of consent: may we contact this address now, timelines, and set-based checks for sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from carereach import lookups  # noqa: F401 (registers `any_of`)
from carereach.audience.models import Contact
from carereach.consent import ledger
from carereach.consent.models import (
    ConsentEntry,
    ConsentState,
    ConsentStatus,
    Program,
    Suppression,
)
from carereach.sqlvalues import many


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str  # consented | no_consent | consent_pending | consent_revoked | consent_expired
    state: ConsentState | None = None


def consent_check(
    *, address: str, channel: str, program: Program, now: datetime | None = None
) -> Permission:
    """May we contact this exact address on this channel for this program now, and if not, why."""
    now = now or timezone.now()
    state = ConsentState.objects.filter(address=address, channel=channel, program=program).first()
    if not program.active:
        return Permission(False, "program_closed", state)
    if channel not in program.channels:
        return Permission(False, "channel_not_in_program", state)
    snapshot = (
        None
        if state is None
        else ledger.State(
            contact_id=state.contact_id,
            status=state.status,
            granted_at=state.granted_at,
            expires_at=state.expires_at,
            changed_at=state.changed_at,
            entry_id=state.entry_id,
        )
    )
    allowed, reason = ledger.allowed(snapshot, now)
    return Permission(allowed, reason, state)


def consented_q(
    *, program: Program, channel: str, address_ref: str, now: datetime | None = None
) -> Exists:
    """EXISTS condition: the outer row's address (`address_ref`) may be contacted now.

    Sends filter a whole batch with it in one query, e.g.
    `Phone.objects.filter(consented_q(program=p, channel="sms", address_ref="e164"))`.
    """
    now = now or timezone.now()
    return Exists(
        ConsentState.objects.filter(
            address=OuterRef(address_ref),
            channel=channel,
            program=program,
            status=ConsentStatus.GRANTED,
        ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )


def program_subscribers(*, program: Program, now: datetime | None = None) -> QuerySet[Contact]:
    """Contacts with a granted, unexpired consent to the program on at least one channel: the
    subscribers of a series or a program. Someone who opted out everywhere is not among them."""
    now = now or timezone.now()
    return Contact.objects.filter(
        Exists(
            ConsentState.objects.filter(
                contact=OuterRef("pk"), program=program, status=ConsentStatus.GRANTED
            ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        )
    )


def consent_states_for_contact(*, contact: Contact) -> QuerySet[ConsentState]:
    return (
        ConsentState.objects.filter(contact=contact)
        .select_related("program", "entry")
        .order_by("program__name", "channel", "address")
    )


def consent_timeline(*, contact: Contact) -> QuerySet[ConsentEntry]:
    """Every ledger entry about this contact, oldest first, with who captured it."""
    return (
        ConsentEntry.objects.filter(contact=contact)
        .select_related("program", "captured_by")
        .order_by("occurred_at", "id")
    )


def active_consent_count() -> int:
    now = timezone.now()
    return (
        ConsentState.objects.filter(status=ConsentStatus.GRANTED)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .count()
    )


def programs_all() -> QuerySet[Program]:
    return Program.objects.all()


def program_get(*, code: str) -> Program | None:
    return Program.objects.filter(code=code).first()


def program_by_id(program_id: int) -> Program | None:
    return Program.objects.filter(pk=program_id).first()


def consented_row_q(
    *,
    address_ref: str = "address",
    channel_ref: str = "channel",
    program_ref: str = "program_id",
    now: datetime | None = None,
) -> Exists:
    """EXISTS condition for rows that name their own address, channel and program (outbox rows):
    true when that consent is granted and unexpired now. One query re-checks a whole batch."""
    now = now or timezone.now()
    return Exists(
        ConsentState.objects.filter(
            address=OuterRef(address_ref),
            channel=OuterRef(channel_ref),
            program=OuterRef(program_ref),
            status=ConsentStatus.GRANTED,
        ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )


def consent_statuses(
    *, program_id: int, channel: str, addresses: list[str], now: datetime | None = None
) -> dict[str, str]:
    """Current consent per address for one program and channel, in one query: granted,
    pending, revoked or expired; addresses with no record are absent (no consent)."""
    now = now or timezone.now()
    found: dict[str, str] = {}
    rows = ConsentState.objects.filter(
        program_id=program_id, channel=channel, address__in=many(addresses)
    ).values_list("address", "status", "expires_at")
    for address, status, expires_at in rows:
        expired = status == ConsentStatus.GRANTED and expires_at is not None and expires_at <= now
        found[address] = "expired" if expired else status
    return found


def address_opted_out(*, address: str, sender: str) -> bool:
    """True when every program this sender number carries is revoked for this address (or it
    has none left that is not): a STOP to this number must be the last word."""
    programs = [p.pk for p in Program.objects.filter(active=True) if sender in p.sender_numbers]
    states = ConsentState.objects.filter(address=address, program_id__in=programs)
    if not states.exists():
        return False
    return not states.exclude(status=ConsentStatus.REVOKED).exists()


def suppressed_addresses(*, channel: str, addresses: list[str]) -> set[str]:
    """Which of these addresses are suppressed on the channel, in one query."""
    rows = Suppression.objects.filter(channel=channel, address__any_of=addresses)
    return set(rows.values_list("address", flat=True))


def revoked_row_q(
    *, address_ref: str = "address", channel_ref: str = "channel", program_ref: str = "program_id"
) -> Exists:
    """EXISTS condition for rows naming their own address, channel and program: true when the
    person opted out there (stops even messages that need no prior consent)."""
    return Exists(
        ConsentState.objects.filter(
            address=OuterRef(address_ref),
            channel=OuterRef(channel_ref),
            program=OuterRef(program_ref),
            status=ConsentStatus.REVOKED,
        )
    )


def opt_outs_since(
    *, contact_ids: list[int], program_ids: list[int], since: datetime
) -> dict[tuple[int, int], datetime]:
    """(contact, program) -> the latest opt-out at or after `since`, on any address or channel,
    in one query: an automation that began before must not go on by another channel."""
    rows = (
        ConsentState.objects.filter(
            contact_id__in=contact_ids,
            program_id__in=program_ids,
            status=ConsentStatus.REVOKED,
            changed_at__gte=since,
        )
        .values("contact_id", "program_id")
        .annotate(last=Max("changed_at"))
    )
    return {(row["contact_id"], row["program_id"]): row["last"] for row in rows}
