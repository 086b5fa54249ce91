"""What a figure may show: small-cell suppression and rates with their confidence intervals.

Pure functions. Any cell that counts fewer than `SMALL_CELL` distinct people is shown as "<11"
and its rate hidden, for every role, in the console, the API and CSV exports alike: a count of
a few people can name them. A rate is hidden too when its denominator is suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass

from carereach.analytics.stats import wilson

SMALL_CELL = 11
SUPPRESSED = f"<{SMALL_CELL}"


@dataclass(frozen=True)
class Figure:
    """A count as it may be shown: `value` None when suppressed."""

    value: int | None
    text: str

    @property
    def suppressed(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson 95% interval; all None when hidden or undefined."""

    value: float | None
    low: float | None
    high: float | None

    @property
    def text(self) -> str:
        return "" if self.value is None else f"{self.value * 100:.1f}%"

    @property
    def interval_text(self) -> str:
        if self.low is None or self.high is None:
            return ""
        return f"{self.low * 100:.1f}-{self.high * 100:.1f}%"


HIDDEN = Rate(None, None, None)


def figure(count: int, people: int) -> Figure:
    """`count` (messages, entries) as shown, given how many distinct people it covers."""
    if people < SMALL_CELL:
        return Figure(None, SUPPRESSED)
    return Figure(count, f"{count:,}")


def rate(
    successes: int, success_people: int, trials: int, trial_people: int
) -> tuple[Figure, Rate]:
    """The numerator as shown, and its rate over `trials`, hidden when either is suppressed."""
    shown = figure(successes, success_people)
    if shown.suppressed or trial_people < SMALL_CELL or trials == 0:
        return shown, HIDDEN
    interval = wilson(min(successes, trials), trials)
    if interval is None:  # not reached: trials > 0
        return shown, HIDDEN
    return shown, Rate(successes / trials, interval.low, interval.high)


def duration_text(seconds: float | None) -> str:
    """A mean delay for people: "45 s", "12 min", "3 h 20 min", "2 d 4 h"."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
