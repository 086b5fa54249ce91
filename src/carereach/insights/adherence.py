"""Proportion of days covered (PDC), the PQA adherence measure used in CMS star ratings.

Pure functions over dates (shared/DOMAIN.md section 6; test vectors in
tests/insights/conformance/pdc_adherence.json):

- The treatment period runs from the first fill handed over inside the measurement period (the
  index date) to the period end. Fills before the period start or after its end are not read.
- Fills of the same drug (target ingredient, combination products included) that overlap are
  shifted: a refill starts the day after the previous supply of that drug runs out.
- Fills of different drugs are never shifted: a day is covered when any drug covers it, and a day
  counts once.
- Supply past the period end is cut off, so days covered never exceed days in the period.

PDC = days covered / days in the treatment period. Adherent means PDC >= 0.80 (0.90 for
antiretrovirals, `ANTIRETROVIRAL_THRESHOLD`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

ADHERENT_THRESHOLD = 0.80
ANTIRETROVIRAL_THRESHOLD = 0.90


@dataclass(frozen=True)
class Fill:
    """One dispensing: which drug (its target ingredient), the day handed over, days' supply."""

    drug: str
    handed_over: date
    days_supply: int

    def __post_init__(self) -> None:
        if self.days_supply < 1:
            raise ValueError(f"days_supply must be at least 1, not {self.days_supply}")


@dataclass(frozen=True)
class DosePeriod:
    """When a fill's supply is taken after shifting, cut at the period end."""

    fill: Fill
    first_dose: date
    last_dose: date  # may be before first_dose when the shifted fill starts after the period


@dataclass(frozen=True)
class Coverage:
    days_in_period: int  # index date .. period end, inclusive; 0 when no fill is in the period
    days_covered: int

    @property
    def pdc(self) -> float:
        return self.days_covered / self.days_in_period if self.days_in_period else 0.0


FillLike = Fill | tuple[str, date, int]


def _fills(fills: Iterable[FillLike]) -> list[Fill]:
    return [f if isinstance(f, Fill) else Fill(f[0], f[1], f[2]) for f in fills]


def dose_periods(fills: Iterable[FillLike], start: date, end: date) -> list[DosePeriod]:
    """The shifted supply of every fill handed over in [start, end], in date order.

    Same-drug fills run one after the other (a refill starts when the previous supply runs out);
    each period is cut at `end`.
    """
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    inside = [f for f in _fills(fills) if start <= f.handed_over <= end]
    inside.sort(key=lambda f: (f.handed_over, f.drug, f.days_supply))
    supply_ends: dict[str, date] = {}
    periods: list[DosePeriod] = []
    for fill in inside:
        previous_end = supply_ends.get(fill.drug)
        first = fill.handed_over
        if previous_end is not None and previous_end >= first:
            first = previous_end + timedelta(days=1)
        last = first + timedelta(days=fill.days_supply - 1)
        supply_ends[fill.drug] = last
        periods.append(DosePeriod(fill, first, min(last, end)))
    return periods


def coverage(fills: Iterable[FillLike], start: date, end: date) -> Coverage:
    """Days in the treatment period and days with any drug on hand (each day counted once)."""
    periods = dose_periods(fills, start, end)
    if not periods:
        return Coverage(days_in_period=0, days_covered=0)
    index = min(p.fill.handed_over for p in periods)
    spans = sorted((p.first_dose, p.last_dose) for p in periods if p.first_dose <= p.last_dose)
    covered = 0
    current: tuple[date, date] | None = None
    for first, last in spans:
        if current is not None and first <= current[1] + timedelta(days=1):
            current = (current[0], max(current[1], last))
            continue
        if current is not None:
            covered += (current[1] - current[0]).days + 1
        current = (first, last)
    if current is not None:
        covered += (current[1] - current[0]).days + 1
    return Coverage(days_in_period=(end - index).days + 1, days_covered=covered)


def pdc(fills: Iterable[FillLike], start: date, end: date) -> float:
    """Proportion of days covered, 0.0-1.0, for fills of (drug, date handed over, days' supply)
    in the measurement period [start, end]; 0.0 when no fill falls in the period."""
    return coverage(fills, start, end).pdc


def is_adherent(value: float, *, threshold: float = ADHERENT_THRESHOLD) -> bool:
    """PDC at or above the threshold (0.80; pass ANTIRETROVIRAL_THRESHOLD for 0.90)."""
    return value >= threshold


def in_denominator(fills: Sequence[FillLike], start: date, end: date) -> bool:
    """PQA counts a person only with at least two fills on different days in the period."""
    days = {f.handed_over for f in _fills(fills) if start <= f.handed_over <= end}
    return len(days) >= 2
