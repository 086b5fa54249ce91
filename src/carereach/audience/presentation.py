"""How a contact is shown to someone: what is PHI, and its masked form.

Console pages, the REST API, exports and consent pages all show contacts; they share these
rules so a patient's name or phone is never hidden on one surface and visible on another.
A patient's or caregiver's name, phone, e-mail and street are PHI; an HCP's are directory data.
"""

from __future__ import annotations

from carereach.audience.models import Contact


def contact_name(contact: Contact, *, show_phi: bool) -> str:
    """A display name; patient and caregiver names only for roles that may see PHI."""
    if contact.kind == "hcp" and hasattr(contact, "hcp"):
        return contact.hcp.display_name or f"HCP {contact.hcp.npi or contact.pk}"
    if not show_phi:
        return f"{contact.get_kind_display()} #{contact.pk}"
    profile = getattr(contact, contact.kind, None)
    parts = [getattr(profile, "first_name", None), getattr(profile, "last_name", None)]
    return " ".join(p for p in parts if p) or f"{contact.get_kind_display()} #{contact.pk}"


def may_show_reach(contact: Contact, *, show_phi: bool) -> bool:
    """May this viewer see the contact's phones, e-mails and street address in full?"""
    return show_phi or contact.kind == "hcp"


def mask_phone(e164: str) -> str:
    return "••• ••• " + e164[-4:]


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}"
