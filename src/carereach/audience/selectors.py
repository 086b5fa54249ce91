"""Reads of contacts and segments, always scoped to what the acting user may see.

Field reps see the contacts of their territories only; every list, detail, count and export
goes through `contacts_for_user`, so no page or endpoint can forget the rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import OuterRef, Q, QuerySet, Subquery, Value

from carereach.audience.models import (
    Contact,
    ContactStatus,
    Email,
    Phone,
    PostalAddress,
    Segment,
    Specialty,
    Territory,
)
from carereach.audience.presentation import contact_name
from carereach.errors import NotFoundError
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability
from carereach.sqlvalues import many


def contacts_for_user(*, user: User) -> QuerySet[Contact]:
    """Contacts the user may see; none when they may not see contacts at all."""
    if not has_capability(user, Capability.VIEW_CONTACTS):
        return Contact.objects.none()
    contacts = Contact.objects.exclude(status=ContactStatus.MERGED)
    if has_capability(user, Capability.ALL_TERRITORIES):
        return contacts
    return contacts.filter(territory__reps=user)


# What a list row shows besides the contact: its profile and territory, one join each.
PAGE_RELATED = ("hcp", "patient", "caregiver", "territory")


def contacts_page(
    contacts: QuerySet[Contact], *, offset: int = 0, limit: int, prefetch: Sequence[str] = ()
) -> list[Contact]:
    """One page of `contacts`, newest first, in two queries.

    The first finds the page's ids with the filter alone (the planner can walk an id index
    and stop after `limit` rows); the second loads those contacts with `PAGE_RELATED` joined
    (and `prefetch`). Joining the profiles in the first query made the planner join every
    candidate row before it could sort and cut.
    """
    ids = list(contacts.order_by("-id").values_list("pk", flat=True)[offset : offset + limit])
    return contacts_in_order(ids, prefetch=prefetch)


def contacts_in_order(ids: Sequence[int], *, prefetch: Sequence[str] = ()) -> list[Contact]:
    """The contacts with these ids (already scoped by the caller), in the same order."""
    if not ids:
        return []
    found = (
        Contact.objects.select_related(*PAGE_RELATED).prefetch_related(*prefetch).in_bulk(list(ids))
    )
    return [found[pk] for pk in ids if pk in found]


def contact_get_for_user(*, user: User, contact_id: int) -> Contact:
    """One contact the user may see; anything else is 'not found', never 'forbidden'."""
    contact = (
        contacts_for_user(user=user).select_related(*PAGE_RELATED).filter(pk=contact_id).first()
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


def preferred_channels_for(*, contact_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each contact's preferred channels, in their order (an empty list: no preference)."""
    rows = Contact.objects.filter(pk__in=list(contact_ids)).values_list("pk", "preferred_channels")
    return {pk: [str(c) for c in (channels or [])] for pk, channels in rows}


def contacts_for_email(address: str) -> list[Contact]:
    """Contacts that have this e-mail address (any case), oldest first (a mail service's
    complaint or unsubscribe names only the address)."""
    ids = Email.objects.filter(address__iexact=address).values_list("contact_id", flat=True)
    return list(Contact.objects.filter(pk__in=ids).order_by("pk"))


def language_for_phone(number: str) -> str:
    """The language of the oldest contact with this exact number ("en" when nobody has it): what
    a call to the number speaks."""
    language = (
        Phone.objects.filter(e164=number)
        .order_by("contact_id")
        .values_list("contact__language", flat=True)
        .first()
    )
    return language or "en"


@dataclass(frozen=True)
class Reach:
    """What the delivery engine needs to know about reaching one contact on one channel."""

    contact_id: int
    kind: str
    status: str
    time_zone: str
    language: str
    state: str  # of the first-ranked postal address, for state quiet-hour rules
    address: str  # the first-ranked phone (sms, voice) or e-mail; "" when none
    line_type: str  # of that phone; "" for e-mail
    confidential_channel: str  # patients only: the only channel they allow, or ""
    confidential_address: str  # patients only: the only address they allow, or ""


def _first(model: type[Phone] | type[Email] | type[PostalAddress], column: str) -> Subquery:
    rows = model.objects.filter(contact=OuterRef("pk")).order_by("rank", "id")
    return Subquery(rows.values(column)[:1])


POSTAL_PREFIX = "postal:"  # a postal address as the ledger and the outbox name it


def postal_address_name(pk: int) -> str:
    return f"{POSTAL_PREFIX}{pk}"


def _address_name(channel: str, best: object) -> str:
    if not best:
        return ""
    return postal_address_name(int(str(best))) if channel == "letter" else str(best)


def reach_for_contacts(*, contact_ids: list[int], channel: str) -> dict[int, Reach]:
    """One query for a whole batch: each contact's best address on the channel and the facts
    the policy engine weighs (status, zone, state, confidential-communication request)."""
    phone = channel in ("sms", "voice")
    if phone:
        best = _first(Phone, "e164")
    elif channel == "letter":  # the postal address's id, named below as consent names it
        best = _first(PostalAddress, "id")
    else:
        best = _first(Email, "address")
    rows = Contact.objects.filter(pk__in=many(contact_ids)).annotate(
        best_address=best,
        best_line=_first(Phone, "line_type") if phone else Value(""),
        best_state=_first(PostalAddress, "state"),
    )
    found: dict[int, Reach] = {}
    for row in rows.values(
        "pk",
        "kind",
        "status",
        "time_zone",
        "language",
        "best_address",
        "best_line",
        "best_state",
        "patient__confidential_channel",
        "patient__confidential_address",
    ):
        found[row["pk"]] = Reach(
            contact_id=row["pk"],
            kind=row["kind"],
            status=row["status"],
            time_zone=row["time_zone"] or "",
            language=row["language"] or "en",
            state=row["best_state"] or "",
            address=_address_name(channel, row["best_address"]),
            line_type=row["best_line"] or "",
            confidential_channel=row["patient__confidential_channel"] or "",
            confidential_address=row["patient__confidential_address"] or "",
        )
    return found


@dataclass(frozen=True)
class PostalRecipient:
    """Who a letter to one postal address goes to, as printed on it."""

    contact_id: int
    name: str  # the full name (PHI for patients: for the letter, never for a log)
    lines: tuple[str, ...]  # street, second line, "City, ST 12345", country outside the US
    large_print: bool  # the contact's accessibility needs ask for large print


def postal_recipients(postal_ids: Sequence[int]) -> dict[int, PostalRecipient]:
    """The recipient block of each postal address id that still exists."""
    rows = PostalAddress.objects.filter(pk__in=list(postal_ids)).select_related(
        "contact", "contact__hcp", "contact__patient", "contact__caregiver"
    )
    found: dict[int, PostalRecipient] = {}
    for row in rows:
        place = f"{row.city}, {row.state} {row.postal_code}".strip()
        lines = [row.line1, row.line2, place, "" if row.country == "US" else row.country]
        found[row.pk] = PostalRecipient(
            contact_id=row.contact_id,
            name=contact_name(row.contact, show_phi=True),
            lines=tuple(line for line in lines if line),
            large_print=row.contact.large_print,
        )
    return found
