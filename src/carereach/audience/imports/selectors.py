"""Which imports a user may see: their own; every import for roles that may see PHI.

An import's error file and stored upload hold the rows as given, patient PHI included, so an
importer without the view_phi capability sees only the imports they uploaded themselves.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from carereach.audience.models import ContactImport
from carereach.errors import NotFoundError
from carereach.security.permissions import has_capability
from carereach.security.roles import Capability


def contact_imports_for_user(*, user: User) -> QuerySet[ContactImport]:
    if not has_capability(user, Capability.IMPORT_CONTACTS):
        return ContactImport.objects.none()
    if has_capability(user, Capability.VIEW_PHI):
        return ContactImport.objects.all()
    return ContactImport.objects.filter(created_by=user)


def contact_import_get_for_user(*, user: User, import_id: int) -> ContactImport:
    """One import the user may see; anything else is 'not found'."""
    found = contact_imports_for_user(user=user).filter(pk=import_id).first()
    if found is None:
        raise NotFoundError("No such import.")
    return found
