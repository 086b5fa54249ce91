"""Segment exports to CSV: streamed, scoped to the user, PHI only for roles that may see it.

Columns are the import's canonical names, so an export can be edited and imported back. The
export is one audited event (who, which segment, how many rows); the rows themselves never
reach a log.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from django.contrib.auth.models import User
from django.db.models import Prefetch, QuerySet

from carereach.audience.models import Contact, PostalAddress, Segment
from carereach.audience.presentation import may_show_reach
from carereach.audience.segments.compiler import segment_filter
from carereach.audience.segments.fields import default_contact_schema
from carereach.audience.selectors import contacts_for_user
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability

BASE_COLUMNS = [
    "id",
    "kind",
    "status",
    "npi",
    "first_name",
    "last_name",
    "credentials",
    "organization",
    "specialties",
    "phone",
    "phone2",
    "email",
    "email2",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "country",
    "time_zone",
    "language",
    "preferred_channels",
    "persona",
    "territory",
    "tags",
]
PHI_COLUMNS = ["date_of_birth", "mrn"]
CHUNK = 2000


def export_columns(*, include_phi: bool) -> list[str]:
    return BASE_COLUMNS + (PHI_COLUMNS if include_phi else [])


def _row(contact: Contact, *, include_phi: bool) -> dict[str, str]:
    phones = [p.e164 for p in contact.phones.all()]
    emails = [e.address for e in contact.emails.all()]
    postal = next(iter(contact.postal_addresses.all()), None)
    row = {
        "id": str(contact.pk),
        "kind": contact.kind,
        "status": contact.status,
        "phone": phones[0] if phones else "",
        "phone2": phones[1] if len(phones) > 1 else "",
        "email": emails[0] if emails else "",
        "email2": emails[1] if len(emails) > 1 else "",
        "time_zone": contact.time_zone,
        "language": contact.language,
        "preferred_channels": ";".join(contact.preferred_channels),
        "persona": contact.persona,
        "territory": contact.territory.code if contact.territory else "",
        "tags": ";".join(t.name for t in contact.tags.all()),
    }
    if not may_show_reach(contact, show_phi=include_phi):
        # A patient's or caregiver's reach is PHI: only the state stays, for counting by region.
        for column in ("phone", "phone2", "email", "email2"):
            row[column] = ""
        if postal is not None:
            row.update(state=postal.state, country=postal.country)
    elif postal is not None:
        row.update(
            address_line1=postal.line1,
            address_line2=postal.line2,
            city=postal.city,
            state=postal.state,
            postal_code=postal.postal_code,
            country=postal.country,
        )
    if contact.kind == "hcp" and hasattr(contact, "hcp"):
        hcp = contact.hcp
        row.update(
            npi=hcp.npi or "",
            first_name=hcp.first_name,
            last_name=hcp.last_name,
            credentials=hcp.credentials,
            organization=hcp.organization,
            specialties=";".join(sorted(s.code for s in hcp.specialties.all())),
        )
    elif include_phi:
        profile = getattr(contact, contact.kind, None)
        row.update(
            first_name=getattr(profile, "first_name", None) or "",
            last_name=getattr(profile, "last_name", None) or "",
        )
        if contact.kind == "patient" and profile is not None:
            row.update(date_of_birth=profile.date_of_birth or "", mrn=profile.mrn or "")
    return row


def _members(*, segment: Segment, user: User) -> QuerySet[Contact]:
    members = segment_filter(contacts_for_user(user=user), segment.query, default_contact_schema())
    return (
        members.select_related("territory", "hcp", "patient", "caregiver")
        .prefetch_related(
            "phones",
            "emails",
            "tags",
            "hcp__specialties",
            Prefetch("postal_addresses", queryset=PostalAddress.objects.order_by("rank", "id")),
        )
        .order_by("pk")
    )


def segment_export_csv(*, segment: Segment, user: User) -> Iterator[str]:
    """CSV text chunks of the segment's members the user may see; audited once up front."""
    include_phi = has_capability(user, Capability.VIEW_PHI)
    members = _members(segment=segment, user=user)
    audit_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type="segment",
        object_id=segment.pk,
        note=f"{members.count()} contacts, phi={'yes' if include_phi else 'no'}",
    )
    columns = export_columns(include_phi=include_phi)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for count, contact in enumerate(members.iterator(chunk_size=CHUNK), start=1):
        writer.writerow(_row(contact, include_phi=include_phi))
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
