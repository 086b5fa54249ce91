"""Statistics for rates and experiments: pure functions, no database.

- `wilson`: the Wilson score interval for a proportion (95% by default). Unlike the textbook
  normal interval it stays inside 0..1 and behaves at 0 and n successes and for small n.
- `two_proportion_test`: compares two rates (a variant against its control) with a pooled
  two-proportion z-test, and says plainly when there is not enough data to judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the standard normal's 97.5th percentile
# Enough data for the normal approximation: each group has at least this many people, and the
# pooled rate predicts at least MIN_EXPECTED successes and failures in each group.
MIN_GROUP = 30
MIN_EXPECTED = 5


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson(successes: int, trials: int, *, z: float = Z95) -> Interval | None:
    """Wilson score interval of successes/trials; None when there were no trials."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    # At 0 and n successes the bound is exactly 0 or 1; floating point can miss it by 1e-18.
    low = 0.0 if successes == 0 else max(0.0, min(p, centre - half))
    high = 1.0 if successes == trials else min(1.0, max(p, centre + half))
    return Interval(low, high)


@dataclass(frozen=True)
class Comparison:
    """A variant's rate against the control's."""

    control_rate: float | None
    variant_rate: float | None
    difference: float | None  # variant - control
    z: float | None
    p_value: float | None  # two-sided
    enough_data: bool
    verdict: str  # one plain sentence


def two_proportion_test(
    control_successes: int,
    control_trials: int,
    variant_successes: int,
    variant_trials: int,
    *,
    alpha: float = 0.05,
) -> Comparison:
    """Pooled two-proportion z-test of the variant's rate against the control's."""
    for s, n in ((control_successes, control_trials), (variant_successes, variant_trials)):
        if n < 0 or s < 0 or s > n:
            raise ValueError(f"need 0 <= successes <= trials, got {s}/{n}")
    control = control_successes / control_trials if control_trials else None
    variant = variant_successes / variant_trials if variant_trials else None
    difference = variant - control if control is not None and variant is not None else None
    total = control_trials + variant_trials
    pooled = (control_successes + variant_successes) / total if total else 0.0
    enough = min(control_trials, variant_trials) >= MIN_GROUP and all(
        n * pooled >= MIN_EXPECTED and n * (1 - pooled) >= MIN_EXPECTED
        for n in (control_trials, variant_trials)
    )
    if not enough or difference is None:
        return Comparison(
            control,
            variant,
            difference,
            None,
            None,
            False,
            "Not enough data yet to tell the variant from the control: each group needs at "
            f"least {MIN_GROUP} people and {MIN_EXPECTED} of each outcome.",
        )
    se = math.sqrt(pooled * (1 - pooled) * (1 / control_trials + 1 / variant_trials))
    z = difference / se
    p_value = math.erfc(abs(z) / math.sqrt(2))
    if p_value < alpha:
        direction = "higher" if difference > 0 else "lower"
        verdict = (
            f"The variant's rate is {direction} than the control's by "
            f"{abs(difference) * 100:.1f} points; a difference this large would arise by chance "
            f"less than {alpha * 100:.0f}% of the time (p = {p_value:.3f})."
        )
    else:
        verdict = (
            f"No clear difference: {abs(difference) * 100:.1f} points could well be chance "
            f"(p = {p_value:.3f})."
        )
    return Comparison(control, variant, difference, z, p_value, True, verdict)
