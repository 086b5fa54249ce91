"""Dispatch: workers claim due outbox rows, call the provider, and record what happened.

Never twice: a row moves queued → sending in the claiming transaction (PostgreSQL: `FOR UPDATE
SKIP LOCKED`, so workers on many machines never claim the same row; SQLite: one worker), and the
outcome is written only onto a row still claimed by this worker. A worker that dies between the
provider call and the write leaves the row in `sending`; after CARE_SEND_STALE_SECONDS it is sent
again only when the provider deduplicates on our key, and otherwise failed with that reason: a
possible loss is reported, a possible duplicate is never risked.

Never lost: every path ends in a terminal status with an event and a reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from carereach.channels.base import (
    STATUS_RANK,
    DeliveryStatus,
    Outbound,
    SendResult,
    Transport,
)
from carereach.channels.registry import transport_for
from carereach.consent.inbound import carrier_opt_out_record
from carereach.consent.links import unsubscribe_headers
from carereach.consent.selectors import consented_row_q, revoked_row_q, suppressed_addresses
from carereach.consent.services import suppression_add
from carereach.content.tracking import link_delivered
from carereach.errors import ConfigError, ValidationError
from carereach.messaging.models import (
    WAITING,
    EventKind,
    Lane,
    Message,
    MessageEvent,
    MessageStatus,
)
from carereach.messaging.policy.decide import NO_PRIOR_CONSENT
from carereach.messaging.services.fallback import fallback_after_outcome
from carereach.messaging.services.outbox import Reason, event_new
from carereach.messaging.services.pacing import budget_take
from carereach.vocabulary import Channel

logger = logging.getLogger(__name__)

UNSUBSCRIBED = "21610"  # the carrier says the person opted out: write it back to the ledger
# Errors that say the address itself is unusable: later sends to it are skipped as suppressed.
SUPPRESSING = {
    "21211": "invalid",  # Twilio: not a valid phone number
    "30005": "invalid",  # unknown destination handset
    "bounce": "bounced",  # the sandbox's hard bounce
    "smtp_550": "bounced",  # mailbox unavailable
    "smtp_551": "bounced",  # user not local
    "smtp_553": "bounced",  # mailbox name not allowed
}
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    expired: int = 0
    recovered: int = 0
    paced: int = 0  # left waiting for their sender's rate limit
    statuses: dict[str, int] = field(default_factory=dict)


class Transports:
    """The transport of each channel, built once per pass rather than once per message."""

    def __init__(self) -> None:
        self._built: dict[str, Transport] = {}

    def get(self, channel: str) -> Transport:
        if channel not in self._built:
            self._built[channel] = transport_for(channel)
        return self._built[channel]


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    step: timedelta = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(step, BACKOFF_CAP)


def _finish(ids: list[int], status: str, kind: str, now: datetime, reason: Reason) -> int:
    """Move waiting or claimed rows to a terminal status, appending the reason and an event."""
    messages = list(Message.objects.filter(pk__in=ids))
    for message in messages:
        message.status = status
        message.done_at = now
        message.reasons = [*message.reasons, reason.as_dict()]
    Message.objects.bulk_update(messages, ["status", "done_at", "reasons"])
    MessageEvent.objects.bulk_create(
        [event_new(m, kind, now, reason=reason.code) for m in messages]
    )
    return len(messages)


def outbox_recover(*, now: datetime) -> int:
    """Rows left in `sending` by a worker that stopped: retry if safe, else fail with the reason."""
    stale = now - timedelta(seconds=settings.SEND_STALE_SECONDS)
    with transaction.atomic():
        rows = Message.objects.filter(status=MessageStatus.SENDING, claimed_at__lt=stale)
        if connection.vendor == "postgresql":
            rows = rows.select_for_update(skip_locked=True)
        stuck = list(rows.values_list("pk", "channel"))
        transports = Transports()
        retry = [pk for pk, channel in stuck if transports.get(channel).idempotent]
        give_up = [pk for pk, _ in stuck if pk not in set(retry)]
        if retry:
            Message.objects.filter(pk__in=retry).update(
                status=MessageStatus.QUEUED, claimed_by="", claimed_at=None, due_at=now
            )
            MessageEvent.objects.bulk_create(
                [
                    MessageEvent(
                        message_id=pk,
                        kind=EventKind.RETRY,
                        at=now,
                        detail={"reason": "worker_stopped"},
                    )
                    for pk in retry
                ]
            )
        if give_up:
            _finish(
                give_up,
                MessageStatus.FAILED,
                EventKind.FAILED,
                now,
                Reason(
                    "outcome_unknown",
                    "The worker stopped while sending and this provider cannot tell whether "
                    "it went out; not retried, so it is never sent twice.",
                ),
            )
    return len(stuck)


def _suppressed_in(rows: QuerySet[Message]) -> list[int]:
    pairs = list(rows.values_list("pk", "channel", "address"))
    dead: list[int] = []
    for channel in {channel for _, channel, _ in pairs}:
        addresses = [address for _, c, address in pairs if c == channel]
        gone = suppressed_addresses(channel=channel, addresses=addresses)
        dead.extend(pk for pk, c, address in pairs if c == channel and address in gone)
    return dead


def outbox_claim(*, worker: str, limit: int, now: datetime) -> tuple[list[int], DispatchReport]:
    """Claim up to `limit` due rows, best lane first; expire and skip what may no longer go."""
    report = DispatchReport()
    with transaction.atomic():
        due = Message.objects.filter(status__in=WAITING, due_at__lte=now).order_by(
            "lane", "due_at", "id"
        )
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True, of=("self",))
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return [], report
        batch = Message.objects.filter(pk__in=ids)
        expired = list(batch.filter(expires_at__lte=now).values_list("pk", flat=True))
        report.expired = _finish(
            expired,
            MessageStatus.EXPIRED,
            EventKind.EXPIRED,
            now,
            Reason("expired", "It was still waiting when it went stale; never sent late."),
        )
        # Consent is checked again at the last moment, for the whole batch in one query: an
        # opt-out that arrived after the message was queued wins. Consent notices are exempt.
        exempt = Q(program__type__in=sorted(NO_PRIOR_CONSENT))
        revoked = list(
            batch.exclude(pk__in=expired)
            .exclude(lane=Lane.CONSENT)
            .filter(program__isnull=False)
            .filter((~exempt & ~consented_row_q(now=now)) | (exempt & revoked_row_q()))
            .values_list("pk", flat=True)
        )
        report.skipped = _finish(
            revoked,
            MessageStatus.SKIPPED,
            EventKind.SKIPPED,
            now,
            Reason("consent_gone", "Consent was revoked or expired after it was queued."),
        )
        dead = _suppressed_in(batch.exclude(pk__in=[*expired, *revoked]))
        report.skipped += _finish(
            dead,
            MessageStatus.SKIPPED,
            EventKind.SKIPPED,
            now,
            Reason("suppressed", "The address was found unusable after it was queued."),
        )
        for pk in dead:
            fallback_after_outcome(
                message_id=pk, status=MessageStatus.SKIPPED, error_code="suppressed"
            )
        claimed = [pk for pk in ids if pk not in set(expired) | set(revoked) | set(dead)]
        claimed, report.paced = _pace(claimed, now)
        Message.objects.filter(pk__in=claimed).update(
            status=MessageStatus.SENDING,
            claimed_by=worker,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
    report.claimed = len(claimed)
    return claimed, report


def _pace(ids: list[int], now: datetime) -> tuple[list[int], int]:
    """Keep what each paced sender's budget allows now; the rest wait, due when it will fit.

    Only providers that are throttled per sender are paced (carriers; not the sandbox)."""
    rows = list(
        Message.objects.filter(pk__in=ids)
        .order_by("lane", "due_at", "id")
        .values_list("pk", "channel", "sender", "segments")
    )
    by_sender: dict[str, list[tuple[int, int]]] = {}
    transports = Transports()
    for pk, channel, sender, segments in rows:
        if transports.get(channel).paced:
            by_sender.setdefault(sender, []).append((pk, max(segments, 1)))
    waiting: list[int] = []
    for sender, queue in sorted(by_sender.items()):
        grant = budget_take(sender=sender, costs=[cost for _, cost in queue], now=now)
        later = [pk for pk, _ in queue[grant.allowed :]]
        if later and grant.retry_at is not None:
            Message.objects.filter(pk__in=later).update(due_at=grant.retry_at)
            waiting.extend(later)
    return [pk for pk in ids if pk not in set(waiting)], len(waiting)


def _record(message: Message, result: SendResult, provider: str, worker: str) -> str:
    """Write one provider outcome onto a row this worker still holds; returns the new status."""
    now = timezone.now()
    events: list[MessageEvent] = []
    update: dict[str, object] = {"provider": provider, "error_code": result.error_code}
    if result.accepted:
        status = result.status if STATUS_RANK.get(result.status, 0) >= 2 else MessageStatus.SENT
        update |= {
            "status": status if status != DeliveryStatus.QUEUED else MessageStatus.SENT,
            "provider_message_id": result.provider_message_id,
            "segments": result.segments,
            "sent_at": now,
        }
        events.append(event_new(message, EventKind.SENT, now, provider=provider))
        if update["status"] != MessageStatus.SENT:
            update["done_at"] = now
            events.append(event_new(message, str(update["status"]), now, code=result.error_code))
    elif (
        result.retryable
        and message.attempts < settings.SEND_MAX_ATTEMPTS
        and not (message.expires_at and message.expires_at <= now + backoff(message.attempts))
    ):
        update |= {
            "status": MessageStatus.QUEUED,
            "due_at": now + backoff(message.attempts),
            "claimed_by": "",
            "claimed_at": None,
        }
        events.append(event_new(message, EventKind.RETRY, now, code=result.error_code))
    else:
        update |= {
            "status": MessageStatus.FAILED,
            "done_at": now,
            "provider_message_id": result.provider_message_id,
            "reasons": [
                *message.reasons,
                Reason(
                    "provider_refused",
                    f"The provider refused it ({result.error_code or 'no code'}"
                    f"{': ' + result.error_message if result.error_message else ''}).",
                ).as_dict(),
            ],
        }
        events.append(event_new(message, EventKind.FAILED, now, code=result.error_code))
    with transaction.atomic():
        held = Message.objects.filter(
            pk=message.pk, status=MessageStatus.SENDING, claimed_by=worker
        ).update(**update)
        if not held:  # recovered by another worker meanwhile: it owns the row now
            logger.warning("message %s was no longer ours to record", message.pk)
            return MessageStatus.SENDING
        MessageEvent.objects.bulk_create(events)
        if update.get("status") == MessageStatus.DELIVERED:
            link_delivered(message_key=message.key, at=now)  # scanner rule: clicks within 1 s
        if result.error_code == UNSUBSCRIBED and message.channel != "email":
            carrier_opt_out_record(
                sender=message.sender,
                number=message.address,
                error_code=result.error_code,
                carrier_message_id=result.provider_message_id or message.key,
            )
        _suppress_if_dead(message, provider, result.error_code)
        fallback_after_outcome(
            message_id=message.pk, status=str(update["status"]), error_code=result.error_code
        )
    return str(update["status"])


def _suppress_if_dead(message: Message, provider: str, error_code: str) -> None:
    reason = SUPPRESSING.get(error_code)
    if reason:
        suppression_add(
            address=message.address,
            channel=message.channel,
            reason=reason,
            source=f"{provider} {error_code} on message {message.pk}",
        )


def _headers(message: Message) -> dict[str, str]:
    """E-mail of a program carries RFC 8058 one-click unsubscribe headers (Gmail and Yahoo
    require them for bulk mail); an address with no consent record has nothing to leave."""
    if message.channel != Channel.EMAIL or message.program is None:
        return {}
    try:
        return unsubscribe_headers(message.address, message.program)
    except ValidationError:
        return {}


def dispatch_due(*, worker: str, limit: int | None = None) -> DispatchReport:
    """One pass: recover stale claims, claim a batch, send each row, record each outcome."""
    now = timezone.now()
    recovered = outbox_recover(now=now)
    ids, report = outbox_claim(worker=worker, limit=limit or settings.DISPATCH_BATCH, now=now)
    report.recovered = recovered
    messages = (
        Message.objects.filter(pk__in=ids)
        .select_related("program")
        .order_by("lane", "due_at", "id")
    )
    transports = Transports()
    for message in messages.iterator(chunk_size=500):
        try:
            transport = transports.get(message.channel)
        except ConfigError:  # a provider with missing settings: keep the row, say why in the log
            logger.exception("no provider for %s messages", message.channel)
            Message.objects.filter(pk=message.pk, claimed_by=worker).update(
                status=MessageStatus.QUEUED,
                claimed_by="",
                claimed_at=None,
                due_at=timezone.now() + BACKOFF_CAP,
            )
            continue
        outbound = Outbound(
            key=message.key,
            channel=message.channel,
            to=message.address,
            sender=message.sender,
            body=message.body or "",
            subject=message.subject or "",
            headers=_headers(message),
        )
        try:
            result = transport.send(outbound)
        except Exception:  # a bug or an outage in an adapter must not stop the batch
            logger.exception(
                "provider %s raised while sending message %s", transport.code, message.pk
            )
            result = SendResult(accepted=False, error_code="adapter_error", retryable=True)
        status = _record(message, result, transport.code, worker)
        report.statuses[status] = report.statuses.get(status, 0) + 1
        if status == MessageStatus.FAILED:
            report.failed += 1
        elif status == MessageStatus.QUEUED:
            report.retried += 1
        elif status != MessageStatus.SENDING:
            report.sent += 1
    return report


def message_status_apply(
    *, provider: str, provider_message_id: str, status: str, error_code: str = ""
) -> bool:
    """A delivery receipt: move the message forward only (receipts come late, twice, reordered).

    Returns False when no message has that provider id (yet): the caller keeps the receipt.
    """
    now = timezone.now()
    with transaction.atomic():
        rows = Message.objects.filter(provider=provider, provider_message_id=provider_message_id)
        if connection.vendor == "postgresql":
            rows = rows.select_for_update()
        message = rows.first()
        if message is None:
            return False
        if STATUS_RANK.get(status, 0) <= STATUS_RANK.get(message.status, 0):
            return True  # old news
        fields = {"status": status, "error_code": error_code or message.error_code}
        if status in (DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED, DeliveryStatus.FAILED):
            fields["done_at"] = now  # type: ignore[assignment]
        Message.objects.filter(pk=message.pk).update(**fields)
        event_new(message, status, now, code=error_code).save()
        if status == DeliveryStatus.DELIVERED:
            link_delivered(message_key=message.key, at=now)
        if error_code == UNSUBSCRIBED and message.channel != "email":
            carrier_opt_out_record(
                sender=message.sender,
                number=message.address,
                error_code=error_code,
                carrier_message_id=provider_message_id,
            )
        _suppress_if_dead(message, provider, error_code)
        fallback_after_outcome(message_id=message.pk, status=status, error_code=error_code)
    return True
