"""Pacing: when each of a sender's due messages may go, from one schedule every worker shares.

Rates are in segments per second: CARE_SENDER_RATES names them per sender
(`+14155550100=4,12345=100`); otherwise the sender's kind decides (short code 100/s, toll-free
3/s, long code 1/s, as US carriers allow).

Each sender has one row (`SenderBudget.free_at`): the moment its next segment may go. A message
granted gets that moment as its **slot** and moves it on by its segments over the rate, so sends
are spaced evenly and no one-second window ever holds more than the rate: a backlog drains
evenly, never in bursts. Slots are handed out at most `LEAD` ahead of time (a worker claims a
little early and sends each message at its slot, so the schedule never falls behind between two
claims); what does not fit waits in the outbox, due shortly before its expected slot.

The rate used is `PACE` of the carrier's limit: the gap between two sends absorbs a few tens of
milliseconds of scheduling and network jitter, so the carrier never counts a second over.
A message longer than one second's worth goes when its slot comes, and the next waits for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from carereach.messaging.models import SenderBudget

DEFAULT_RATES = {"short_code": 100.0, "toll_free": 3.0, "long_code": 1.0}
TOLL_FREE_PREFIXES = frozenset({"1800", "1833", "1844", "1855", "1866", "1877", "1888"})
PACE = 0.96  # share of the carrier's limit used: room for jitter between slot and arrival
LEAD = timedelta(milliseconds=500)  # how long before its slot a message may be claimed


def sender_kind(sender: str) -> str:
    digits = sender.lstrip("+")
    if len(digits) <= 6:
        return "short_code"
    if digits[:4] in TOLL_FREE_PREFIXES:
        return "toll_free"
    return "long_code"


def sender_rate(sender: str) -> float:
    """The carrier's limit for this sender, in segments per second."""
    rates: dict[str, float] = settings.SENDER_RATES
    return rates.get(sender) or DEFAULT_RATES[sender_kind(sender)]


def interval(sender: str, segments: int) -> timedelta:
    """How far one message of `segments` moves the sender's schedule on."""
    return timedelta(seconds=max(segments, 1) / (sender_rate(sender) * PACE))


@dataclass(frozen=True)
class Grant:
    slots: list[datetime]  # when each message that may go now is sent, in order
    later: list[datetime] = field(default_factory=list)  # expected slots of the rest (not held)

    @property
    def allowed(self) -> int:
        """How many of the messages, in order, may go now (each at its slot)."""
        return len(self.slots)

    @property
    def retry_at(self) -> datetime | None:
        """When the next one is expected to fit, if any must wait."""
        return self.later[0] if self.later else None


def budgets_take(
    demands: dict[str, list[int]], *, now: datetime, start: datetime | None = None
) -> dict[str, Grant]:
    """Give each sender's messages (their segment counts, in order) slots from its schedule,
    none before `start` (default `now`: a caller that needs time to commit its claim before
    sending asks for slots a little later).

    Call inside a transaction: the senders' rows are locked (in sender order, so two workers
    never deadlock) until it commits, and every worker on every machine shares them."""
    if not demands:
        return {}
    senders = sorted(demands)
    SenderBudget.objects.bulk_create(
        [SenderBudget(sender=sender, free_at=now) for sender in senders], ignore_conflicts=True
    )
    rows = SenderBudget.objects.filter(sender__in=senders).order_by("sender")
    if connection.vendor == "postgresql":
        rows = rows.select_for_update()
    budgets = {budget.sender: budget for budget in rows}
    start = max(start or now, now)
    horizon = start + LEAD
    grants: dict[str, Grant] = {}
    for sender in senders:
        budget = budgets[sender]
        free = max(budget.free_at, start)
        slots: list[datetime] = []
        costs = demands[sender]
        for cost in costs:
            if free > horizon:
                break
            slots.append(free)
            free += interval(sender, cost)
        budget.free_at = free
        later: list[datetime] = []
        for cost in costs[len(slots) :]:
            later.append(free)
            free += interval(sender, cost)
        grants[sender] = Grant(slots=slots, later=later)
    SenderBudget.objects.bulk_update(list(budgets.values()), ["free_at"])
    return grants


def budget_take(*, sender: str, costs: list[int], now: datetime) -> Grant:
    """One sender's `budgets_take`; call inside a transaction."""
    return budgets_take({sender: costs}, now=now)[sender]
