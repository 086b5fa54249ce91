"""The inbox: people answer texts that were not keywords, and a person reviews unclear ones.

A reply from the console goes through the outbox like any message (the person's own question
is what allows it), but never to someone who opted out of every program on that number, and
never while an unclear reply of theirs waits for review (it counts as an opt-out until then).
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from carereach.consent.selectors import address_opted_out
from carereach.consent.services import consent_unclear_resolve
from carereach.errors import ConflictError, ValidationError
from carereach.messaging.models import InboundMessage, Lane, Message
from carereach.messaging.services.outbox import Reason, message_enqueue
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.vocabulary import Channel

MAX_REPLY = 640  # four segments: an answer, not a newsletter


@transaction.atomic
def inbound_review_resolve(*, inbound: InboundMessage, opt_out: bool, actor: User) -> int:
    """Settle an unclear reply; returns how many consents were given back."""
    inbound = InboundMessage.objects.select_for_update().get(pk=inbound.pk)
    if not inbound.needs_review:
        raise ConflictError("This reply has already been reviewed.")
    restored = consent_unclear_resolve(
        inbound_message_id=inbound.provider_message_id, opt_out=opt_out, actor=actor
    )
    inbound.needs_review = False
    inbound.reviewed_by = actor.get_username()
    inbound.category = "opt_out" if opt_out else "reviewed"
    inbound.save(update_fields=["needs_review", "reviewed_by", "category"])
    return len(restored)


@transaction.atomic
def inbox_reply(*, inbound: InboundMessage, body: str, actor: User) -> Message:
    text = body.strip()
    if not text:
        raise ValidationError("Type a reply.", field="body")
    if len(text) > MAX_REPLY:
        raise ValidationError(f"At most {MAX_REPLY} characters.", field="body")
    if InboundMessage.objects.filter(from_number=inbound.from_number, needs_review=True).exists():
        raise ConflictError(
            "An unclear reply from this number waits for review; it counts as an opt-out until "
            "someone decides.",
            field="body",
        )
    if address_opted_out(address=inbound.from_number, sender=inbound.to_number):
        raise ConflictError(
            "This person opted out of every program on this number; no reply may be sent.",
            field="body",
        )
    count = Message.objects.filter(key__startswith=f"inbox:{inbound.pk}:").count()
    message = message_enqueue(
        key=f"inbox:{inbound.pk}:{count + 1}",
        origin="inbox",
        origin_ref=str(inbound.pk),
        lane=Lane.CLINICAL,
        contact_id=inbound.contact_id,
        channel=Channel.SMS,
        address=inbound.from_number,
        sender=inbound.to_number,
        body=text,
        reasons=[
            Reason(
                "inbox_reply",
                f"{actor.get_username()} answered the person's message from the inbox.",
            )
        ],
        reply_to=inbound.provider_message_id,
    )
    if message is None:  # two replies at once: the key was taken; ask to try again
        raise ConflictError("Another reply was just sent; reload and try again.")
    audit_record(
        actor=actor,
        action=AuditAction.CREATE,
        object_type="message",
        object_id=message.pk,
        note="inbox reply",
    )
    return message
