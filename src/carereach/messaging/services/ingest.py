"""Provider callbacks: stored raw at once (`ingest_record`), processed by workers afterwards.

The ingest endpoint answers the provider as soon as the row is committed, so a slow ledger
write or a busy database never makes a carrier retry or drop a callback; `ingest_process` then
applies receipts to the outbox and runs inbound texts through consent (STOP, HELP, YES, program
keywords) before anything else looks at them, queueing the reply consent says is due.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from carereach.audience.selectors import contact_ids_for_phone
from carereach.bulk import insert_rows
from carereach.channels.types.sandbox.transport import (
    sandbox_keypress_receive,
    sandbox_receive,
)
from carereach.consent.inbound import inbound_keyword_handle
from carereach.consent.notices import Notice, NoticeKind
from carereach.messaging import wake
from carereach.messaging.models import (
    EventKind,
    InboundMessage,
    IngestEvent,
    IngestKind,
    Message,
    MessageStatus,
)
from carereach.messaging.replies import InboundReply, reply_offer
from carereach.messaging.services.dispatch import message_status_apply
from carereach.messaging.services.outbox import event_new, notice_enqueue
from carereach.messaging.services.voice import KEYPRESS, keypress_payload, keypress_process
from carereach.vocabulary import Channel

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a callback that keeps failing is set aside with its error, for a person

REPLY_KINDS = {
    "opt_out": NoticeKind.OPT_OUT_CONFIRMATION,
    "unclear": NoticeKind.OPT_OUT_CONFIRMATION,
    "help": NoticeKind.HELP,
    "opt_in": NoticeKind.OPT_IN_CONFIRMATION,
    "program_keyword": NoticeKind.DOUBLE_OPT_IN_REQUEST,
}


@dataclass(frozen=True)
class IngestRecord:
    """One verified callback, as the ingest endpoint hands it over for storage."""

    provider: str
    kind: str  # IngestKind
    provider_message_id: str
    payload: Mapping[str, str]
    received_at: datetime


_COLUMNS = (
    "provider",
    "kind",
    "provider_message_id",
    "payload",
    "received_at",
    "attempts",
    "error",
)


def ingest_record_many(*, records: Sequence[IngestRecord]) -> int:
    """Store a batch of callbacks durably in one transaction (one multi-row INSERT); returns how
    many were new. An inbound text already stored (a carrier's retry, also within the batch) is
    skipped by the unique constraint, never an error. Any database error rolls the whole batch
    back and propagates: none of its callbacks may be acknowledged."""
    if not records:
        return 0
    payload_field = IngestEvent._meta.get_field("payload")
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (
            record.provider,
            record.kind,
            record.provider_message_id,
            payload_field.get_prep_value(json.dumps(dict(record.payload), sort_keys=True)),
            adapt(record.received_at),
            0,
            "",
        )
        for record in records
    ]
    with transaction.atomic():
        stored = insert_rows(
            table=IngestEvent._meta.db_table, columns=_COLUMNS, rows=rows, ignore_conflicts=True
        )
        transaction.on_commit(wake.nudge)
    return stored


def ingest_record(
    *, provider: str, kind: str, provider_message_id: str, payload: Mapping[str, str]
) -> bool:
    """Store one callback durably; False when it is an inbound text already stored (a retry)."""
    record = IngestRecord(
        provider=provider,
        kind=kind,
        provider_message_id=provider_message_id,
        payload=payload,
        received_at=timezone.now(),
    )
    return ingest_record_many(records=[record]) == 1


def sandbox_text_in(*, from_number: str, to: str, body: str) -> str:
    """A handset's text through the sandbox carrier, entering as a carrier callback would;
    returns the sandbox's message id. Used by the phone simulator and the sandbox API."""
    text = sandbox_receive(from_number=from_number, to=to, body=body)
    ingest_record(
        provider="sandbox",
        kind=IngestKind.INBOUND,
        provider_message_id=text.provider_message_id,
        payload={"from": from_number, "to": to, "body": body},
    )
    return text.provider_message_id


def sandbox_keypress(*, call_id: str, digits: str) -> str:
    """A key pressed on a sandbox call (the phone simulator's keypad), entering as Twilio's
    Gather callback would; returns the press id."""
    press = sandbox_keypress_receive(call_id=call_id, digits=digits)
    ingest_record(
        provider="sandbox",
        kind=IngestKind.INBOUND,
        provider_message_id=press.provider_message_id,
        payload=keypress_payload(press),
    )
    return press.provider_message_id


def _last_message_to(number: str, before: datetime) -> Message | None:
    return (
        Message.objects.filter(address=number, channel=Channel.SMS, sent_at__lte=before)
        .exclude(status__in=[MessageStatus.SKIPPED, MessageStatus.CANCELLED])
        .order_by("-sent_at", "-id")
        .first()
    )


def inbound_text_process(
    *,
    provider: str,
    provider_message_id: str,
    from_number: str,
    to_number: str,
    body: str,
    received_at: datetime,
) -> InboundMessage:
    """Consent first (the ledger write and the reply it owes commit together), then the inbox."""
    outcome = inbound_keyword_handle(
        sender=to_number,
        from_number=from_number,
        text=body,
        inbound_message_id=provider_message_id,
        received_at=received_at,
    )
    contact_ids = contact_ids_for_phone(from_number)
    previous = _last_message_to(from_number, received_at)
    inbound = InboundMessage.objects.create(
        provider=provider,
        provider_message_id=provider_message_id,
        from_number=from_number,
        to_number=to_number,
        body=body,
        contact_id=contact_ids[0] if contact_ids else None,
        category=outcome.category or "",
        needs_review=outcome.needs_review,
        in_reply_to=previous,
        received_at=received_at,
    )
    if not outcome.category and not outcome.needs_review:
        handled_by = reply_offer(
            InboundReply(
                inbound_id=inbound.pk,
                provider=provider,
                provider_message_id=provider_message_id,
                contact_id=inbound.contact_id,
                from_number=from_number,
                to_number=to_number,
                body=body,
                received_at=received_at,
                in_reply_to_id=previous.pk if previous else None,
                in_reply_to_key=previous.key if previous else None,
            )
        )
        if handled_by:
            inbound.handled_by = handled_by
            inbound.save(update_fields=["handled_by"])
    if previous is not None:
        events = [event_new(previous, EventKind.REPLIED, received_at, category=inbound.category)]
        if outcome.category in ("opt_out", "unclear") and outcome.entries:
            events.append(event_new(previous, EventKind.OPTED_OUT, received_at))
        for event in events:
            event.save()
    if outcome.reply:
        program = outcome.programs[0] if len(outcome.programs) == 1 else None
        notice_enqueue(
            Notice(
                kind=REPLY_KINDS.get(outcome.category or "", NoticeKind.HELP),
                key=f"reply:{provider}:{provider_message_id}",
                contact_id=contact_ids[0] if contact_ids else 0,
                channel=Channel.SMS,
                address=from_number,
                body=outcome.reply,
                program_id=program.pk if program else None,
                sender=to_number,
                reply_to_id=provider_message_id,
            )
        )
    return inbound


def _process(event: IngestEvent) -> bool:
    """Apply one stored callback; False means "not yet" (a receipt for a send not recorded)."""
    fields: dict[str, str] = json.loads(event.payload or "{}")
    if event.kind == IngestKind.STATUS:
        return message_status_apply(
            provider=event.provider,
            provider_message_id=event.provider_message_id,
            status=fields["status"],
            error_code=fields.get("error_code", ""),
        )
    if fields.get("kind") == KEYPRESS:  # a key pressed during a call
        return keypress_process(
            provider=event.provider,
            provider_message_id=event.provider_message_id,
            fields=fields,
            received_at=event.received_at,
        )
    if InboundMessage.objects.filter(
        provider=event.provider, provider_message_id=event.provider_message_id
    ).exists():
        return True
    inbound_text_process(
        provider=event.provider,
        provider_message_id=event.provider_message_id,
        from_number=fields["from"],
        to_number=fields["to"],
        body=fields["body"],
        received_at=event.received_at,
    )
    return True


def ingest_process(*, limit: int = 500) -> int:
    """Process pending callbacks in arrival order, each in its own transaction; returns how many
    were completed. A failure is kept on the row (class name only: payloads may hold PHI)."""
    done = 0
    pending = IngestEvent.objects.filter(processed_at__isnull=True).order_by("received_at", "id")
    for event_id in list(pending.values_list("pk", flat=True)[:limit]):
        try:
            with transaction.atomic():
                rows = IngestEvent.objects.filter(pk=event_id, processed_at__isnull=True)
                if connection.vendor == "postgresql":
                    rows = rows.select_for_update(skip_locked=True)
                event = rows.first()
                if event is None:
                    continue  # another worker has it
                finished = _process(event)
                event.attempts += 1
                if finished or event.attempts >= MAX_ATTEMPTS:
                    event.processed_at = timezone.now()
                    event.error = "" if finished else "no message with this provider id"
                    done += 1
                event.save(update_fields=["attempts", "processed_at", "error"])
        except Exception as error:
            logger.exception("callback %s failed", event_id)
            with transaction.atomic():
                event = IngestEvent.objects.get(pk=event_id)
                event.attempts += 1
                event.error = type(error).__name__[:300]
                if event.attempts >= MAX_ATTEMPTS:
                    event.processed_at = timezone.now()
                event.save(update_fields=["attempts", "processed_at", "error"])
    return done
