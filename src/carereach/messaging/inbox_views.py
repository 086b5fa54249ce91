"""Console pages of the inbox: texts people sent that were not keywords, replies, reviews.

Reps see their territory's contacts; texts from numbers no contact has are shown only to roles
that see every territory. Message text is a patient's PHI: shown to roles that may see it, and
every conversation opened is audited.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from carereach.audience.presentation import contact_name, mask_phone, may_show_reach
from carereach.audience.selectors import contacts_for_user
from carereach.errors import CarereachError
from carereach.messaging.models import InboundMessage
from carereach.messaging.selectors import conversation, inbox_for_contacts
from carereach.messaging.services.inbox import inbound_review_resolve, inbox_reply
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import acting_user, has_capability, require_capability
from carereach.security.roles import Capability


def _visible(user: User, inbound: InboundMessage) -> bool:
    if inbound.contact_id is None:
        return has_capability(user, Capability.ALL_TERRITORIES)
    return contacts_for_user(user=user).filter(pk=inbound.contact_id).exists()


def _shown(user: User, inbound: InboundMessage) -> bool:
    phi = has_capability(user, Capability.VIEW_PHI)
    return phi if inbound.contact is None else may_show_reach(inbound.contact, show_phi=phi)


@require_capability(Capability.USE_INBOX)
@require_http_methods(["GET"])
def inbox_view(request: HttpRequest) -> HttpResponse:
    user = acting_user(request)
    review_only = request.GET.get("review") == "1"
    rows = inbox_for_contacts(
        contacts=contacts_for_user(user=user),
        strangers=has_capability(user, Capability.ALL_TERRITORIES),
        review_only=review_only,
    )
    phi = has_capability(user, Capability.VIEW_PHI)
    items = [
        {
            "inbound": row,
            "who": contact_name(row.contact, show_phi=phi) if row.contact else "unknown number",
            "number": row.from_number if _shown(user, row) else mask_phone(row.from_number),
            "text": row.body if _shown(user, row) else None,
        }
        for row in rows
    ]
    return render(request, "messaging/inbox.html", {"items": items, "review_only": review_only})


@require_capability(Capability.USE_INBOX)
@require_http_methods(["GET", "POST"])
def conversation_view(request: HttpRequest, inbound_id: int) -> HttpResponse:
    user = acting_user(request)
    inbound = InboundMessage.objects.select_related("contact").filter(pk=inbound_id).first()
    if inbound is None or not _visible(user, inbound):
        raise Http404("No such conversation.")
    error, draft, status = "", "", 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            if action == "reply":
                draft = request.POST.get("body", "")
                inbox_reply(inbound=inbound, body=draft, actor=user)
            elif action in ("keep_opt_out", "not_opt_out"):
                inbound_review_resolve(
                    inbound=inbound, opt_out=action == "keep_opt_out", actor=user
                )
            else:
                raise Http404("Unknown action.")
            return redirect("messaging:conversation", inbound_id=inbound.pk)
        except CarereachError as problem:
            error, status = problem.message, 400
    shown = _shown(user, inbound)
    if shown:
        audit_record(
            actor=user,
            action=AuditAction.READ,
            object_type="conversation",
            object_id=inbound.pk,
            note="inbox conversation shown",
        )
    phi = has_capability(user, Capability.VIEW_PHI)
    return render(
        request,
        "messaging/conversation.html",
        {
            "inbound": inbound,
            "who": contact_name(inbound.contact, show_phi=phi) if inbound.contact else "unknown",
            "number": inbound.from_number if shown else mask_phone(inbound.from_number),
            "thread": conversation(number=inbound.from_number) if shown else [],
            "shown": shown,
            "error": error,
            "draft": draft,
            "pending_review": inbound.needs_review,
        },
        status=status,
    )
