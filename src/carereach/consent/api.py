"""REST API of the consent app: programs, capture and revocation, checks, proof, imports."""

from __future__ import annotations

import ipaddress
from datetime import UTC, date, datetime, time
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import File, Form, Router, Schema, UploadedFile
from ninja.responses import Status

from carereach.audience.drafts import contact_draft
from carereach.audience.selectors import contact_get_for_user
from carereach.consent.fhir import consent_bundle
from carereach.consent.imports import consent_import
from carereach.consent.models import Program
from carereach.consent.selectors import (
    consent_check,
    consent_states_for_contact,
    consent_timeline,
    program_get,
    programs_all,
)
from carereach.consent.services import consent_record, consent_void_reassigned, program_save
from carereach.consent.signup import consent_signup
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
    web_signup: bool = False
    signup_kind: str = ""
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


class ConsentImportOut(Schema):
    rows: int
    entries: int
    dry_run: bool
    batch: str


@router.post(
    "/consent/imports",
    response={200: ConsentImportOut, 201: ConsentImportOut},
    auth=requires(Capability.CAPTURE_CONSENT),
)
def import_consent(
    request: HttpRequest, file: File[UploadedFile], dry_run: Form[bool] = True
) -> Status[ConsentImportOut]:
    """Import a CSV of acts of consent with evidence (multipart `file`): every row or none.

    A dry run by default (`dry_run=false` writes). A refused file is 400 with `errors`: one
    `{"row", "column", "message"}` per problem (the first 200; `error_count` has them all).
    """
    if file.file is None:
        raise ValidationError("The upload holds no file.", field="file")
    outcome = consent_import(
        file=file.file,
        filename=file.name or "consent.csv",
        actor=acting_user(request),
        dry_run=dry_run,
    )
    body = ConsentImportOut(
        rows=outcome.rows,
        entries=outcome.entries,
        dry_run=outcome.dry_run,
        batch=outcome.batch if outcome.entries else "",
    )
    return Status(200 if outcome.dry_run else 201, body)


class SignupIn(Schema):
    """A sign-up made on another site's form, passed on with the person's own evidence."""

    kind: str = ""  # hcp, patient or caregiver; empty: the program's signup_kind
    first_name: str
    last_name: str
    phone: str = ""
    email: str = ""
    channels: list[str]
    disclosure_version: str  # the version the form showed the person
    ip: str  # the person's IP address, as the form's site saw it
    user_agent: str = ""
    page: str = ""  # the form's address


class SignupOut(Schema):
    contact_id: int
    pending: bool
    channels: list[str]
    entries: list[int]


@router.post(
    "/programs/{code}/signups",
    response={201: SignupOut},
    auth=requires(Capability.CAPTURE_CONSENT),
)
def program_signup(request: HttpRequest, code: str, payload: SignupIn) -> Status[SignupOut]:
    """The public sign-up's flow for a form on another site: the contact is matched or created,
    and double opt-in programs get a pending entry and a request to confirm (a text asking for
    YES, or an e-mail with a link); the others a grant and a confirmation."""
    program = _program(code)
    kind = payload.kind or program.signup_kind
    if not kind:
        raise ValidationError("Say who signs up: hcp, patient or caregiver.", field="kind")
    try:
        ip = str(ipaddress.ip_address(payload.ip.strip()))
    except ValueError:
        raise ValidationError("Not an IP address.", field="ip") from None
    draft, problems = contact_draft(
        {
            "kind": kind,
            "first_name": payload.first_name,
            "last_name": payload.last_name,
            "phone": payload.phone,
            "email": payload.email,
        }
    )
    if draft is None:
        first = problems[0]
        raise ValidationError(f"{first.field}: {first.reason}", field=first.field)
    if not draft.last_name:
        raise ValidationError("A sign-up needs the person's last name.", field="last_name")
    outcome = consent_signup(
        program=program,
        draft=draft,
        channels=payload.channels,
        disclosure_version=payload.disclosure_version,
        evidence={
            "ip": ip,
            "user_agent": payload.user_agent[:300],
            "page": payload.page[:300],
            "passed_on_by": acting_user(request).get_username(),
        },
    )
    return Status(
        201,
        SignupOut(
            contact_id=outcome.contact.pk,
            pending=outcome.pending,
            channels=outcome.channels,
            entries=[e.pk for e in outcome.entries],
        ),
    )
