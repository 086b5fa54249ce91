"""Which arm of an experiment a contact is in: a fixed hash of the contact id, pure.

`bucket(contact_id, seed)` maps a contact to 0..99; the control holds the first
`holdout_percent` buckets and the variants share the rest in proportion to their weights.
`bucket_expression` is the same hash as a database expression, so a segment (one SQL statement)
and Python always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Expression, F, Value
from django.db.models.functions import Mod

CONTROL = "control"
_MULTIPLIER = 2654435761  # Knuth's multiplicative hash constant
_PRIME = 1000003  # a prime modulus, so consecutive ids do not cycle through buckets in order
BUCKETS = 100


@dataclass(frozen=True)
class Arm:
    code: str
    low: int  # first bucket (inclusive)
    high: int  # last bucket (exclusive)


def seed_for(experiment_id: int) -> int:
    return (experiment_id * 7919) % _PRIME


def bucket(contact_id: int, seed: int) -> int:
    return ((contact_id * _MULTIPLIER + seed) % _PRIME) % BUCKETS


def bucket_expression(seed: int, column: str = "pk") -> Expression:
    hashed = Mod(F(column) * Value(_MULTIPLIER) + Value(seed), Value(_PRIME))
    return Mod(hashed, Value(BUCKETS))


def arms_layout(holdout_percent: int, weights: list[tuple[str, int]]) -> list[Arm]:
    """The control's buckets, then each variant's, in order; every bucket belongs to one arm."""
    if not 0 <= holdout_percent <= 50:
        raise ValueError("the hold-out must be between 0 and 50 percent")
    if not weights or any(weight < 1 for _, weight in weights):
        raise ValueError("each variant needs a weight of at least 1")
    codes = [code for code, _ in weights]
    if len(set(codes)) != len(codes) or CONTROL in codes:
        raise ValueError(f'variant codes must differ and must not be "{CONTROL}"')
    arms = [Arm(CONTROL, 0, holdout_percent)] if holdout_percent else []
    room, total, low, given = (
        BUCKETS - holdout_percent,
        sum(w for _, w in weights),
        holdout_percent,
        0,
    )
    for index, (code, weight) in enumerate(weights):
        given += weight
        high = BUCKETS if index == len(weights) - 1 else holdout_percent + room * given // total
        arms.append(Arm(code, low, high))
        low = high
    return arms


def arm_of(contact_id: int, seed: int, arms: list[Arm]) -> str:
    b = bucket(contact_id, seed)
    return next(arm.code for arm in arms if arm.low <= b < arm.high)
