"""What a mail service tells us after a mail left: bounces, complaints and unsubscribes.

django-anymail's tracking webhooks turn each service's payload (Postmark, Mailgun, SparkPost,
Mailjet, Brevo) into one normalised event; `email_event_apply` acts on it:

- a hard bounce (or a refusal because the address bounced before): the address is suppressed
  (`bounced`) and the mail becomes undelivered with `hard_bounce` (its cascade moves on);
- a soft bounce or a deferral: nothing (the service tries again);
- a complaint (marked as spam): the address is suppressed (`complained`) and its e-mail consent
  revoked for the mail's program (every program when the mail is not known);
- an unsubscribe at the service: e-mail consent revoked, likewise;
- delivered: the mail is delivered.

The mail is found by its Message-ID (ours, `message_id_for(key)`, which SMTP relays keep and
Mailgun and Brevo report back); when the service reports only its own id (Postmark), by the
last mail sent to that address in the past 3 days. Nothing is logged with the address.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from carereach.audience.selectors import contacts_for_email
from carereach.channels.base import DeliveryStatus
from carereach.consent.models import ConsentAction, ConsentMethod, Program, SuppressionReason
from carereach.consent.services import consent_record, suppression_add
from carereach.messaging.models import Message, MessageStatus
from carereach.messaging.services.dispatch import message_status_apply
from carereach.vocabulary import Channel

HARD_BOUNCE = "hard_bounce"
COMPLAINT = "complaint"
MATCH_WINDOW = timedelta(days=3)


class EmailEvent:
    """The kinds of event acted on (anymail's normalised event types)."""

    BOUNCED = "bounced"
    REJECTED = "rejected"
    COMPLAINED = "complained"
    UNSUBSCRIBED = "unsubscribed"
    DELIVERED = "delivered"


@dataclass(frozen=True)
class Tracked:
    """One normalised event from a mail service."""

    esp: str  # "Postmark", "Mailgun", ...
    kind: str  # an EmailEvent value (others are ignored)
    recipient: str
    message_id: str = ""  # the Message-ID, when the service reports ours
    hard: bool = False  # a bounce the service says is permanent
    at: datetime | None = None


def _message(tracked: Tracked, now: datetime) -> Message | None:
    mails = Message.objects.filter(channel=Channel.EMAIL).select_related("program", "contact")
    if tracked.message_id:
        wanted = tracked.message_id.strip()
        wanted = wanted if wanted.startswith("<") else f"<{wanted}>"
        found = mails.filter(provider_message_id=wanted).first()
        if found is not None:
            return found
    return (
        mails.filter(
            address__iexact=tracked.recipient,
            sent_at__gte=now - MATCH_WINDOW,
            status__in=[MessageStatus.SENT, MessageStatus.DELIVERED],
        )
        .order_by("-sent_at", "-id")
        .first()
    )


def _revoke(tracked: Tracked, message: Message | None, why: str) -> int:
    """The person said "no more mail": consent for the message's program, or every program."""
    programs: list[Program | None] = [message.program if message is not None else None]
    written = 0
    for contact in contacts_for_email(tracked.recipient):
        address = contact.emails.filter(address__iexact=tracked.recipient).values_list(
            "address", flat=True
        )[0]
        written += len(
            consent_record(
                contact=contact,
                address=address,
                channels=[Channel.EMAIL],
                programs=programs,
                action=ConsentAction.REVOKE,
                method=ConsentMethod.EMAIL_UNSUBSCRIBE,
                actor=None,
                evidence={"mail_service": tracked.esp, "event": tracked.kind},
                reason=why,
                occurred_at=tracked.at,
            ).entries
        )
    return written


def _suppress(tracked: Tracked, reason: str, what: str) -> None:
    """The address as our contacts' records spell it (as the service spelt it, if nobody has
    it: a later import of that address is then skipped too)."""
    spellings: set[str] = set()
    for contact in contacts_for_email(tracked.recipient):
        spellings.update(
            contact.emails.filter(address__iexact=tracked.recipient).values_list(
                "address", flat=True
            )
        )
    for address in sorted(spellings or {tracked.recipient}):
        suppression_add(
            address=address, channel=Channel.EMAIL, reason=reason, source=f"{tracked.esp} {what}"
        )


def email_event_apply(*, tracked: Tracked) -> str:
    """Act on one event; returns what was done ("suppressed", "revoked", ..., or "ignored")."""
    now = timezone.now()
    if tracked.at is not None and tracked.at > now:
        tracked = replace(tracked, at=now)
    if not tracked.recipient or "@" not in tracked.recipient:
        return "ignored"
    with transaction.atomic():
        message = _message(tracked, now)
        if tracked.kind in (EmailEvent.BOUNCED, EmailEvent.REJECTED) and tracked.hard:
            _suppress(tracked, SuppressionReason.BOUNCED, "hard bounce")
            if message is not None:
                _status(message, DeliveryStatus.UNDELIVERED, HARD_BOUNCE)
            return "suppressed"
        if tracked.kind == EmailEvent.COMPLAINED:
            _suppress(tracked, SuppressionReason.COMPLAINED, "spam complaint")
            _revoke(tracked, message, f"marked a mail as spam ({tracked.esp})")
            return "suppressed"
        if tracked.kind == EmailEvent.UNSUBSCRIBED:
            _revoke(tracked, message, f"unsubscribed at the mail service ({tracked.esp})")
            return "revoked"
        if tracked.kind == EmailEvent.DELIVERED and message is not None:
            _status(message, DeliveryStatus.DELIVERED, "")
            return "delivered"
    return "ignored"


def _status(message: Message, status: str, code: str) -> None:
    if message.provider and message.provider_message_id:
        message_status_apply(
            provider=message.provider,
            provider_message_id=message.provider_message_id,
            status=status,
            error_code=code,
        )
