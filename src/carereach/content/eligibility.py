"""Who a content version may reach, for one contact and as one SQL condition for a batch.

The delivery engine calls `content_eligibility` for a contact at send time (it answers why not)
and filters a whole recipient set with `content_eligible_q`. Both apply the same rules:

- the version is approved and inside its validity window;
- the contact's kind is one of the version's contact kinds (empty: any);
- an HCP has one of its specialties (empty: any); a pediatric version reaches only HCPs whose
  specialty is classified Pediatrics or Family Medicine (NUCC classification, any specialization);
- the contact's language is one of its languages (empty: the languages it has bodies in);
- the contact's territory is one of its territories (empty: any);
- on a channel whose body holds PHI, a patient must have accepted PHI on that channel; HCPs are
  not patients; caregivers never get a patient's PHI this way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.db.models import Exists, OuterRef, Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from carereach.audience.models import Contact, ContactKind, Specialty
from carereach.content.models import ContentBody, ContentVersion, VersionStatus

PEDIATRIC_CLASSIFICATIONS = ("Pediatrics", "Family Medicine")


class Reason(StrEnum):
    ELIGIBLE = "eligible"  # may be sent
    CONTENT_UNAPPROVED = "content_unapproved"  # a draft or still in review
    CONTENT_NOT_YET_VALID = "content_not_yet_valid"  # approved, window not open yet
    CONTENT_EXPIRED = "content_expired"  # the validity window has ended
    CONTENT_WITHDRAWN = "content_withdrawn"  # a reviewer withdrew it
    WRONG_CONTACT_KIND = "wrong_contact_kind"  # e.g. an HCP item and a patient
    WRONG_SPECIALTY = "wrong_specialty"  # the HCP's specialty is not among the version's
    WRONG_LANGUAGE = "wrong_language"  # no body in the contact's language
    WRONG_TERRITORY = "wrong_territory"  # the contact's territory is not among the version's
    NO_BODY = "no_body"  # nothing written for this channel and language
    PHI_NOT_ACCEPTED = "phi_not_accepted"  # a PHI body on a channel the patient did not accept


REASON_TEXT: dict[Reason, str] = {
    Reason.ELIGIBLE: "may be sent",
    Reason.CONTENT_UNAPPROVED: "the version is not approved",
    Reason.CONTENT_NOT_YET_VALID: "the version's validity window has not opened",
    Reason.CONTENT_EXPIRED: "the version has expired",
    Reason.CONTENT_WITHDRAWN: "the version was withdrawn",
    Reason.WRONG_CONTACT_KIND: "the version is not for this kind of contact",
    Reason.WRONG_SPECIALTY: "the version is not for this contact's specialty",
    Reason.WRONG_LANGUAGE: "the version has no body in the contact's language",
    Reason.WRONG_TERRITORY: "the version is not for this contact's territory",
    Reason.NO_BODY: "the version has no body for this channel and language",
    Reason.PHI_NOT_ACCEPTED: "the body holds PHI and the patient has not accepted PHI on "
    "this channel",
}


@dataclass(frozen=True)
class Eligibility:
    reason: Reason

    @property
    def eligible(self) -> bool:
        return self.reason == Reason.ELIGIBLE

    @property
    def message(self) -> str:
        return REASON_TEXT[self.reason]

    def __bool__(self) -> bool:
        return self.eligible


def version_availability(version: ContentVersion, now: datetime | None = None) -> Reason:
    """ELIGIBLE when the version may go out now, else the content reason why not."""
    now = now or timezone.now()
    if version.status == VersionStatus.WITHDRAWN:
        return Reason.CONTENT_WITHDRAWN
    if version.status == VersionStatus.EXPIRED:
        return Reason.CONTENT_EXPIRED
    if version.status != VersionStatus.APPROVED:
        return Reason.CONTENT_UNAPPROVED
    if version.valid_from is not None and now < version.valid_from:
        return Reason.CONTENT_NOT_YET_VALID
    if version.valid_until is not None and now >= version.valid_until:
        return Reason.CONTENT_EXPIRED
    return Reason.ELIGIBLE


def version_languages(version: ContentVersion) -> list[str]:
    """The languages the version may be sent in: its list, or those it has bodies in."""
    if version.languages:
        return list(version.languages)
    return sorted({body.language for body in version.bodies.all()})


def _specialty_codes(version: ContentVersion) -> list[str] | None:
    """The HCP specialty codes the version allows, or None for any."""
    codes: set[str] | None = set(version.specialties) if version.specialties else None
    if version.pediatric:
        pediatric = set(
            Specialty.objects.filter(classification__in=PEDIATRIC_CLASSIFICATIONS).values_list(
                "code", flat=True
            )
        )
        codes = pediatric if codes is None else codes & pediatric
    return None if codes is None else sorted(codes)


def content_eligibility(
    *,
    version: ContentVersion,
    contact: Contact,
    channel: str | None = None,
    language: str | None = None,
    now: datetime | None = None,
) -> Eligibility:
    """May `version` go to `contact` now (on `channel`, in `language`), and if not, why."""
    availability = version_availability(version, now)
    if availability != Reason.ELIGIBLE:
        return Eligibility(availability)
    if version.contact_kinds and contact.kind not in version.contact_kinds:
        return Eligibility(Reason.WRONG_CONTACT_KIND)
    if contact.kind == ContactKind.HCP:
        allowed = _specialty_codes(version)
        if allowed is not None:
            held = set(
                Specialty.objects.filter(hcps__contact=contact).values_list("code", flat=True)
            )
            if not held & set(allowed):
                return Eligibility(Reason.WRONG_SPECIALTY)
    spoken = language_code(contact.language)
    if (language is not None and language_code(language) != spoken) or spoken not in (
        version_languages(version)
    ):
        return Eligibility(Reason.WRONG_LANGUAGE)
    if version.territories:
        territory_code = contact.territory.code if contact.territory is not None else None
        if territory_code not in version.territories:
            return Eligibility(Reason.WRONG_TERRITORY)
    if channel is not None:
        if not ContentBody.objects.filter(
            version=version, channel=channel, language=spoken
        ).exists():
            return Eligibility(Reason.NO_BODY)
        if channel in version_phi_channels(version) and not _accepted_phi(contact, channel):
            return Eligibility(Reason.PHI_NOT_ACCEPTED)
    return Eligibility(Reason.ELIGIBLE)


@functools.lru_cache(maxsize=256)  # the fan-out asks it several times per recipient
def language_code(language: str) -> str:
    """The primary language subtag: "es-MX" → "es"."""
    return language.split("-")[0].strip().lower()


def version_phi_channels(version: ContentVersion) -> list[str]:
    return list(version.phi_channels or [])


def _accepted_phi(contact: Contact, channel: str) -> bool:
    if contact.kind == ContactKind.HCP:
        return True
    if contact.kind != ContactKind.PATIENT:
        return False
    profile = getattr(contact, "patient", None)
    return profile is not None and channel in (profile.phi_accepted_channels or [])


def content_eligible_q(
    *,
    version: ContentVersion,
    channel: str | None = None,
    language: str | None = None,
    now: datetime | None = None,
) -> Q:
    """A condition on Contact rows: the contacts `version` may reach now, in one query.

    `Contact.objects.filter(content_eligible_q(version=v, channel="sms"))`. Each contact's own
    language must be one the version has (with `channel`, one it has a body for on that channel);
    `language` narrows that to one language.
    """
    if version_availability(version, now) != Reason.ELIGIBLE:
        return Q(pk__in=[])
    condition = Q()
    if version.contact_kinds:
        condition &= Q(kind__in=version.contact_kinds)
    allowed = _specialty_codes(version)
    if allowed is not None:
        condition &= ~Q(kind=ContactKind.HCP) | Q(
            Exists(Specialty.objects.filter(hcps__contact=OuterRef("pk"), code__in=allowed))
        )
    languages = version_languages(version)
    if channel is not None:
        languages = [
            lang
            for lang in languages
            if ContentBody.objects.filter(version=version, channel=channel, language=lang).exists()
        ]
    if language is not None:
        languages = [lang for lang in languages if lang == language_code(language)]
    spoken = Q(pk__in=[])
    for lang in languages:
        spoken |= Q(language__iexact=lang) | Q(language__istartswith=f"{lang}-")
    condition &= spoken
    if version.territories:
        condition &= Q(territory__code__in=version.territories)
    if channel is not None and channel in version_phi_channels(version):
        accepted = Exists(
            Contact.objects.filter(pk=OuterRef("pk"), kind=ContactKind.PATIENT)
            .annotate(_phi=Cast("patient__phi_accepted_channels", TextField()))
            .filter(_phi__contains=f'"{channel}"')
        )
        condition &= Q(kind=ContactKind.HCP) | Q(accepted)
    return condition
