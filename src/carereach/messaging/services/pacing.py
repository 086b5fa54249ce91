"""Pacing: how many of a sender's due messages may go now, by a shared token bucket.

Rates are in segments per second: CARE_SENDER_RATES names them per sender
(`+14155550100=4,12345=100`); otherwise the sender's kind decides (short code 100/s, toll-free
3/s, long code 1/s, as US carriers allow). The bucket holds at most one second's worth (and
always room for one message), so a backlog drains at the rate and never bursts; a message longer
than the bucket goes when the bucket is full and leaves it negative, so the next ones wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from carereach.messaging.models import SenderBudget

DEFAULT_RATES = {"short_code": 100.0, "toll_free": 3.0, "long_code": 1.0}
TOLL_FREE_PREFIXES = frozenset({"1800", "1833", "1844", "1855", "1866", "1877", "1888"})


def sender_kind(sender: str) -> str:
    digits = sender.lstrip("+")
    if len(digits) <= 6:
        return "short_code"
    if digits[:4] in TOLL_FREE_PREFIXES:
        return "toll_free"
    return "long_code"


def sender_rate(sender: str) -> float:
    rates: dict[str, float] = settings.SENDER_RATES
    return rates.get(sender) or DEFAULT_RATES[sender_kind(sender)]


@dataclass(frozen=True)
class Grant:
    allowed: int  # how many of the messages, in order, may go now
    retry_at: datetime | None  # when the next one will fit, if any must wait


def _budget(sender: str, now: datetime, burst: float) -> SenderBudget:
    rows = SenderBudget.objects.filter(sender=sender)
    if connection.vendor == "postgresql":
        rows = rows.select_for_update()
    budget = rows.first()
    if budget is not None:
        return budget
    try:
        with transaction.atomic():
            return SenderBudget.objects.create(sender=sender, tokens=burst, refilled_at=now)
    except IntegrityError:  # another worker created it a moment ago
        return _budget(sender, now, burst)


def budget_take(*, sender: str, costs: list[int], now: datetime) -> Grant:
    """Take the segments of as many messages as fit, in order; call inside a transaction."""
    rate = sender_rate(sender)
    burst = max(rate, 1.0)
    budget = _budget(sender, now, burst)
    elapsed = max((now - budget.refilled_at).total_seconds(), 0.0)
    tokens = min(burst, budget.tokens + elapsed * rate)
    allowed = 0
    for cost in costs:
        if cost <= tokens or (allowed == 0 and tokens >= burst):
            tokens -= cost
            allowed += 1
        else:
            break
    budget.tokens = tokens
    budget.refilled_at = now
    budget.save(update_fields=["tokens", "refilled_at"])
    retry_at = None
    if allowed < len(costs):
        need = min(costs[allowed], burst) - tokens
        retry_at = now + timedelta(seconds=max(need / rate, 0.001))
    return Grant(allowed=allowed, retry_at=retry_at)
