"""REST API of the consent app: programs, capture and revocation, checks, proof."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from ninja.responses import Status

from carereach.audience.selectors import contact_get_for_user
from carereach.consent.fhir import consent_bundle
from carereach.consent.models import Program
from carereach.consent.selectors import (
    consent_check,
    consent_states_for_contact,
    consent_timeline,
    program_get,
    programs_all,
)
from carereach.consent.services import consent_record, consent_void_reassigned, program_save
from carereach.errors import NotFoundError, ValidationError
from carereach.security.api_auth import requires
from carereach.security.permissions import acting_user
from carereach.security.roles import Capability

router = Router(tags=["consent"])


class ProgramIn(Schema):
    code: str
    name: str
    type: str
    brand: str = ""
    description: str = ""
    channels: list[str]
    sender_numbers: list[str] = []
    sender_emails: list[str] = []
    frequency: str
    terms_url: str = ""
    privacy_url: str = ""
    help_contact: str
    keywords: list[str] = []
    double_opt_in: bool = True
    disclosure_text: str
    disclosure_version: str
    replies: dict[str, dict[str, str]] = {}
    active: bool = True


class ProgramOut(ProgramIn):
    id: int


class ConsentIn(Schema):
    """One act of consent: `programs` holds codes, or `["*"]` to revoke every program."""

    address: str
    channels: list[str]
    programs: list[str]
    action: str
    method: str
    evidence: dict[str, Any] = {}
    disclosure_version: str = ""
    reason: str = ""
    occurred_at: datetime | None = None
    expires_at: datetime | None = None


class EntryOut(Schema):
    id: int
    address: str
    channel: str
    program: str | None
    action: str
    method: str
    captured_by: str
    disclosure_version: str
    evidence: dict[str, Any]
    reason: str
    batch: str
    occurred_at: datetime
    recorded_at: datetime
    expires_at: datetime | None


class StateOut(Schema):
    address: str
    channel: str
    program: str
    status: str
    allowed_now: bool
    reason: str
    granted_at: datetime | None
    expires_at: datetime | None
    changed_at: datetime


class ContactConsentOut(Schema):
    contact_id: int
    current: list[StateOut]
    history: list[EntryOut]


class CheckIn(Schema):
    address: str
    channel: str
    program: str


class CheckOut(Schema):
    allowed: bool
    reason: str


class DisconnectIn(Schema):
    number: str
    disconnected_on: date


class DisconnectsIn(Schema):
    items: list[DisconnectIn]


class VoidedOut(Schema):
    voided: int


def _program(code: str) -> Program:
    program = program_get(code=code)
    if program is None:
        raise ValidationError(f"Unknown program {code!r}.", field="programs")
    return program


def _entry_out(entry: Any) -> EntryOut:
    return EntryOut(
        id=entry.pk,
        address=entry.address,
        channel=entry.channel,
        program=entry.program.code if entry.program else None,
        action=entry.action,
        method=entry.method,
        captured_by=entry.captured_by_label,
        disclosure_version=entry.disclosure_version,
        evidence=entry.evidence,
        reason=entry.reason,
        batch=entry.batch,
        occurred_at=entry.occurred_at,
        recorded_at=entry.recorded_at,
        expires_at=entry.expires_at,
    )


@router.get("/programs", response=list[ProgramOut], auth=requires(Capability.VIEW_CONSENT))
def list_programs(request: HttpRequest) -> list[ProgramOut]:
    return [ProgramOut.from_orm(p) for p in programs_all()]


@router.post("/programs", response={201: ProgramOut}, auth=requires(Capability.MANAGE_PROGRAMS))
def create_program(request: HttpRequest, payload: ProgramIn) -> Status[ProgramOut]:
    program = program_save(fields=payload.dict(), actor=acting_user(request))
    return Status(201, ProgramOut.from_orm(program))


@router.put("/programs/{code}", response=ProgramOut, auth=requires(Capability.MANAGE_PROGRAMS))
def update_program(request: HttpRequest, code: str, payload: ProgramIn) -> ProgramOut:
    program = program_get(code=code)
    if program is None:
        raise NotFoundError("No such program.")
    program = program_save(fields=payload.dict(), actor=acting_user(request), program=program)
    return ProgramOut.from_orm(program)


@router.post(
    "/contacts/{contact_id}/consent",
    response={201: list[EntryOut]},
    auth=requires(Capability.CAPTURE_CONSENT),
)
def record_consent(
    request: HttpRequest, contact_id: int, payload: ConsentIn
) -> Status[list[EntryOut]]:
    """Grant, request (double opt-in) or revoke; every (channel, program) pair or none."""
    user = acting_user(request)
    contact = contact_get_for_user(user=user, contact_id=contact_id)
    programs: list[Program | None] = (
        [None] if payload.programs == ["*"] else [_program(code) for code in payload.programs]
    )
    recorded = consent_record(
        contact=contact,
        address=payload.address.strip(),
        channels=payload.channels,
        programs=programs,
        action=payload.action,
        method=payload.method,
        actor=user,
        evidence=payload.evidence,
        disclosure_version=payload.disclosure_version,
        reason=payload.reason,
        occurred_at=payload.occurred_at,
        expires_at=payload.expires_at,
    )
    return Status(201, [_entry_out(e) for e in recorded.entries])


@router.get(
    "/contacts/{contact_id}/consent",
    response=ContactConsentOut,
    auth=requires(Capability.VIEW_CONSENT),
)
def contact_consent(request: HttpRequest, contact_id: int) -> ContactConsentOut:
    """Current consent per address, channel and program, and the whole ledger history with
    evidence: what a legal request for proof needs."""
    contact = contact_get_for_user(user=acting_user(request), contact_id=contact_id)
    now = timezone.now()
    current = []
    for state in consent_states_for_contact(contact=contact):
        check = consent_check(
            address=state.address, channel=state.channel, program=state.program, now=now
        )
        current.append(
            StateOut(
                address=state.address,
                channel=state.channel,
                program=state.program.code,
                status=state.status,
                allowed_now=check.allowed,
                reason=check.reason,
                granted_at=state.granted_at,
                expires_at=state.expires_at,
                changed_at=state.changed_at,
            )
        )
    history = [_entry_out(e) for e in consent_timeline(contact=contact)]
    return ContactConsentOut(contact_id=contact.pk, current=current, history=history)


@router.get(
    "/contacts/{contact_id}/consent/fhir",
    response=dict[str, Any],
    auth=requires(Capability.VIEW_CONSENT),
)
def contact_consent_fhir(request: HttpRequest, contact_id: int) -> dict[str, Any]:
    """A FHIR R4 Bundle of Consent resources, one per current grant or denial."""
    contact = contact_get_for_user(user=acting_user(request), contact_id=contact_id)
    return consent_bundle(list(consent_states_for_contact(contact=contact)))


@router.post("/consent/check", response=CheckOut, auth=requires(Capability.VIEW_CONSENT))
def check(request: HttpRequest, payload: CheckIn) -> CheckOut:
    """May we contact this exact address on this channel for this program now, and why not."""
    result = consent_check(
        address=payload.address.strip(), channel=payload.channel, program=_program(payload.program)
    )
    return CheckOut(allowed=result.allowed, reason=result.reason)


@router.post("/consent/disconnects", response=VoidedOut, auth=requires(Capability.MANAGE_PROGRAMS))
def disconnects(request: HttpRequest, payload: DisconnectsIn) -> VoidedOut:
    """Reassigned-number records: consents older than each disconnection become void."""
    items = [
        (item.number.strip(), datetime.combine(item.disconnected_on, time.min, tzinfo=UTC))
        for item in payload.items
    ]
    return VoidedOut(voided=consent_void_reassigned(disconnects=items, actor=acting_user(request)))
