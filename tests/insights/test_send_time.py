"""Send-time optimisation: each person's best hour, never outside quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carereach.insights.send_time import best_hour, best_send_hours
from carereach.messaging.models import InboundMessage
from carereach.messaging.policy.quiet_hours import DEFAULT, STATE_WINDOWS, Window
from tests.audience import factories as audience

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def test_the_busiest_hour_wins_with_its_neighbours() -> None:
    assert best_hour([19, 19, 12, 13, 13], DEFAULT) == 13  # 13 has 2 + half of 12's one
    assert best_hour([19, 19, 19, 12, 13], DEFAULT) == 19


def test_too_little_to_go_on() -> None:
    assert best_hour([19, 19], DEFAULT) is None
    assert best_hour([], DEFAULT) is None


def test_night_owls_get_the_edge_of_the_window() -> None:
    assert best_hour([23, 23, 23, 22], DEFAULT) == 20  # 20:00 starts before 21:00
    assert best_hour([23, 23, 23, 22], STATE_WINDOWS["FL"]) == 19  # Florida ends at 20:00
    assert best_hour([5, 6, 6], DEFAULT) == 8


@given(
    hours=st.lists(st.integers(0, 23), min_size=3, max_size=60),
    start=st.integers(6, 10),
    length=st.integers(4, 13),
)
def test_always_inside_the_window(hours: list[int], start: int, length: int) -> None:
    window = Window(time(start), time(start + length))
    hour = best_hour(hours, window)
    assert hour is not None
    assert window.contains(time(hour))
    assert window.contains(time(hour, 59))


def _reply(contact_id: int, at: datetime, n: int, category: str = "") -> None:
    InboundMessage.objects.create(
        provider="sandbox",
        provider_message_id=f"SM{contact_id}-{n}",
        from_number="+14155550100",
        to_number="+18005550100",
        body="ok",
        contact_id=contact_id,
        category=category,
        received_at=at,
    )


@pytest.mark.django_db
def test_hours_are_local_and_only_for_people_with_enough_history() -> None:
    # 19:00 in Los Angeles is 03:00 UTC the next day (winter); 19:00 in New York is 00:00 UTC.
    west = audience.contact(kind="patient", last_name="W", time_zone="America/Los_Angeles")
    east = audience.contact(kind="patient", last_name="E", time_zone="America/New_York")
    new = audience.contact(kind="patient", last_name="N", time_zone="America/New_York")
    nowhere = audience.contact(kind="patient", last_name="U")
    for n in range(3):
        day = NOW - timedelta(days=n + 1)
        _reply(west.pk, day.replace(hour=3), n)
        _reply(east.pk, day.replace(hour=0), n)
        _reply(nowhere.pk, day.replace(hour=0), n)
    _reply(new.pk, NOW - timedelta(days=1), 0)
    _reply(east.pk, NOW - timedelta(days=2, hours=3), 9, category="opt_out")  # a STOP: no signal
    _reply(east.pk, NOW - timedelta(days=400), 10)  # too long ago
    hours = best_send_hours([west.pk, east.pk, new.pk, nowhere.pk], now=NOW)
    assert hours == {west.pk: 19, east.pk: 19}
