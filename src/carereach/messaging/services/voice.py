"""Keys pressed during calls: the answer to a voice message, applied by workers.

A key press arrives like an inbound text (the ingest endpoint or the phone simulator stores it
raw with `ingest_record`, payload from `keypress_payload`); `keypress_process` then ties it to
the call it answers (the outbox row whose provider id is the call's) and acts:

- 9: the person stops calls from this program: the program's voice consent for that number is
  revoked (method `reply`, evidence: the call and the key), and the call gets `opted_out`;
- 1: a "confirmed" answer is offered to the reply handlers (`messaging.replies.reply_offer`,
  with `channel="voice"`), so a journey waiting for a confirmation hears it;
- any other key is recorded and nothing else happens.

Each press is kept in the inbox record (`InboundMessage`, once per call) and the call gets a
`replied` event. The key is never logged with the number.
"""

from __future__ import annotations

from datetime import datetime

from carereach.channels.base import InboundText, keypress_id
from carereach.consent.models import ConsentAction, ConsentMethod
from carereach.consent.services import consent_record
from carereach.messaging.models import (
    EventKind,
    InboundMessage,
    Message,
)
from carereach.messaging.replies import InboundReply, reply_offer
from carereach.messaging.services.outbox import event_new
from carereach.vocabulary import Channel

KEYPRESS = "keypress"  # the payload kind of a stored key press
KEY_CONFIRM = "1"
KEY_STOP = "9"
CONFIRMED = "confirmed"
MENU = "voice_menu"  # handled_by: answered by the call's own menu


def keypress_payload(press: InboundText) -> dict[str, str]:
    """What is stored for a key press (the call id is the press id without its suffix)."""
    return {
        "kind": KEYPRESS,
        "from": press.sender,
        "to": press.to,
        "body": press.body,
        "call": press.provider_message_id.removesuffix(keypress_id("")),
    }


def keypress_process(
    *, provider: str, provider_message_id: str, fields: dict[str, str], received_at: datetime
) -> bool:
    """Apply one stored key press; False while the call it answers is not recorded yet."""
    if InboundMessage.objects.filter(
        provider=provider, provider_message_id=provider_message_id
    ).exists():
        return True
    call = (
        Message.objects.select_related("program", "contact")
        .filter(provider=provider, provider_message_id=fields["call"], channel=Channel.VOICE)
        .first()
    )
    if call is None:
        return False
    digits = fields["body"]
    inbound = InboundMessage.objects.create(
        provider=provider,
        provider_message_id=provider_message_id,
        from_number=fields["from"],
        to_number=fields["to"],
        body=digits,
        contact_id=call.contact_id,
        in_reply_to=call,
        received_at=received_at,
        handled_by=MENU,
    )
    events = [event_new(call, EventKind.REPLIED, received_at, keypress=digits)]
    if digits == KEY_STOP and call.contact is not None and call.program is not None:
        consent_record(
            contact=call.contact,
            address=call.address,
            channels=[Channel.VOICE],
            programs=[call.program],
            action=ConsentAction.REVOKE,
            method=ConsentMethod.REPLY,
            actor=None,
            evidence={"call_id": fields["call"], "keypress": digits},
            reason="pressed 9 during a call to stop calls from this program",
            occurred_at=received_at,
        )
        inbound.category = "opt_out"
        events.append(event_new(call, EventKind.OPTED_OUT, received_at))
    elif digits == KEY_CONFIRM:
        taken = reply_offer(
            InboundReply(
                inbound_id=inbound.pk,
                provider=provider,
                provider_message_id=provider_message_id,
                contact_id=call.contact_id,
                from_number=fields["from"],
                to_number=fields["to"],
                body=digits,
                received_at=received_at,
                in_reply_to_id=call.pk,
                in_reply_to_key=call.key,
                channel=Channel.VOICE,
                answer=CONFIRMED,
            )
        )
        inbound.handled_by = taken or MENU
    inbound.save(update_fields=["category", "handled_by"])
    for event in events:
        event.save()
    return True
