"""Every write of the audience app: contacts one at a time, territories, segments.

Bulk imports have their own module (`imports`), which reuses `contact_draft` for validation and
writes in set-based batches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from carereach.audience.drafts import ContactDraft
from carereach.audience.models import (
    CaregiverLink,
    CaregiverProfile,
    Contact,
    Email,
    HcpProfile,
    PatientProfile,
    Phone,
    PostalAddress,
    Segment,
    Specialty,
    Tag,
    Territory,
)
from carereach.audience.segments.compiler import compile_segment
from carereach.audience.segments.fields import default_contact_schema
from carereach.audience.taxonomy import TaxonomyEntry
from carereach.errors import ConflictError, PermissionDeniedError, ValidationError
from carereach.security.audit import audit_record
from carereach.security.fields import blind_index_for
from carereach.security.models import AuditAction
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability
from carereach.vocabulary import Channel


def _territory_for(*, code: str, actor: User | None) -> Territory | None:
    """Resolve a territory code; a rep may only place contacts in a territory of theirs."""
    if not code:
        if actor is not None and not has_capability(actor, Capability.ALL_TERRITORIES):
            own = list(Territory.objects.filter(reps=actor)[:2])
            if len(own) == 1:
                return own[0]
            raise ValidationError("Choose one of your territories.", field="territory")
        return None
    territory = Territory.objects.filter(code=code).first()
    if territory is None:
        raise ValidationError(f"Unknown territory {code!r}.", field="territory")
    if (
        actor is not None
        and not has_capability(actor, Capability.ALL_TERRITORIES)
        and not territory.reps.filter(pk=actor.pk).exists()
    ):
        raise PermissionDeniedError("That territory is not yours.", code="forbidden")
    return territory


def contact_create(*, draft: ContactDraft, actor: User | None) -> Contact:
    """Store one validated contact with its profile, addresses, tags and specialties."""
    if draft.npi and HcpProfile.objects.filter(npi=draft.npi).exists():
        raise ConflictError(f"An HCP with NPI {draft.npi} already exists.", field="npi")
    now = timezone.now()
    with transaction.atomic():
        contact = Contact.objects.create(
            kind=draft.kind,
            status=draft.status,
            time_zone=draft.time_zone,
            time_zone_source=draft.time_zone_source,
            language=draft.language,
            preferred_channels=draft.preferred_channels,
            large_print=draft.large_print,
            spoken_messages=draft.spoken_messages,
            interpreter_language=draft.interpreter_language,
            persona=draft.persona,
            territory=_territory_for(code=draft.territory, actor=actor),
            external_ids={"source": draft.external_id} if draft.external_id else {},
            custom_fields=draft.custom_fields,
            created_at=now,
            updated_at=now,
        )
        _write_profile(contact=contact, draft=draft)
        _write_addresses(contact=contact, draft=draft)
        if draft.tags:
            contact.tags.set(tags_ensure(names=draft.tags))
        audit_record(
            actor=actor, action=AuditAction.CREATE, object_type="contact", object_id=contact.pk
        )
    return contact


def _write_profile(*, contact: Contact, draft: ContactDraft) -> None:
    if draft.kind == "hcp":
        hcp = HcpProfile.objects.create(
            contact=contact,
            npi=draft.npi,
            first_name=draft.first_name,
            last_name=draft.last_name,
            credentials=draft.credentials,
            organization=draft.organization,
        )
        if draft.specialties:
            hcp.specialties.set(Specialty.objects.filter(code__in=draft.specialties))
    elif draft.kind == "patient":
        PatientProfile.objects.create(
            contact=contact,
            first_name=draft.first_name or None,
            last_name=draft.last_name or None,
            date_of_birth=draft.date_of_birth,
            mrn=draft.mrn,
            mrn_index=blind_index_for(draft.mrn),
        )
    else:
        CaregiverProfile.objects.create(
            contact=contact,
            first_name=draft.first_name or None,
            last_name=draft.last_name or None,
        )


def _write_addresses(*, contact: Contact, draft: ContactDraft) -> None:
    Phone.objects.bulk_create(
        Phone(
            contact=contact,
            e164=phone.e164,
            line_type=phone.line_type,
            region=phone.region or "",
            use="mobile" if phone.line_type == "mobile" else "work",
            rank=rank,
        )
        for rank, phone in enumerate(draft.phones, start=1)
    )
    Email.objects.bulk_create(
        Email(contact=contact, address=address, rank=rank)
        for rank, address in enumerate(draft.emails, start=1)
    )
    if draft.postal is not None:
        PostalAddress.objects.create(
            contact=contact,
            line1=draft.postal.line1,
            line2=draft.postal.line2,
            city=draft.postal.city,
            state=draft.postal.state,
            postal_code=draft.postal.postal_code,
            country=draft.postal.country,
        )


def tags_ensure(*, names: list[str]) -> list[Tag]:
    """The Tag rows for these names, creating the missing ones in one statement."""
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    return [existing[name] for name in names]


def territory_create(*, code: str, name: str, actor: User | None) -> Territory:
    code = code.strip()
    if not code:
        raise ValidationError("A territory needs a code.", field="code")
    if Territory.objects.filter(code=code).exists():
        raise ConflictError(f"Territory {code!r} already exists.", field="code")
    with transaction.atomic():
        territory = Territory.objects.create(code=code, name=name.strip() or code)
        audit_record(
            actor=actor, action=AuditAction.CREATE, object_type="territory", object_id=territory.pk
        )
    return territory


def territory_assign_rep(*, territory: Territory, rep: User, actor: User | None) -> None:
    with transaction.atomic():
        territory.reps.add(rep)
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type="territory",
            object_id=territory.pk,
            changes=["reps"],
        )


def segment_save(
    *,
    name: str,
    query: str,
    description: str = "",
    actor: User | None,
    segment: Segment | None = None,
) -> Segment:
    """Create or change a saved segment; the query must compile (errors name the position)."""
    name = name.strip()
    if not name:
        raise ValidationError("A segment needs a name.", field="name")
    compile_segment(query, schema=default_contact_schema())
    clash = Segment.objects.filter(name=name)
    if segment is not None:
        clash = clash.exclude(pk=segment.pk)
    if clash.exists():
        raise ConflictError(f"A segment named {name!r} already exists.", field="name")
    now = timezone.now()
    with transaction.atomic():
        if segment is None:
            segment = Segment.objects.create(
                name=name,
                query=query.strip(),
                description=description,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            action = AuditAction.CREATE
        else:
            segment.name, segment.query, segment.description = name, query.strip(), description
            segment.updated_at = now
            segment.save()
            action = AuditAction.UPDATE
        audit_record(actor=actor, action=action, object_type="segment", object_id=segment.pk)
    return segment


def specialties_load(
    *, entries: Iterable[TaxonomyEntry], version: str, actor: User | None
) -> SpecialtyLoadReport:
    """Upsert NUCC taxonomy entries; codes dropped from the list stay (contacts may use them)."""
    rows = {entry.code: entry for entry in entries}
    with transaction.atomic():
        existing = {s.code: s for s in Specialty.objects.filter(code__in=rows)}
        created = [
            Specialty(
                code=code,
                grouping=e.grouping,
                classification=e.classification,
                specialization=e.specialization,
                display_name=e.display_name,
                version=version,
            )
            for code, e in rows.items()
            if code not in existing
        ]
        Specialty.objects.bulk_create(created, batch_size=500)
        changed = []
        for code, specialty in existing.items():
            e = rows[code]
            specialty.grouping, specialty.classification = e.grouping, e.classification
            specialty.specialization, specialty.display_name = e.specialization, e.display_name
            specialty.version = version
            changed.append(specialty)
        Specialty.objects.bulk_update(
            changed,
            ["grouping", "classification", "specialization", "display_name", "version"],
            batch_size=500,
        )
        audit_record(
            actor=actor,
            action=AuditAction.UPDATE,
            object_type="specialty_list",
            note=f"version {version}: {len(created)} new, {len(changed)} updated",
        )
    return SpecialtyLoadReport(created=len(created), updated=len(changed), version=version)


@dataclass(frozen=True)
class SpecialtyLoadReport:
    created: int
    updated: int
    version: str


def caregiver_link_create(
    *,
    patient: Contact,
    caregiver: Contact,
    relationship: str,
    may_receive_messages: bool,
    actor: User | None,
) -> CaregiverLink:
    """Link a caregiver to a patient; messages reach them only if the patient allows it."""
    if patient.kind != "patient":
        raise ValidationError("Caregivers are linked to patients.", field="patient")
    if caregiver.kind != "caregiver":
        raise ValidationError("That contact is not a caregiver.", field="caregiver_id")
    with transaction.atomic():
        link, created = CaregiverLink.objects.update_or_create(
            patient=patient,
            caregiver=caregiver,
            defaults={
                "relationship": relationship.strip()[:40],
                "may_receive_messages": may_receive_messages,
            },
            create_defaults={
                "relationship": relationship.strip()[:40],
                "may_receive_messages": may_receive_messages,
                "created_at": timezone.now(),
            },
        )
        audit_record(
            actor=actor,
            action=AuditAction.CREATE if created else AuditAction.UPDATE,
            object_type="caregiver_link",
            object_id=link.pk,
        )
    return link


def patient_privacy_update(
    *,
    patient: Contact,
    confidential_channel: str,
    confidential_address: str,
    phi_accepted_channels: list[str],
    actor: User | None,
) -> PatientProfile:
    """Record a confidential-communication request and the channels accepted for PHI.

    The address must be one of the patient's own; every later send honours it.
    """
    if patient.kind != "patient" or not hasattr(patient, "patient"):
        raise ValidationError("Only patients have privacy preferences.", field="contact")
    if confidential_channel and confidential_channel not in Channel.values:
        raise ValidationError(
            f"Unknown channel {confidential_channel!r}.", field="confidential_channel"
        )
    for channel in phi_accepted_channels:
        if channel not in Channel.values:
            raise ValidationError(f"Unknown channel {channel!r}.", field="phi_accepted_channels")
    address = confidential_address.strip()
    if address:
        own = {p.e164 for p in patient.phones.all()} | {e.address for e in patient.emails.all()}
        if address.lower() not in {a.lower() for a in own}:
            raise ValidationError(
                "The address must be one of the patient's phones or e-mails.",
                field="confidential_address",
            )
    profile = patient.patient
    changed = []
    with transaction.atomic():
        if (profile.confidential_channel, profile.confidential_address) != (
            confidential_channel,
            address,
        ):
            profile.confidential_channel = confidential_channel
            profile.confidential_address = address
            changed += ["confidential_channel", "confidential_address"]
        accepted = sorted(set(phi_accepted_channels))
        if accepted != sorted(profile.phi_accepted_channels):
            profile.phi_accepted_channels = accepted
            profile.phi_accepted_at = timezone.now() if accepted else None
            changed += ["phi_accepted_channels", "phi_accepted_at"]
        if changed:
            profile.save(update_fields=changed)
            audit_record(
                actor=actor,
                action=AuditAction.UPDATE,
                object_type="patient",
                object_id=patient.pk,
                changes=changed,
            )
    return profile
