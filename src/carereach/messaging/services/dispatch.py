"""Dispatch: workers claim due outbox rows in batches, send them, and record what happened.

A pass (`dispatch_due`) is four steps, each a few statements per batch rather than per message:

1. **Recover** rows left in `sending` (`outbox_recover`): a worker that stopped mid-batch, or a
   send the provider did not answer. Such a message is sent again only when that cannot reach
   the person twice: the provider deduplicates on our key (the sandbox), or a lookup at the
   provider (Twilio: its Messages list, by recipient, sender and text) says it did not go; a
   lookup that finds it records it as sent. Any other provider's row fails with
   `outcome_unknown`: a possible loss is reported, a possible duplicate is never risked.
2. **Claim** (`outbox_claim`): queued → sending in one transaction (PostgreSQL: `FOR UPDATE SKIP
   LOCKED`, so workers on many machines never claim the same row; SQLite: one worker), with
   expiry, consent and suppression checked again for the whole batch, and each paced sender's
   messages given their slots from its shared schedule (`pacing`).
3. **Send**: a transport that can (`send_batch`: Twilio) sends the batch concurrently, each
   message at its slot; others one by one.
4. **Record** (`outcomes_record`): every outcome in one UPDATE over a VALUES list, written only
   onto rows this worker still holds, plus the events in one INSERT, in one transaction.

Never lost: every path ends in a terminal status with an event and a reason.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from carereach.channels.base import (
    LATE,
    STATUS_RANK,
    DeliveryStatus,
    Outbound,
    SendResult,
    Transport,
    too_late,
)
from carereach.channels.registry import transport_for
from carereach.consent.inbound import carrier_opt_out_record
from carereach.consent.links import unsubscribe_headers
from carereach.consent.models import Program
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
from carereach.messaging.services.bulk import events_add, messages_set
from carereach.messaging.services.fallback import fallback_after_outcome
from carereach.messaging.services.outbox import Reason, event_new
from carereach.messaging.services.pacing import LEAD, budgets_take, sender_rate
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
QUICK_RETRY = timedelta(milliseconds=500)  # first retry after a hiccup of a provider's API
QUICK_ATTEMPTS = 2  # hiccup retries before the 30 s schedule
RECOVER_BATCH = 200  # stuck rows looked at per pass
LOOKUP_MARGIN = timedelta(minutes=5)  # clock skew allowed between us and the provider
SETTLE = timedelta(milliseconds=250)  # from giving out slots to sending: the claim commits
# A sender allowed more than this (segments/s) is faster than a fleet of workers sends: its
# messages take their places in its schedule but go at once, with no slot to keep.
TIMED_UP_TO = 1000.0


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
    unknown: int = 0  # no answer from the provider: looked up there before any resend
    statuses: dict[str, int] = field(default_factory=dict)


class Transports:
    """The transport of each channel, built once per pass rather than once per message.

    `overrides` replaces the configured provider of some channels (benchmarks and tests)."""

    def __init__(self, overrides: Mapping[str, Transport] | None = None) -> None:
        self._built: dict[str, Transport] = dict(overrides or {})

    def get(self, channel: str) -> Transport:
        if channel not in self._built:
            self._built[channel] = transport_for(channel)
        return self._built[channel]


@dataclass
class Claim:
    """One claimed row, with what sending it and recording its outcome need."""

    pk: int
    key: str
    channel: str
    address: str
    sender: str
    body: str
    program_id: int | None
    attempts: int  # including this one
    segments: int
    due_at: datetime
    claimed_at: datetime
    expires_at: datetime | None = None
    slot: datetime | None = None  # a paced sender's moment for it
    subject: str = ""

    def outbound(self, headers: Mapping[str, str] | None = None) -> Outbound:
        return Outbound(
            key=self.key,
            channel=self.channel,
            to=self.address,
            sender=self.sender,
            body=self.body,
            subject=self.subject,
            headers=headers or {},
        )


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    step: timedelta = BACKOFF_BASE * (2 ** max(attempts - 1, 0))
    return min(step, BACKOFF_CAP)


def retry_delay(attempts: int, retry_after: float | None) -> timedelta:
    """When a transient failure is tried again. A provider that asked (Retry-After) or whose API
    hiccuped (a 5xx, a refused connection: `retry_after` 0) is tried again after what it asked,
    but at least half a second doubling per attempt for the first QUICK_ATTEMPTS, then on the
    30 s schedule: a hiccup costs a second, an outage is waited out without hammering the
    provider. Anything else backs off from 30 s. Jitter (up to a quarter more) keeps workers
    from retrying in step."""
    if retry_after is None:
        base = backoff(attempts)
    elif attempts <= QUICK_ATTEMPTS:
        base = max(timedelta(seconds=retry_after), QUICK_RETRY * (2 ** max(attempts - 1, 0)))
    else:
        base = max(timedelta(seconds=retry_after), backoff(attempts - QUICK_ATTEMPTS))
    return min(base, BACKOFF_CAP) * random.uniform(1.0, 1.25)  # noqa: S311 (jitter, not secrets)


def provider_hiccup(result: SendResult) -> bool:
    """The provider, not this message, failed (5xx, 429, unreachable): tried again until the
    message expires, whatever CARE_SEND_MAX_ATTEMPTS says, so an outage loses nothing."""
    return result.retryable and result.retry_after is not None


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


# --- recover ----------------------------------------------------------------------------------


def outbox_recover(*, now: datetime, transports: Transports | None = None) -> int:
    """Rows left in `sending`: by a worker that went silent longer than CARE_SEND_STALE_SECONDS,
    or released with an unknown outcome longer than CARE_SEND_RECONCILE_SECONDS ago. Resent only
    when that is safe, recorded as sent when the provider has it, otherwise failed."""
    transports = transports or Transports()
    stale = now - timedelta(seconds=settings.SEND_STALE_SECONDS)
    settled = now - timedelta(seconds=settings.SEND_RECONCILE_SECONDS)
    with transaction.atomic():
        rows = Message.objects.filter(status=MessageStatus.SENDING).filter(
            Q(claimed_at__lt=stale) | Q(claimed_by="", claimed_at__lt=settled)
        )
        if connection.vendor == "postgresql":
            rows = rows.select_for_update(skip_locked=True)
        stuck = list(rows.order_by("claimed_at")[:RECOVER_BATCH])
        if not stuck:
            return 0
        retry: list[int] = []  # safe to send again: the provider dedupes on our key
        unsent: list[int] = []  # the provider says it never got them
        give_up: list[int] = []
        taken: set[str] = set()  # provider ids matched to a row in this pass
        for message in stuck:
            try:
                transport = transports.get(message.channel)
            except ConfigError:
                continue  # no provider configured: leave it for when there is one
            if transport.idempotent:
                retry.append(message.pk)
            elif getattr(transport, "lookup", None) is not None:
                verdict = _reconcile(message, transport, taken, now)
                if verdict == NOT_SENT:
                    unsent.append(message.pk)
            else:
                give_up.append(message.pk)
        if retry or unsent:
            Message.objects.filter(pk__in=[*retry, *unsent]).update(
                status=MessageStatus.QUEUED, claimed_by="", claimed_at=None, due_at=now
            )
            events_add(
                [(pk, EventKind.RETRY, now, {"reason": "worker_stopped"}) for pk in retry]
                + [(pk, EventKind.RETRY, now, {"reason": "not_sent"}) for pk in unsent]
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


SENT, NOT_SENT, UNKNOWN = "sent", "not_sent", "unknown"


def _reconcile(message: Message, transport: Any, taken: set[str], now: datetime) -> str:
    """Ask the provider whether this message went: SENT (now recorded so), NOT_SENT (safe to
    send again), or UNKNOWN when the provider could not say (asked again next pass).

    A match is a message of the provider's with the same recipient, sender and text created
    since shortly before the claim that no other row of ours has recorded; so two rows with the
    same text to the same person each find their own, or one is sent again."""
    since = (message.claimed_at or now) - LOOKUP_MARGIN
    found = transport.lookup(message_outbound(message), since)
    if found is None:
        return UNKNOWN
    ids = [r.provider_message_id for r in found]
    recorded = set(
        Message.objects.filter(provider=transport.code, provider_message_id__in=ids)
        .exclude(pk=message.pk)
        .values_list("provider_message_id", flat=True)
    )
    free = [r for r in found if r.provider_message_id not in recorded | taken]
    if not free:
        return NOT_SENT
    result = free[-1]  # the oldest unclaimed match
    taken.add(result.provider_message_id)
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENT,
        provider=transport.code,
        provider_message_id=result.provider_message_id,
        segments=result.segments,
        error_code="",
        sent_at=now,
    )
    events_add(
        [(message.pk, EventKind.SENT, now, {"provider": transport.code, "reason": "reconciled"})]
    )
    return SENT


def message_outbound(message: Message) -> Outbound:
    return Outbound(
        key=message.key,
        channel=message.channel,
        to=message.address,
        sender=message.sender,
        body=message.body or "",
        subject=message.subject or "",
    )


# --- claim ------------------------------------------------------------------------------------


def _suppressed(rows: Sequence[tuple[int, str, str]]) -> list[int]:
    """Ids of (id, channel, address) rows whose address is suppressed on the channel."""
    dead: list[int] = []
    for channel in {channel for _, channel, _ in rows}:
        addresses = [address for _, c, address in rows if c == channel]
        gone = suppressed_addresses(channel=channel, addresses=addresses)
        dead.extend(pk for pk, c, address in rows if c == channel and address in gone)
    return dead


def _consent_gone(ids: list[int], now: datetime) -> list[int]:
    """Consent is checked again at the last moment, for the whole batch in one query: an opt-out
    that arrived after the message was queued wins. Consent notices are exempt."""
    if not ids:
        return []
    exempt = Q(program__type__in=sorted(NO_PRIOR_CONSENT))
    return list(
        Message.objects.filter(pk__any_of=ids)
        .filter((~exempt & ~consented_row_q(now=now)) | (exempt & revoked_row_q()))
        .values_list("pk", flat=True)
    )


def outbox_claim(
    *, worker: str, limit: int, now: datetime, transports: Transports | None = None
) -> tuple[list[Claim], DispatchReport]:
    """Claim up to `limit` due rows, best lane first; expire and skip what may no longer go,
    and give each paced sender's messages their slots (the rest wait, due near their slot)."""
    transports = transports or Transports()
    report = DispatchReport()
    with transaction.atomic():
        due = Message.objects.filter(status__in=WAITING, due_at__lte=now).order_by(
            "lane", "due_at", "id"
        )
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True, of=("self",))
        rows = list(
            due.values_list(
                "pk", "channel", "address", "sender", "segments", "expires_at", "lane", "program_id"
            )[:limit]
        )
        if not rows:
            return [], report
        expired = [pk for pk, *_, expires, _, _ in rows if expires is not None and expires <= now]
        report.expired = _finish(
            expired,
            MessageStatus.EXPIRED,
            EventKind.EXPIRED,
            now,
            Reason("expired", "It was still waiting when it went stale; never sent late."),
        )
        out = set(expired)
        revoked = _consent_gone(
            [
                pk
                for pk, *_, lane, program in rows
                if pk not in out and lane != Lane.CONSENT and program is not None
            ],
            now,
        )
        report.skipped = _finish(
            revoked,
            MessageStatus.SKIPPED,
            EventKind.SKIPPED,
            now,
            Reason("consent_gone", "Consent was revoked or expired after it was queued."),
        )
        out |= set(revoked)
        dead = _suppressed([(r[0], r[1], r[2]) for r in rows if r[0] not in out])
        report.skipped += _finish(
            dead,
            MessageStatus.SKIPPED,
            EventKind.SKIPPED,
            now,
            Reason("suppressed", "The address was found unusable after it was queued."),
        )
        for pk in dead:  # the trigger may name another channel: move on to it
            fallback_after_outcome(
                message_id=pk, status=MessageStatus.SKIPPED, error_code="suppressed"
            )
        out |= set(dead)
        slots, waiting = _pace([r for r in rows if r[0] not in out], now, transports)
        report.paced = len(waiting)
        claimed = [r[0] for r in rows if r[0] not in out and r[0] not in waiting]
        Message.objects.filter(pk__any_of=claimed).update(
            status=MessageStatus.SENDING,
            claimed_by=worker,
            claimed_at=now,
            attempts=F("attempts") + 1,
        )
        expiry = {r[0]: r[5] for r in rows}
        fetched = Message.objects.filter(pk__any_of=claimed).order_by("lane", "due_at", "id")
        claims = [
            Claim(
                pk=pk,
                key=key,
                channel=channel,
                address=address,
                sender=sender,
                body=body or "",
                program_id=program_id,
                attempts=attempts,
                segments=segments,
                due_at=due_at,
                claimed_at=now,
                expires_at=expiry[pk],
                slot=slots.get(pk),
            )
            for pk, key, channel, address, sender, body, program_id, attempts, segments, due_at in (
                fetched.values_list(
                    "pk",
                    "key",
                    "channel",
                    "address",
                    "sender",
                    "body",
                    "program_id",
                    "attempts",
                    "segments",
                    "due_at",
                )
            )
        ]
        mail = [c.pk for c in claims if c.channel == Channel.EMAIL]
        if mail:  # only e-mail has a subject: the rest are not decrypted for nothing
            subjects = dict(Message.objects.filter(pk__any_of=mail).values_list("pk", "subject"))
            for claim in claims:
                claim.subject = subjects.get(claim.pk) or ""
    report.claimed = len(claims)
    return claims, report


def _pace(
    rows: Sequence[tuple[Any, ...]], now: datetime, transports: Transports
) -> tuple[dict[int, datetime], set[int]]:
    """Slots for the messages of paced senders, from their shared schedules; the ones that do
    not fit now get due shortly before their expected slot, without counting an attempt."""
    demands: dict[str, list[tuple[int, int]]] = {}
    for pk, channel, _, sender, segments, *_ in rows:
        try:
            paced = transports.get(channel).paced
        except ConfigError:
            paced = False  # dispatch puts these back and logs why
        if paced:
            demands.setdefault(sender, []).append((pk, max(segments, 1)))
    grants = budgets_take(
        {sender: [cost for _, cost in queue] for sender, queue in demands.items()},
        now=now,
        start=timezone.now() + SETTLE,  # the claim commits before the first one goes
    )
    slots: dict[int, datetime] = {}
    later: list[tuple[int, datetime]] = []
    for sender, queue in demands.items():
        grant = grants[sender]
        if sender_rate(sender) <= TIMED_UP_TO:  # sent at its slot (or not at all, if late)
            for (pk, _), slot in zip(queue, grant.slots, strict=False):
                slots[pk] = slot
        for (pk, _), expected in zip(queue[grant.allowed :], grant.later, strict=True):
            later.append((pk, max(expected - LEAD, now)))
    if later:
        messages_set([("due_at", "time")], later)
    return slots, {pk for pk, _ in later}


# --- send -------------------------------------------------------------------------------------


@dataclass
class Sent:
    claim: Claim
    result: SendResult
    provider: str


def _headers(claim: Claim, programs: Mapping[int, Program]) -> dict[str, str]:
    """E-mail of a program carries RFC 8058 one-click unsubscribe headers (Gmail and Yahoo
    require them for bulk mail); an address with no consent record has nothing to leave."""
    program = programs.get(claim.program_id) if claim.program_id else None
    if claim.channel != Channel.EMAIL or program is None:
        return {}
    try:
        return unsubscribe_headers(claim.address, program)
    except ValidationError:
        return {}


def _send(claims: list[Claim], transports: Transports, worker: str) -> list[Sent]:
    """Send every claim through its channel's transport: a batch-capable one gets the whole
    channel's batch at once, others one message at a time (each not before its slot)."""
    mail = {c.program_id for c in claims if c.channel == Channel.EMAIL and c.program_id}
    programs = Program.objects.in_bulk(list(mail)) if mail else {}
    sent: list[Sent] = []
    for channel in dict.fromkeys(c.channel for c in claims):
        batch = [c for c in claims if c.channel == channel]
        try:
            transport = transports.get(channel)
        except ConfigError:  # a provider with missing settings: keep the rows, say why in the log
            logger.exception("no provider for %s messages", channel)
            Message.objects.filter(pk__in=[c.pk for c in batch], claimed_by=worker).update(
                status=MessageStatus.QUEUED,
                claimed_by="",
                claimed_at=None,
                due_at=timezone.now() + BACKOFF_CAP,
            )
            continue
        outbounds = [c.outbound(_headers(c, programs)) for c in batch]
        send_batch = getattr(transport, "send_batch", None)
        if send_batch is not None:
            try:
                results = list(send_batch(outbounds, [c.slot for c in batch]))
            except Exception:  # a bug in an adapter must not lose the batch
                logger.exception("provider %s raised while sending a batch", transport.code)
                results = [_adapter_error()] * len(batch)
        else:
            results = [_send_one(transport, c, o) for c, o in zip(batch, outbounds, strict=True)]
        sent.extend(Sent(c, r, transport.code) for c, r in zip(batch, results, strict=True))
    return sent


def _adapter_error() -> SendResult:
    return SendResult(accepted=False, error_code="adapter_error", retryable=True)


def _send_one(transport: Transport, claim: Claim, outbound: Outbound) -> SendResult:
    if claim.slot is not None:
        wait = (claim.slot - timezone.now()).total_seconds()
        if wait > 0:
            time.sleep(wait)
        elif too_late(claim.slot, timezone.now()):
            return LATE
    try:
        return transport.send(outbound)
    except Exception:  # a bug or an outage in an adapter must not stop the batch
        logger.exception("provider %s raised while sending message %s", transport.code, claim.pk)
        return _adapter_error()


# --- record -----------------------------------------------------------------------------------

_OUTCOME_COLUMNS = (
    ("status", "text"),
    ("provider", "text"),
    ("provider_message_id", "text"),
    ("segments", "int"),
    ("error_code", "text"),
    ("sent_at", "time"),
    ("done_at", "time"),
    ("due_at", "time"),
    ("claimed_by", "text"),
    ("claimed_at", "time"),
    ("reasons", "json"),
    ("attempts", "int"),
)
REASONS = 1 + [name for name, _ in _OUTCOME_COLUMNS].index("reasons")  # its place in a row


@dataclass
class Outcome:
    """What one send's result does to its row: the new column values and the events."""

    sent: Sent
    status: str
    row: tuple[Any, ...]  # id, then one value per _OUTCOME_COLUMNS
    events: list[tuple[str, dict[str, str]]]


def _outcome(sent: Sent, worker: str, now: datetime) -> Outcome:
    claim, result, provider = sent.claim, sent.result, sent.provider
    code = result.error_code
    events: list[tuple[str, dict[str, str]]] = []
    sent_at: datetime | None = None
    done_at: datetime | None = None
    status: str
    claimed_at: datetime | None
    due_at, claimed_by, claimed_at = claim.due_at, worker, claim.claimed_at
    pmid, segments, reasons = result.provider_message_id, claim.segments, None
    attempts = claim.attempts
    delay = retry_delay(claim.attempts, result.retry_after)
    if result.unsent:  # its slot passed before it went: a new slot, and not an attempt
        status, claimed_by, claimed_at, due_at = MessageStatus.QUEUED, "", None, now
        attempts -= 1
    elif result.accepted:
        status = result.status if STATUS_RANK.get(result.status, 0) >= 2 else MessageStatus.SENT
        segments, sent_at = result.segments, now
        events.append((EventKind.SENT, {"provider": provider}))
        if status != MessageStatus.SENT:
            done_at = now
            events.append((status, {"code": code}))
    elif result.unknown:
        # The provider may have it: released for reconciliation, never resent blindly.
        status, claimed_by, claimed_at = MessageStatus.SENDING, "", now
        events.append((EventKind.RETRY, {"code": code, "reason": "outcome_unknown"}))
    elif (
        result.retryable
        and (claim.attempts < settings.SEND_MAX_ATTEMPTS or provider_hiccup(result))
        and not (claim.expires_at and claim.expires_at <= now + delay)
    ):
        status, claimed_by, claimed_at = MessageStatus.QUEUED, "", None
        due_at = now + delay
        events.append((EventKind.RETRY, {"code": code}))
    else:
        status, done_at = MessageStatus.FAILED, now
        detail = f": {result.error_message}" if result.error_message else ""
        reasons = Reason(
            "provider_refused", f"The provider refused it ({code or 'no code'}{detail})."
        ).as_dict()
        events.append((EventKind.FAILED, {"code": code}))
    row = (
        claim.pk,
        status,
        provider,
        pmid,
        segments,
        code,
        sent_at,
        done_at,
        due_at,
        claimed_by,
        claimed_at,
        reasons,
        attempts,
    )
    return Outcome(sent, status, row, events)


def outcomes_record(sent: Sequence[Sent], *, worker: str) -> list[Outcome]:
    """Write every send's outcome onto the rows this worker still holds, in one transaction:
    one UPDATE for all rows, one INSERT for their events, then what some outcomes set off
    (`_outcome_effects`). Returns the outcomes written (a row recovered by another worker
    meanwhile is that worker's now, and is left out)."""
    now = timezone.now()
    table = Message._meta.db_table
    outcomes = [_outcome(s, worker, now) for s in sent]
    if not outcomes:
        return []
    with transaction.atomic():
        failed = [o for o in outcomes if o.row[REASONS] is not None]
        if failed:  # a refusal appends its reason to the row's list
            current = dict(
                Message.objects.filter(pk__in=[o.row[0] for o in failed]).values_list(
                    "pk", "reasons"
                )
            )
            for o in failed:
                reasons = [*current.get(o.row[0], []), o.row[REASONS]]
                o.row = (*o.row[:REASONS], reasons, *o.row[REASONS + 1 :])
        held = messages_set(
            _OUTCOME_COLUMNS,
            [o.row for o in outcomes],
            where=f"{table}.status = %s AND {table}.claimed_by = %s",
            params=[MessageStatus.SENDING, worker],
            keep_if_null=frozenset({"reasons"}),
        )
        written = [o for o in outcomes if o.row[0] in held]
        for o in outcomes:
            if o.row[0] not in held:
                logger.warning("message %s was no longer ours to record", o.row[0])
        events_add([(o.row[0], kind, now, detail) for o in written for kind, detail in o.events])
        for o in written:
            _outcome_effects(o, now)
    return written


def _outcome_effects(outcome: Outcome, now: datetime) -> None:
    """What an outcome sets off beyond its row: tracked links learn the delivery time, a carrier
    opt-out goes to the consent ledger, a dead address is suppressed."""
    claim, result, provider = outcome.sent.claim, outcome.sent.result, outcome.sent.provider
    if outcome.status == MessageStatus.DELIVERED:
        link_delivered(message_key=claim.key, at=now)  # scanner rule: clicks within 1 s
    if result.error_code == UNSUBSCRIBED and claim.channel != Channel.EMAIL:
        carrier_opt_out_record(
            sender=claim.sender,
            number=claim.address,
            error_code=result.error_code,
            carrier_message_id=result.provider_message_id or claim.key,
        )
    _suppress_if_dead(claim.pk, claim.address, claim.channel, provider, result.error_code)
    # An address-level refusal moves a message whose trigger named more channels to the next.
    fallback_after_outcome(message_id=claim.pk, status=outcome.status, error_code=result.error_code)


def _suppress_if_dead(pk: int, address: str, channel: str, provider: str, error_code: str) -> None:
    reason = SUPPRESSING.get(error_code)
    if reason:
        suppression_add(
            address=address,
            channel=channel,
            reason=reason,
            source=f"{provider} {error_code} on message {pk}",
        )


# --- the pass ---------------------------------------------------------------------------------


def dispatch_due(
    *, worker: str, limit: int | None = None, transports: Transports | None = None
) -> DispatchReport:
    """One pass: recover stuck rows, claim a batch, send it, record every outcome."""
    now = timezone.now()
    transports = transports or Transports()
    recovered = outbox_recover(now=now, transports=transports)
    claims, report = outbox_claim(
        worker=worker, limit=limit or settings.DISPATCH_BATCH, now=now, transports=transports
    )
    report.recovered = recovered
    if not claims:
        return report
    for outcome in outcomes_record(_send(claims, transports, worker), worker=worker):
        status = outcome.status
        report.statuses[status] = report.statuses.get(status, 0) + 1
        if outcome.sent.result.unsent:
            report.paced += 1
        elif status == MessageStatus.FAILED:
            report.failed += 1
        elif status == MessageStatus.QUEUED:
            report.retried += 1
        elif status == MessageStatus.SENDING:
            report.unknown += 1
        else:
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
        _suppress_if_dead(message.pk, message.address, message.channel, provider, error_code)
        fallback_after_outcome(message_id=message.pk, status=status, error_code=error_code)
    return True
