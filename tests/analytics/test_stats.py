"""Wilson intervals, the two-proportion z-test and suppression rules: pure functions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carereach.analytics.figures import SUPPRESSED, duration_text, figure, rate
from carereach.analytics.stats import two_proportion_test, wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Worked by hand from the Wilson formula; statsmodels' proportion_confint(method="wilson")
        # gives the same to four places.
        (25, 30, 0.6644, 0.9266),
        (0, 30, 0.0, 0.1135),
        (30, 30, 0.8865, 1.0),
        (1, 2, 0.0945, 0.9055),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    interval = wilson(k, n)
    assert interval is not None
    assert interval.low == pytest.approx(low, abs=5e-5)
    assert interval.high == pytest.approx(high, abs=5e-5)


@settings(deadline=None)
@given(st.integers(min_value=1, max_value=10_000), st.data())
def test_wilson_contains_the_rate_and_stays_in_bounds(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=n))
    interval = wilson(k, n)
    assert interval is not None
    assert 0.0 <= interval.low <= k / n <= interval.high <= 1.0


def test_wilson_refuses_nonsense_and_has_no_interval_for_nothing() -> None:
    assert wilson(0, 0) is None
    with pytest.raises(ValueError, match="successes"):
        wilson(3, 2)


def test_z_test_known_value_and_plain_words() -> None:
    # 10% of 1,000 against 13% of 1,000: z = 2.10, p = 0.036 (textbook pooled z-test).
    result = two_proportion_test(100, 1000, 130, 1000)
    assert result.z == pytest.approx(2.1027, abs=1e-4)
    assert result.p_value == pytest.approx(0.0355, abs=1e-4)
    assert result.enough_data
    assert result.verdict.startswith("The variant's rate is higher than the control's by 3.0")
    same = two_proportion_test(100, 1000, 105, 1000)
    assert same.verdict.startswith("No clear difference")
    small = two_proportion_test(2, 20, 9, 20)
    assert not small.enough_data
    assert small.p_value is None
    assert small.verdict.startswith("Not enough data")


def test_suppression_of_counts_and_rates() -> None:
    assert figure(120, 10).text == SUPPRESSED
    assert figure(120, 11).text == "120"
    assert figure(0, 0).suppressed
    shown, share = rate(12, 12, 30, 30)
    assert shown.value == 12
    assert share.value == pytest.approx(0.4)
    _, hidden = rate(12, 12, 30, 10)  # the denominator covers fewer than 11 people
    assert hidden.value is None
    suppressed, none = rate(5, 5, 30, 30)
    assert suppressed.text == "<11"
    assert none.value is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, ""), (12.4, "12 s"), (600, "10 min"), (3600 * 3 + 1200, "3 h 20 min"),
     (86400 * 2 + 3600 * 4, "2 d 4 h"), (7200, "2 h")],
)  # fmt: skip
def test_durations_for_people(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text
