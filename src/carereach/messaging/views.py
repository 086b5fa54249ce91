"""Console pages of messaging: a contact's messages and skips, and one message explained.

"Why did she get this / why not?" is answered from what the outbox stored at decision time: the
reasons, the event timeline, and the exact text (a patient's only for roles that may see PHI;
reading it is audited).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from carereach.audience.models import Contact
from carereach.audience.presentation import contact_name, mask_email, mask_phone, may_show_reach
from carereach.audience.selectors import contact_get_for_user
from carereach.errors import NotFoundError
from carereach.messaging.models import Message
from carereach.messaging.selectors import message_events, message_get, messages_for_contact
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import acting_user, has_capability, require_capability
from carereach.security.roles import Capability


def _contact_or_404(user: User, contact_id: int) -> Contact:
    try:
        return contact_get_for_user(user=user, contact_id=contact_id)
    except NotFoundError as error:
        raise Http404(error.message) from None


def _address(message: Message, shown: bool) -> str:
    if shown or not message.address:
        return message.address
    return mask_email(message.address) if "@" in message.address else mask_phone(message.address)


def _partial(request: HttpRequest) -> bool:
    htmx = getattr(request, "htmx", None)
    return isinstance(htmx, HtmxDetails) and bool(htmx) and not htmx.history_restore_request


@require_capability(Capability.VIEW_CONTACTS)
@require_GET
def contact_messages_view(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Every message and every skip for one contact; the contact page loads it as a fragment."""
    user = acting_user(request)
    contact = _contact_or_404(user, contact_id)
    shown = may_show_reach(contact, show_phi=has_capability(user, Capability.VIEW_PHI))
    rows = [
        {"message": m, "address": _address(m, shown), "reason": (m.reasons or [{}])[-1]}
        for m in messages_for_contact(contact_id=contact.pk)
    ]
    context: dict[str, Any] = {"contact": contact, "rows": rows}
    template = "messaging/contact_messages.html"
    if _partial(request):
        template = "messaging/contact_messages_part.html"
    else:
        context["name"] = contact_name(contact, show_phi=has_capability(user, Capability.VIEW_PHI))
    return render(request, template, context)


@require_capability(Capability.VIEW_CONTACTS)
@require_GET
def message_view(request: HttpRequest, message_id: int) -> HttpResponse:
    user = acting_user(request)
    message = message_get(message_id=message_id)
    if message is None:
        raise Http404("No such message.")
    if message.contact_id is None:
        if not has_capability(user, Capability.ALL_TERRITORIES):
            raise Http404("No such message.")
        contact = None
        shown = has_capability(user, Capability.VIEW_PHI)
    else:
        contact = _contact_or_404(user, message.contact_id)
        shown = may_show_reach(contact, show_phi=has_capability(user, Capability.VIEW_PHI))
    if shown and (contact is None or contact.kind != "hcp"):
        audit_record(
            actor=user,
            action=AuditAction.READ,
            object_type="message",
            object_id=message.pk,
            note="message text shown",
        )
    return render(
        request,
        "messaging/message_detail.html",
        {
            "message": message,
            "contact": contact,
            "name": contact_name(contact, show_phi=shown) if contact else "unknown sender",
            "address": _address(message, shown),
            "text_shown": shown,
            "events": list(message_events(message=message)),
        },
    )
