"""Reads of contacts and segments, always scoped to what the acting user may see.

Field reps see the contacts of their territories only; every list, detail, count and export
goes through `contacts_for_user`, so no page or endpoint can forget the rule.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from carereach.audience.models import (
    Contact,
    ContactStatus,
    Phone,
    Segment,
    Specialty,
    Territory,
)
from carereach.errors import NotFoundError
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability


def contacts_for_user(*, user: User) -> QuerySet[Contact]:
    """Contacts the user may see; none when they may not see contacts at all."""
    if not has_capability(user, Capability.VIEW_CONTACTS):
        return Contact.objects.none()
    contacts = Contact.objects.exclude(status=ContactStatus.MERGED)
    if has_capability(user, Capability.ALL_TERRITORIES):
        return contacts
    return contacts.filter(territory__reps=user)


def contact_get_for_user(*, user: User, contact_id: int) -> Contact:
    """One contact the user may see; anything else is 'not found', never 'forbidden'."""
    contact = (
        contacts_for_user(user=user)
        .select_related("hcp", "patient", "caregiver", "territory")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise NotFoundError("No such contact.")
    return contact


def contact_count_for_dashboard(*, user: User) -> int:
    """A rep counts their territories' contacts; everyone else the whole audience (an aggregate,
    which analysts may see although they may not open a single record)."""
    if has_capability(user, Capability.VIEW_CONTACTS) and not has_capability(
        user, Capability.ALL_TERRITORIES
    ):
        return contacts_for_user(user=user).count()
    return Contact.objects.exclude(status=ContactStatus.MERGED).count()


def territories_for_user(*, user: User) -> QuerySet[Territory]:
    if has_capability(user, Capability.ALL_TERRITORIES):
        return Territory.objects.all()
    return Territory.objects.filter(reps=user)


def contact_search(*, user: User, text: str = "", kind: str = "") -> QuerySet[Contact]:
    """Search by HCP name, NPI, phone or e-mail (patient names are encrypted: use the MRN)."""
    contacts = contacts_for_user(user=user)
    if kind:
        contacts = contacts.filter(kind=kind)
    text = text.strip()
    if text:
        digits = "".join(ch for ch in text if ch.isdigit())
        condition = Q(hcp__last_name__istartswith=text) | Q(hcp__first_name__istartswith=text)
        condition |= Q(emails__address=text.lower())
        if len(digits) == 10 and digits[0] in "12":
            condition |= Q(hcp__npi=digits)
        if len(digits) >= 10:
            condition |= Q(phones__e164__endswith=digits[-10:])
        contacts = contacts.filter(pk__in=Contact.objects.filter(condition).values("pk"))
    return contacts.order_by("-id")


def specialty_codes() -> frozenset[str]:
    """The taxonomy codes in force: those loaded into the database."""
    return frozenset(Specialty.objects.values_list("code", flat=True))


def segments_all() -> QuerySet[Segment]:
    return Segment.objects.all()


def segment_get(*, segment_id: int) -> Segment:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        raise NotFoundError("No such segment.")
    return segment


def contact_ids_for_phone(number: str) -> list[int]:
    """Contacts that have this exact E.164 number, oldest first (an inbound text's sender)."""
    return sorted(set(Phone.objects.filter(e164=number).values_list("contact_id", flat=True)))
