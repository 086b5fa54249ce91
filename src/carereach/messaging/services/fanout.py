"""Plan → decide → render → outbox for one trigger over a recipient set, in bounded memory.

The recipients arrive as a queryset of contacts (a segment, a list, one contact). They are read
in keyset-paginated batches of ids; for each batch three set-based queries gather the facts
(audience: address, zone, state, confidential requests; consent: current status per address;
messaging: this week's counts), the pure policy engine decides each candidate, the renderer fills
the text for those that will go, and one bulk insert writes the batch to the outbox. Skips are
written too, with their reason, so "why didn't she get it?" always has an answer.

Idempotent: every row's key is (trigger, step, contact, channel). Re-running a trigger, resuming
it after a crash, or a contact sitting in two overlapping segments creates nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.audience.selectors import Reach, reach_for_contacts
from carereach.consent.models import Program, ProgramType
from carereach.consent.selectors import consent_statuses, suppressed_addresses
from carereach.messaging import wake
from carereach.messaging.models import EventKind, Lane, Message, MessageEvent, MessageStatus
from carereach.messaging.policy.decide import Action, Candidate, Decision, Limits, decide
from carereach.messaging.services.outbox import NewMessage, messages_write, segments_of
from carereach.messaging.services.pacing import sender_kind
from carereach.sqlvalues import many

# Statuses that count toward caps: what went or will go.
COUNTED = [
    MessageStatus.QUEUED,
    MessageStatus.HELD,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
]


@dataclass(frozen=True, slots=True)
class Rendered:
    body: str
    subject: str = ""
    segments: int = 0  # SMS segments, when the renderer measured them (0: measured here)


# A per-contact renderer (a fixed text, a test's): (contact, message key, language) -> Rendered.
Renderer = Callable[[Contact, str, str], Rendered]


@dataclass(frozen=True, slots=True)
class Recipient:
    """One message a batch renderer fills: who, under which key, in which language, where."""

    contact_id: int
    key: str
    language: str
    address: str


class BatchRenderer:
    """A renderer over a whole batch: `fn(recipients)` returns one `Rendered` per recipient, in
    order. The content app reads what the batch needs in a few queries instead of per contact,
    and fills each template once per distinct set of personal values."""

    def __init__(self, fn: Callable[[Sequence[Recipient]], list[Rendered]]) -> None:
        self.fn = fn

    def __call__(self, recipients: Sequence[Recipient]) -> list[Rendered]:
        return self.fn(recipients)


Render = Renderer | BatchRenderer


@dataclass(frozen=True)
class Trigger:
    key: str  # unique per trigger, e.g. "campaign:12"
    origin: str  # campaign, journey, series, api, rep
    program: Program
    channel: str
    step: str = ""  # a journey step or series episode
    lane: int = Lane.BULK
    sender: str = ""  # "" = the program's first sender for the channel
    expires_at: datetime | None = None
    promotional: bool = False
    content_version_id: int | None = None  # the approved version rendered, if any
    content_problem: str = ""  # "" when the content may go (from the content app)
    eligible: Callable[[Reach], bool] | None = None  # the content's audience rules
    # Further channels, in order, for contacts the first cannot reach (no consent, no address,
    # a landline...): each person gets one message, on the first channel that may be used.
    fallback: tuple[str, ...] = ()
    # On whose behalf it goes ("Follow-up from Sam Ortiz after a visit on ..."): stored as a
    # reason on each message, so "why did she get this?" names the person.
    attribution: str = ""

    @property
    def channels(self) -> tuple[str, ...]:
        return (self.channel, *[c for c in self.fallback if c != self.channel])

    def message_key(self, contact_id: int) -> str:
        # With a cascade the key names no channel: a re-run that would pick another channel
        # (consent changed meanwhile) still finds the first run's message and sends nothing.
        channel = "any" if self.fallback else self.channel
        return f"{self.key}:{self.step}:{contact_id}:{channel}"


@dataclass(frozen=True)
class Choice:
    """One contact's outcome: the channel used (or the first one tried, for a skip)."""

    channel: str
    facts: Reach
    decision: Decision
    passed_over: tuple[tuple[str, str], ...] = ()  # (channel, why not) before this one


@dataclass
class FanoutReport:
    planned: int = 0
    queued: int = 0
    held: int = 0
    skipped: int = 0
    existing: int = 0  # already in the outbox from an earlier run
    skip_reasons: dict[str, int] = field(default_factory=dict)


def _batches(contacts: QuerySet[Contact], size: int) -> Iterator[list[int]]:
    """Contact ids in ascending batches, by keyset: memory stays flat whatever the count."""
    last = 0
    ids = contacts.order_by().values_list("pk", flat=True).distinct()
    while True:
        batch = list(ids.filter(pk__gt=last).order_by("pk")[:size])
        if not batch:
            return
        yield batch
        last = batch[-1]


def _counts(
    trigger: Trigger,
    contact_ids: list[int],
    now: datetime,
    limits: Limits,
    discount: Collection[int] = (),
) -> dict[int, dict[str, int]]:
    """Each contact's messages of the last week that the caps weigh, only for the rules the
    trigger's program uses. One correlated count per contact and rule whose only conditions
    are the contact and the week, so each is one probe of the outbox's (contact, created_at)
    index; what is counted is sorted out in the aggregate's FILTER. (A grouped join over the
    batch's ids, or a condition on the program, let stale statistics turn each batch into a
    scan of the whole outbox.) `discount`: messages left out (a fallback replaces one)."""
    week = now - timedelta(days=7)
    program = trigger.program
    recent = (
        Message.objects.filter(contact_id=OuterRef("pk"), created_at__gte=week)
        .exclude(pk__in=list(discount))
        .order_by()
        .values("contact_id")
    )

    def count(condition: Q) -> Coalesce:
        counted = Count("id", filter=condition & Q(status__in=COUNTED))
        return Coalesce(Subquery(recent.annotate(n=counted).values("n")), 0)

    rules: dict[str, Coalesce] = {}
    if trigger.lane == Lane.BULK and limits.caps_per_week.get(program.type) is not None:
        same_type = list(Program.objects.filter(type=program.type).values_list("pk", flat=True))
        rules["capped"] = count(Q(program_id__in=same_type, lane=Lane.BULK))
    if program.type == ProgramType.HEALTHCARE_EXEMPT:
        rules["exempt_week"] = count(Q(program_id=program.pk))
        rules["exempt_day"] = count(
            Q(program_id=program.pk, created_at__gte=now - timedelta(days=1))
        )
    if not rules:
        return {}
    rows = Contact.objects.filter(pk__in=many(contact_ids)).annotate(**rules).values("pk", *rules)
    return {row["pk"]: row for row in rows}


def sender_for(trigger: Trigger, channel: str) -> str:
    if trigger.sender and channel == trigger.channel:
        return trigger.sender
    program = trigger.program
    choices = program.sender_emails if channel == "email" else program.sender_numbers
    return str(choices[0]) if choices else ""


def _decide_batch(
    trigger: Trigger, ids: list[int], limits: Limits, at: datetime, discount: Collection[int] = ()
) -> list[Choice]:
    """Each contact on the first channel of the cascade that may be used, else its first skip.

    `discount`: messages left out of the caps (a fallback replaces one that never arrived)."""
    chosen: dict[int, Choice] = {}
    skipped: dict[int, Choice] = {}
    passed: dict[int, list[tuple[str, str]]] = {}
    remaining = ids
    for channel in trigger.channels:
        for facts, decision in _decide_channel(trigger, channel, remaining, limits, at, discount):
            pk = facts.contact_id
            if decision.action == Action.SKIP:
                skipped.setdefault(pk, Choice(channel, facts, decision))
                passed.setdefault(pk, []).append((channel, decision.text))
            else:
                chosen[pk] = Choice(channel, facts, decision, tuple(passed.get(pk, ())))
        remaining = [pk for pk in remaining if pk not in chosen]
        if not remaining:
            break
    return [chosen.get(pk) or skipped[pk] for pk in ids if pk in chosen or pk in skipped]


def _decide_channel(
    trigger: Trigger,
    channel: str,
    ids: list[int],
    limits: Limits,
    at: datetime,
    discount: Collection[int] = (),
) -> list[tuple[Reach, Decision]]:
    """Facts for a batch in three set-based queries, then the pure decision for each."""
    kind = sender_kind(sender_for(trigger, channel))
    reach = reach_for_contacts(contact_ids=ids, channel=channel)
    consent = consent_statuses(
        program_id=trigger.program.pk,
        channel=channel,
        addresses=[r.address for r in reach.values() if r.address],
        now=at,
    )
    counts = _counts(trigger, ids, at, limits, discount)
    dead = suppressed_addresses(
        channel=channel, addresses=[r.address for r in reach.values() if r.address]
    )
    decided: list[tuple[Reach, Decision]] = []
    for pk in ids:
        facts = reach.get(pk)
        if facts is None:
            continue  # deleted since planning
        count = counts.get(pk, {})
        candidate = Candidate(
            contact_id=pk,
            channel=channel,
            address=facts.address,
            program_type=trigger.program.type,
            contact_status=facts.status,
            time_zone=facts.time_zone,
            state=facts.state,
            line_type=facts.line_type,
            consent=consent.get(facts.address, "none"),
            confidential_channel=facts.confidential_channel,
            confidential_address=facts.confidential_address,
            suppressed=facts.address in dead,
            content_problem=trigger.content_problem,
            eligible=trigger.eligible(facts) if trigger.eligible else True,
            promotional=trigger.promotional,
            sender_kind=kind,
            sent_week=count.get("capped", 0),
            exempt_day=count.get("exempt_day", 0),
            exempt_week=count.get("exempt_week", 0),
            bypass_caps=trigger.lane != Lane.BULK,
        )
        decided.append(
            (facts, decide(candidate, now=at, limits=limits, expires_at=trigger.expires_at))
        )
    return decided


def fanout(
    *,
    trigger: Trigger,
    contacts: QuerySet[Contact],
    render: Render,
    limits: Limits | None = None,
    now: datetime | None = None,
    batch_size: int = 2000,
    render_by_channel: Mapping[str, Render] | None = None,
) -> FanoutReport:
    """Write the trigger's messages (and skips) to the outbox; re-running adds only what's new."""
    limits = limits or Limits()
    report = FanoutReport()
    for ids in _batches(contacts, batch_size):
        at = now or timezone.now()
        keys = {pk: trigger.message_key(pk) for pk in ids}
        existing = set(
            Message.objects.filter(key__in=many(keys.values())).values_list("key", flat=True)
        )
        report.existing += len(existing)
        todo = [pk for pk in ids if keys[pk] not in existing]
        if todo:
            renderers = {c: (render_by_channel or {}).get(c, render) for c in trigger.channels}
            _write(trigger, _decide_batch(trigger, todo, limits, at), keys, renderers, at, report)
    return report


def fanout_decide_one(
    *,
    trigger: Trigger,
    contact_id: int,
    now: datetime,
    limits: Limits | None = None,
    discount: Collection[int] = (),
) -> Choice | None:
    """The decision `fanout` would make for one contact now (None: the contact is gone), for
    callers that write their own row (a post-send fallback)."""
    chosen = _decide_batch(trigger, [contact_id], limits or Limits(), now, discount)
    return chosen[0] if chosen else None


def cascade_after(trigger: Trigger, channel: str) -> list[str]:
    """The trigger's channels after `channel`: where a post-send fallback may still go."""
    if not trigger.fallback or channel not in trigger.channels:
        return []
    return list(trigger.channels[trigger.channels.index(channel) + 1 :])


@dataclass
class Preview:
    """What a trigger would do now, without writing anything: counts and samples per outcome."""

    total: int = 0
    send: int = 0
    hold: int = 0
    skip: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # reason code -> a person's words
    samples: dict[str, list[int]] = field(default_factory=dict)  # reason code -> contact ids


def fanout_preview(
    *,
    trigger: Trigger,
    contacts: QuerySet[Contact],
    limits: Limits | None = None,
    now: datetime | None = None,
    batch_size: int = 2000,
    sample_size: int = 5,
) -> Preview:
    """The same decisions `fanout` would make, counted by reason with a few contacts each."""
    limits = limits or Limits()
    preview = Preview()
    for ids in _batches(contacts, batch_size):
        at = now or timezone.now()
        for choice in _decide_batch(trigger, ids, limits, at):
            facts, decision = choice.facts, choice.decision
            preview.total += 1
            if decision.action == Action.SEND:
                preview.send += 1
            elif decision.action == Action.HOLD:
                preview.hold += 1
            else:
                preview.skip += 1
            code = decision.code
            preview.by_reason[code] = preview.by_reason.get(code, 0) + 1
            preview.texts.setdefault(code, decision.text)
            sample = preview.samples.setdefault(code, [])
            if len(sample) < sample_size:
                sample.append(facts.contact_id)
    return preview


STATUS_FOR = {
    Action.SEND: MessageStatus.QUEUED,
    Action.HOLD: MessageStatus.HELD,
    Action.SKIP: MessageStatus.SKIPPED,
}


def _texts(
    decided: list[Choice], keys: dict[int, str], renderers: Mapping[str, Render]
) -> dict[int, Rendered]:
    """The text of each message that will go, channel by channel: a batch renderer gets the
    whole batch at once; a per-contact one gets the contacts, read in one query."""
    by_channel: dict[str, list[Choice]] = {}
    for choice in decided:
        if choice.decision.action != Action.SKIP:
            by_channel.setdefault(choice.channel, []).append(choice)
    texts: dict[int, Rendered] = {}
    for channel, choices in by_channel.items():
        render = renderers[channel]
        if isinstance(render, BatchRenderer):
            recipients = [
                Recipient(
                    c.facts.contact_id, keys[c.facts.contact_id], c.facts.language, c.facts.address
                )
                for c in choices
            ]
            for choice, text in zip(choices, render(recipients), strict=True):
                texts[choice.facts.contact_id] = text
            continue
        people = Contact.objects.in_bulk([c.facts.contact_id for c in choices])
        for choice in choices:
            pk = choice.facts.contact_id
            texts[pk] = render(people[pk], keys[pk], choice.facts.language)
    return texts


def _write(
    trigger: Trigger,
    decided: list[Choice],
    keys: dict[int, str],
    renderers: Mapping[str, Render],
    at: datetime,
    report: FanoutReport,
) -> None:
    texts = _texts(decided, keys, renderers)
    senders = {channel: sender_for(trigger, channel) for channel in trigger.channels}
    rows: list[NewMessage] = []
    for choice in decided:
        facts, decision, channel = choice.facts, choice.decision, choice.channel
        pk = facts.contact_id
        text = texts.get(pk)
        body, subject = (text.body, text.subject) if text is not None else ("", "")
        segments = 0
        if body:
            segments = text.segments if text is not None and text.segments else 0
            segments = segments or segments_of(channel, body)
        skip = decision.action == Action.SKIP
        rows.append(
            NewMessage(
                key=keys[pk],
                contact_id=pk,
                channel=channel,
                address=facts.address,
                sender=senders[channel],
                subject=subject,
                body=body,
                status=STATUS_FOR[decision.action],
                reasons=(
                    (decision.code, decision.text),
                    *(("fallback", f"Not by {other}: {why}") for other, why in choice.passed_over),
                    *((("on_behalf_of", trigger.attribution),) if trigger.attribution else ()),
                ),
                due_at=decision.due_at or at,
                segments=segments,
                cascade=() if skip else tuple(cascade_after(trigger, channel)),
                done_at=at if skip else None,
            )
        )
        report.planned += 1
        if decision.action == Action.SEND:
            report.queued += 1
        elif decision.action == Action.HOLD:
            report.held += 1
        else:
            report.skipped += 1
            report.skip_reasons[decision.code] = report.skip_reasons.get(decision.code, 0) + 1
    common = {
        "origin": trigger.origin,
        "origin_ref": trigger.key,
        "lane": trigger.lane,
        "program_id": trigger.program.pk,
        "content_version_id": trigger.content_version_id,
        "expires_at": trigger.expires_at,
        "created_at": at,
    }
    try:
        with transaction.atomic():
            messages_write(rows=rows, common=common, at=at)
    except IntegrityError:
        # A parallel run of the same trigger wrote some of these keys since they were looked
        # up: write the rest one by one in effect (conflicts ignored), with their events.
        with transaction.atomic():
            Message.objects.bulk_create(
                [_instance(row, common) for row in rows], ignore_conflicts=True
            )
            mine = Message.objects.filter(key__in=[r.key for r in rows], created_at=at)
            _events(list(mine), at)
    if report.queued:
        transaction.on_commit(wake.nudge)


def _instance(row: NewMessage, common: Mapping[str, object]) -> Message:
    return Message(
        **common,
        key=row.key,
        contact_id=row.contact_id,
        channel=row.channel,
        address=row.address,
        sender=row.sender,
        subject=row.subject,
        body=row.body,
        status=row.status,
        reasons=[{"code": code, "text": text} for code, text in row.reasons],
        due_at=row.due_at,
        segments=row.segments,
        done_at=row.done_at,
        cascade=list(row.cascade),
    )


EVENT_FOR = {
    MessageStatus.QUEUED: EventKind.QUEUED,
    MessageStatus.HELD: EventKind.HELD,
    MessageStatus.SKIPPED: EventKind.SKIPPED,
}


def _events(messages: list[Message], at: datetime) -> None:
    MessageEvent.objects.bulk_create(
        [
            MessageEvent(
                message_id=m.pk,
                kind=EVENT_FOR[MessageStatus(m.status)],
                at=at,
                detail={"reason": m.reasons[0]["code"]},
            )
            for m in messages
        ],
        batch_size=2000,
    )
