"""PDC against every case of the shared conformance data, and its properties.

tests/insights/conformance/pdc_adherence.json is a copy of shared/conformance/pdc_adherence.json;
each case keeps its `source` (joelmontavon/pdc-python's README scenarios; PQA's illustrative
claim scenarios from pdc-dr.js; NCQA's FAQ on capping the numerator).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carereach.insights.adherence import (
    ANTIRETROVIRAL_THRESHOLD,
    Fill,
    coverage,
    dose_periods,
    in_denominator,
    is_adherent,
    pdc,
)

DATA = json.loads((Path(__file__).parent / "conformance" / "pdc_adherence.json").read_text())
CASES: list[dict[str, Any]] = DATA["cases"]


def _day(text: str) -> date:
    return date.fromisoformat(text.replace("/", "-"))


def _fills(case: dict[str, Any]) -> list[Fill]:
    return [
        Fill(
            drug=fill["drug"],
            handed_over=_day(fill.get("date_of_service") or fill["date_of_fill"]),
            days_supply=fill["days_supply"],
        )
        for fill in case["fills"]
    ]


def _period(case: dict[str, Any]) -> tuple[date, date]:
    period = case["measurement_period"]
    return _day(period["start"]), _day(period["end"])


def test_every_case_names_its_source() -> None:
    assert DATA["_sources"]
    assert all(case["source"] for case in CASES)


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c.get("expected") or c.get("expected_derived")],
    ids=lambda c: c["id"],
)
def test_pdc_matches_the_conformance_case(case: dict[str, Any]) -> None:
    expected = case.get("expected") or case["expected_derived"]
    start, end = _period(case)
    found = coverage(_fills(case), start, end)
    assert found.days_in_period == expected["days_in_treatment_period"]
    assert found.days_covered == expected["days_covered"]
    assert round(pdc(_fills(case), start, end), 6) == expected["pdc"]
    if "adherent_at_0.80" in expected:
        assert is_adherent(found.pdc) is expected["adherent_at_0.80"]


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if any("expected_date_of_first_dose" in f for f in c["fills"])],
    ids=lambda c: c["id"],
)
def test_shifted_dose_dates_match_pqa(case: dict[str, Any]) -> None:
    start, end = _period(case)
    periods = {(p.fill.drug, p.fill.handed_over): p for p in dose_periods(_fills(case), start, end)}
    for fill in case["fills"]:
        period = periods[(fill["drug"], _day(fill["date_of_fill"]))]
        assert period.first_dose == _day(fill["expected_date_of_first_dose"])
        assert period.last_dose == _day(fill["expected_date_of_last_dose"])


def test_domain_example_from_shared_domain_md() -> None:
    # DOMAIN.md section 6: 90-day fills on 03-25, 07-05 and 09-25 (shifted to 10-03) -> 95.7%.
    fills = [
        ("metformin", date(2018, 3, 25), 90),
        ("metformin", date(2018, 7, 5), 90),
        ("metformin", date(2018, 9, 25), 90),
    ]
    assert round(pdc(fills, date(2018, 1, 1), date(2018, 12, 31)), 3) == 0.957


def test_no_fill_in_the_period_covers_nothing() -> None:
    fills = [("x", date(2021, 1, 1), 400)]
    assert pdc(fills, date(2022, 1, 1), date(2022, 12, 31)) == 0.0
    assert pdc([], date(2022, 1, 1), date(2022, 12, 31)) == 0.0


def test_refill_shifted_past_the_end_adds_nothing() -> None:
    fills = [("x", date(2022, 12, 1), 90), ("x", date(2022, 12, 20), 30)]
    found = coverage(fills, date(2022, 1, 1), date(2022, 12, 31))
    assert (found.days_in_period, found.days_covered) == (31, 31)


def test_thresholds_and_denominator() -> None:
    assert is_adherent(0.80)
    assert not is_adherent(0.7999)
    assert not is_adherent(0.85, threshold=ANTIRETROVIRAL_THRESHOLD)
    same_day = [("a", date(2018, 1, 1), 90), ("b", date(2018, 1, 1), 90)]
    assert not in_denominator(same_day, date(2018, 1, 1), date(2018, 12, 31))
    assert in_denominator(
        [*same_day, ("a", date(2018, 4, 1), 30)], date(2018, 1, 1), date(2018, 12, 31)
    )


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="days_supply"):
        Fill("x", date(2022, 1, 1), 0)
    with pytest.raises(ValueError, match="before it starts"):
        pdc([], date(2022, 2, 1), date(2022, 1, 1))


START = date(2022, 1, 1)
END = date(2022, 12, 31)
fills_strategy = st.lists(
    st.builds(
        Fill,
        drug=st.sampled_from(["a", "b", "c"]),
        handed_over=st.dates(min_value=START - timedelta(days=100), max_value=END + timedelta(30)),
        days_supply=st.integers(min_value=1, max_value=120),
    ),
    max_size=12,
)


@settings(deadline=None)  # a loaded machine must not fail a pure function
@given(fills_strategy)
def test_pdc_is_a_proportion(fills: list[Fill]) -> None:
    found = coverage(fills, START, END)
    assert 0.0 <= found.pdc <= 1.0
    assert found.days_covered <= found.days_in_period


@settings(deadline=None)  # a loaded machine must not fail a pure function
@given(fills_strategy, st.randoms())
def test_pdc_does_not_depend_on_the_order_of_fills(fills: list[Fill], rnd: Any) -> None:
    shuffled = list(fills)
    rnd.shuffle(shuffled)
    assert coverage(shuffled, START, END) == coverage(fills, START, END)


@settings(deadline=None)  # a loaded machine must not fail a pure function
@given(fills_strategy)
def test_pdc_matches_a_day_by_day_count(fills: list[Fill]) -> None:
    # An independent, naive count: walk each drug's fills day by day, pushing overlaps forward.
    covered: set[date] = set()
    inside = [f for f in fills if START <= f.handed_over <= END]
    for drug in {f.drug for f in inside}:
        taken: set[date] = set()
        for fill in sorted((f for f in inside if f.drug == drug), key=lambda f: f.handed_over):
            day, left = fill.handed_over, fill.days_supply
            while left:
                if day not in taken:
                    taken.add(day)
                    left -= 1
                day += timedelta(days=1)
        covered |= {d for d in taken if d <= END}
    found = coverage(fills, START, END)
    assert found.days_covered == len(covered)
