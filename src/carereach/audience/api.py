"""REST API of the audience app: contacts, segments (with counts), territories, CSV imports."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from ninja import File, Form, Router, Schema, UploadedFile
from ninja.responses import Status

from carereach.audience.drafts import contact_draft
from carereach.audience.exports import segment_export_csv
from carereach.audience.imports.selectors import contact_import_get_for_user
from carereach.audience.imports.services import (
    contact_import_run,
    contact_import_upload,
    contact_import_validate,
    import_file_path,
)
from carereach.audience.models import Contact, ContactImport, Territory
from carereach.audience.presentation import contact_name, mask_email, mask_phone, may_show_reach
from carereach.audience.segments.compiler import segment_filter
from carereach.audience.segments.fields import default_contact_schema
from carereach.audience.selectors import (
    contact_get_for_user,
    contact_search,
    contacts_for_user,
    contacts_page,
    segment_get,
    segments_all,
    specialty_codes,
    territories_for_user,
)
from carereach.audience.services import (
    caregiver_link_create,
    contact_create,
    patient_privacy_update,
    segment_save,
    territory_assign_rep,
    territory_create,
)
from carereach.errors import NotFoundError, ValidationError
from carereach.security.api_auth import requires
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import acting_user, has_capability
from carereach.security.roles import Capability

router = Router(tags=["audience"])
PAGE_MAX = 200


class PhoneOut(Schema):
    e164: str
    line_type: str
    use: str
    rank: int


class EmailOut(Schema):
    address: str
    use: str
    rank: int


class PostalOut(Schema):
    line1: str
    line2: str
    city: str
    state: str
    postal_code: str
    country: str


class ContactSummary(Schema):
    id: int
    kind: str
    status: str
    name: str
    territory: str | None
    language: str
    time_zone: str


class ContactOut(ContactSummary):
    time_zone_source: str
    preferred_channels: list[str]
    persona: str
    large_print: bool
    spoken_messages: bool
    interpreter_language: str
    tags: list[str]
    custom_fields: dict[str, Any]
    phones: list[PhoneOut]
    emails: list[EmailOut]
    postal_addresses: list[PostalOut]
    npi: str | None = None
    specialties: list[str] = []
    credentials: str = ""
    organization: str = ""
    date_of_birth: str | None = None
    mrn: str | None = None
    created_at: datetime


class ContactPage(Schema):
    items: list[ContactSummary]
    limit: int
    offset: int


class ContactIn(Schema):
    """Fields as in the CSV import; lists (specialties, tags, channels) are `;`-separated."""

    fields: dict[str, str]


class SegmentIn(Schema):
    name: str
    query: str
    description: str = ""


class SegmentOut(Schema):
    id: int
    name: str
    query: str
    description: str


class CountOut(Schema):
    count: int


class QueryIn(Schema):
    query: str


def _summary(contact: Contact, *, show_phi: bool) -> ContactSummary:
    return ContactSummary(
        id=contact.pk,
        kind=contact.kind,
        status=contact.status,
        name=contact_name(contact, show_phi=show_phi),
        territory=contact.territory.code if contact.territory else None,
        language=contact.language,
        time_zone=contact.time_zone,
    )


def _reach(contact: Contact, *, show_phi: bool) -> dict[str, Any]:
    """Addresses in full, or masked (and no street) for a patient seen without PHI rights."""
    phones = [PhoneOut.from_orm(p) for p in contact.phones.all()]
    emails = [EmailOut.from_orm(e) for e in contact.emails.all()]
    postal = [PostalOut.from_orm(a) for a in contact.postal_addresses.all()]
    if not may_show_reach(contact, show_phi=show_phi):
        for phone in phones:
            phone.e164 = mask_phone(phone.e164)
        for email in emails:
            email.address = mask_email(email.address)
        for address in postal:
            address.line1 = address.line2 = address.city = address.postal_code = ""
    return {"phones": phones, "emails": emails, "postal_addresses": postal}


def contact_detail(contact: Contact, *, show_phi: bool) -> ContactOut:
    base = _summary(contact, show_phi=show_phi).dict()
    extra: dict[str, Any] = {}
    if contact.kind == "hcp" and hasattr(contact, "hcp"):
        hcp = contact.hcp
        extra = {
            "npi": hcp.npi,
            "specialties": list(hcp.specialties.values_list("code", flat=True)),
            "credentials": hcp.credentials,
            "organization": hcp.organization,
        }
    elif contact.kind == "patient" and show_phi and hasattr(contact, "patient"):
        extra = {"date_of_birth": contact.patient.date_of_birth, "mrn": contact.patient.mrn}
    return ContactOut(
        **base,
        **extra,
        time_zone_source=contact.time_zone_source,
        preferred_channels=contact.preferred_channels,
        persona=contact.persona,
        large_print=contact.large_print,
        spoken_messages=contact.spoken_messages,
        interpreter_language=contact.interpreter_language,
        tags=list(contact.tags.values_list("name", flat=True)),
        custom_fields=contact.custom_fields,
        **_reach(contact, show_phi=show_phi),
        created_at=contact.created_at,
    )


@router.get("/contacts", response=ContactPage, auth=requires(Capability.VIEW_CONTACTS))
def list_contacts(
    request: HttpRequest, q: str = "", kind: str = "", limit: int = 50, offset: int = 0
) -> ContactPage:
    """Contacts the key's user may see (reps: their territories), newest first."""
    user = acting_user(request)
    limit = max(1, min(limit, PAGE_MAX))
    rows = contact_search(user=user, text=q, kind=kind)
    show_phi = has_capability(user, Capability.VIEW_PHI)
    page = contacts_page(rows, offset=offset, limit=limit)
    return ContactPage(
        items=[_summary(c, show_phi=show_phi) for c in page], limit=limit, offset=offset
    )


@router.get("/contacts/{contact_id}", response=ContactOut, auth=requires(Capability.VIEW_CONTACTS))
def get_contact(request: HttpRequest, contact_id: int) -> ContactOut:
    user = acting_user(request)
    contact = contact_get_for_user(user=user, contact_id=contact_id)
    show_phi = has_capability(user, Capability.VIEW_PHI)
    if contact.kind != "hcp" and show_phi:
        audit_record(
            actor=user, action=AuditAction.READ, object_type="contact", object_id=contact.pk
        )
    return contact_detail(contact, show_phi=show_phi)


@router.post("/contacts", response={201: ContactOut}, auth=requires(Capability.EDIT_CONTACTS))
def create_contact(request: HttpRequest, payload: ContactIn) -> Status[ContactOut]:
    user = acting_user(request)
    draft, problems = contact_draft(payload.fields, specialty_codes=specialty_codes())
    if draft is None:
        first = problems[0]
        raise ValidationError(f"{first.field}: {first.reason}", field=first.field)
    contact = contact_create(draft=draft, actor=user)
    contact = contact_get_for_user(user=user, contact_id=contact.pk)
    return Status(201, contact_detail(contact, show_phi=has_capability(user, Capability.VIEW_PHI)))


@router.get("/segments", response=list[SegmentOut], auth=requires(Capability.VIEW_CONTACTS))
def list_segments(request: HttpRequest) -> list[SegmentOut]:
    return [SegmentOut.from_orm(s) for s in segments_all()]


@router.post("/segments", response={201: SegmentOut}, auth=requires(Capability.MANAGE_SEGMENTS))
def create_segment(request: HttpRequest, payload: SegmentIn) -> Status[SegmentOut]:
    segment = segment_save(
        name=payload.name,
        query=payload.query,
        description=payload.description,
        actor=acting_user(request),
    )
    return Status(201, SegmentOut.from_orm(segment))


@router.post("/segments/count", response=CountOut, auth=requires(Capability.VIEW_CONTACTS))
def count_query(request: HttpRequest, payload: QueryIn) -> CountOut:
    """Count an unsaved query: a malformed one is a 400 naming the position."""
    members = segment_filter(
        contacts_for_user(user=acting_user(request)), payload.query, default_contact_schema()
    )
    return CountOut(count=members.count())


@router.put(
    "/segments/{segment_id}", response=SegmentOut, auth=requires(Capability.MANAGE_SEGMENTS)
)
def update_segment(request: HttpRequest, segment_id: int, payload: SegmentIn) -> SegmentOut:
    segment = segment_save(
        name=payload.name,
        query=payload.query,
        description=payload.description,
        actor=acting_user(request),
        segment=segment_get(segment_id=segment_id),
    )
    return SegmentOut.from_orm(segment)


@router.get(
    "/segments/{segment_id}/count", response=CountOut, auth=requires(Capability.VIEW_CONTACTS)
)
def count_segment(request: HttpRequest, segment_id: int) -> CountOut:
    """Members of a saved segment among the contacts the key's user may see."""
    segment = segment_get(segment_id=segment_id)
    members = segment_filter(
        contacts_for_user(user=acting_user(request)), segment.query, default_contact_schema()
    )
    return CountOut(count=members.count())


@router.get(
    "/segments/{segment_id}/contacts", response=ContactPage, auth=requires(Capability.VIEW_CONTACTS)
)
def segment_contacts(
    request: HttpRequest, segment_id: int, limit: int = 50, offset: int = 0
) -> ContactPage:
    user = acting_user(request)
    segment = segment_get(segment_id=segment_id)
    limit = max(1, min(limit, PAGE_MAX))
    members = segment_filter(contacts_for_user(user=user), segment.query, default_contact_schema())
    page = contacts_page(members, offset=offset, limit=limit)
    show_phi = has_capability(user, Capability.VIEW_PHI)
    return ContactPage(
        items=[_summary(c, show_phi=show_phi) for c in page],
        limit=limit,
        offset=offset,
    )


@router.get(
    "/segments/{segment_id}/export.csv",
    auth=requires(Capability.EXPORT_CONTACTS),
    response={200: None},
    openapi_extra={"responses": {"200": {"content": {"text/csv": {}}}}},
)
def export_segment(request: HttpRequest, segment_id: int) -> StreamingHttpResponse:
    """The segment's members as CSV (import columns); PHI columns only for roles with PHI."""
    segment = segment_get(segment_id=segment_id)
    response = StreamingHttpResponse(
        segment_export_csv(segment=segment, user=acting_user(request)), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="segment-{segment.pk}.csv"'
    return response


class ImportOut(Schema):
    id: int
    filename: str
    mode: str
    status: str
    total_rows: int
    processed_rows: int
    valid_rows: int
    error_rows: int
    created_rows: int
    merged_rows: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    errors_url: str | None  # the error CSV, when some rows were bad
    report: dict[str, Any]


def _import_out(contact_import: ContactImport) -> ImportOut:
    errors_url = f"/api/v1/imports/{contact_import.pk}/errors.csv"
    return ImportOut(
        id=contact_import.pk,
        filename=contact_import.filename,
        mode=contact_import.mode,
        status=contact_import.status,
        total_rows=contact_import.total_rows,
        processed_rows=contact_import.processed_rows,
        valid_rows=contact_import.valid_rows,
        error_rows=contact_import.error_rows,
        created_rows=contact_import.created_rows,
        merged_rows=contact_import.merged_rows,
        created_at=contact_import.created_at,
        started_at=contact_import.started_at,
        finished_at=contact_import.finished_at,
        errors_url=errors_url if contact_import.error_path else None,
        report=contact_import.report,
    )


def _mapping(text: str) -> dict[str, str]:
    if not text.strip():
        return {}
    try:
        mapping = json.loads(text)
    except ValueError:
        raise ValidationError(
            'mapping must be a JSON object: {"CSV header": "field"}', field="mapping"
        ) from None
    if not isinstance(mapping, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in mapping.items()
    ):
        raise ValidationError(
            'mapping must be a JSON object of strings: {"CSV header": "field"}', field="mapping"
        )
    return mapping


@router.post("/imports", response={201: ImportOut}, auth=requires(Capability.IMPORT_CONTACTS))
def upload_import(
    request: HttpRequest,
    file: File[UploadedFile],
    mapping: Form[str] = "",
    mode: Form[str] = "all_or_nothing",
    dry_run: Form[bool] = True,
) -> Status[ImportOut]:
    """Upload a CSV (multipart): a dry run by default; `dry_run=false` imports at once.

    `mapping` is a JSON object from CSV header to field (`"custom.<name>"` for custom fields,
    `""` to leave a column out); headers it does not name map by their names.
    """
    user = acting_user(request)
    contact_import = contact_import_upload(
        file=file,
        filename=file.name or "contacts.csv",
        mapping=_mapping(mapping),
        mode=mode,
        actor=user,
    )
    if dry_run:
        contact_import = contact_import_validate(contact_import=contact_import)
    else:
        contact_import = contact_import_run(contact_import=contact_import, actor=user)
    return Status(201, _import_out(contact_import))


@router.post(
    "/imports/{import_id}/run", response=ImportOut, auth=requires(Capability.IMPORT_CONTACTS)
)
def run_import(request: HttpRequest, import_id: int) -> ImportOut:
    """Import the rows: `all_or_nothing` writes nothing if any row is bad."""
    user = acting_user(request)
    contact_import = contact_import_get_for_user(user=user, import_id=import_id)
    return _import_out(contact_import_run(contact_import=contact_import, actor=user))


@router.get("/imports/{import_id}", response=ImportOut, auth=requires(Capability.IMPORT_CONTACTS))
def get_import(request: HttpRequest, import_id: int) -> ImportOut:
    """Status, progress (`processed_rows` of `total_rows`), counts and the report."""
    user = acting_user(request)
    return _import_out(contact_import_get_for_user(user=user, import_id=import_id))


@router.get("/imports/{import_id}/errors.csv", auth=requires(Capability.IMPORT_CONTACTS))
def import_errors(request: HttpRequest, import_id: int) -> FileResponse:
    """The bad rows as given (PHI included) with `row` and `errors` columns."""
    user = acting_user(request)
    contact_import = contact_import_get_for_user(user=user, import_id=import_id)
    path = import_file_path(contact_import.error_path) if contact_import.error_path else None
    if path is None or not path.exists():
        raise NotFoundError("This import has no error file.")
    audit_record(
        actor=user,
        action=AuditAction.READ,
        object_type="contact_import",
        object_id=contact_import.pk,
        note="error file downloaded",
    )
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"import-{contact_import.pk}-errors.csv",
        content_type="text/csv; charset=utf-8",
    )


class CaregiverLinkIn(Schema):
    caregiver_id: int
    relationship: str = ""
    may_receive_messages: bool = False


class CaregiverLinkOut(Schema):
    patient_id: int
    caregiver_id: int
    relationship: str
    may_receive_messages: bool


@router.post(
    "/contacts/{contact_id}/caregivers",
    response={201: CaregiverLinkOut},
    auth=requires(Capability.EDIT_CONTACTS),
)
def link_caregiver(
    request: HttpRequest, contact_id: int, payload: CaregiverLinkIn
) -> Status[CaregiverLinkOut]:
    """Link a caregiver; they receive messages for the patient only when allowed."""
    user = acting_user(request)
    link = caregiver_link_create(
        patient=contact_get_for_user(user=user, contact_id=contact_id),
        caregiver=contact_get_for_user(user=user, contact_id=payload.caregiver_id),
        relationship=payload.relationship,
        may_receive_messages=payload.may_receive_messages,
        actor=user,
    )
    return Status(201, CaregiverLinkOut.from_orm(link))


class PrivacyIn(Schema):
    confidential_channel: str = ""
    confidential_address: str = ""
    phi_accepted_channels: list[str] = []


class PrivacyOut(PrivacyIn):
    phi_accepted_at: datetime | None


@router.put(
    "/contacts/{contact_id}/privacy",
    response=PrivacyOut,
    auth=requires(Capability.VIEW_PHI),
)
def update_privacy(request: HttpRequest, contact_id: int, payload: PrivacyIn) -> PrivacyOut:
    """A patient's confidential-communication request and the channels accepted for PHI."""
    user = acting_user(request)
    profile = patient_privacy_update(
        patient=contact_get_for_user(user=user, contact_id=contact_id),
        confidential_channel=payload.confidential_channel,
        confidential_address=payload.confidential_address,
        phi_accepted_channels=payload.phi_accepted_channels,
        actor=user,
    )
    return PrivacyOut.from_orm(profile)


class TerritoryIn(Schema):
    code: str
    name: str = ""


class TerritoryOut(Schema):
    code: str
    name: str
    reps: list[str]


class RepIn(Schema):
    username: str


def _territory_out(territory: Territory) -> TerritoryOut:
    reps = [rep.username for rep in territory.reps.all()]
    return TerritoryOut(code=territory.code, name=territory.name, reps=reps)


@router.get("/territories", response=list[TerritoryOut], auth=requires(Capability.VIEW_CONTACTS))
def list_territories(request: HttpRequest) -> list[TerritoryOut]:
    """Territories the key's user works in (all of them for roles not bound to one)."""
    territories = territories_for_user(user=acting_user(request)).prefetch_related("reps")
    return [_territory_out(t) for t in territories]


@router.post("/territories", response={201: TerritoryOut}, auth=requires(Capability.MANAGE_USERS))
def create_territory(request: HttpRequest, payload: TerritoryIn) -> Status[TerritoryOut]:
    territory = territory_create(code=payload.code, name=payload.name, actor=acting_user(request))
    return Status(201, _territory_out(territory))


@router.post(
    "/territories/{code}/reps", response=TerritoryOut, auth=requires(Capability.MANAGE_USERS)
)
def assign_rep(request: HttpRequest, code: str, payload: RepIn) -> TerritoryOut:
    territory = Territory.objects.filter(code=code).first()
    if territory is None:
        raise NotFoundError("No such territory.")
    rep = User.objects.filter(username=payload.username).first()
    if rep is None:
        raise ValidationError(f"No user named {payload.username!r}.", field="username")
    territory_assign_rep(territory=territory, rep=rep, actor=acting_user(request))
    return _territory_out(territory)
