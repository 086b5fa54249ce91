"""Local send times, pure: each recipient's zone, daylight saving, unknown zones, late plans."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from carereach.campaigns.scheduling import local_first, local_last, local_moment, recipient_due


def test_a_local_time_in_several_zones() -> None:
    day, ten = date(2026, 12, 1), time(10)
    assert local_moment(day, ten, "America/New_York") == datetime(2026, 12, 1, 15, tzinfo=UTC)
    assert local_moment(day, ten, "Pacific/Honolulu") == datetime(2026, 12, 1, 20, tzinfo=UTC)
    # Summer time follows the zone's rules.
    summer = local_moment(date(2026, 7, 1), ten, "America/New_York")
    assert summer == datetime(2026, 7, 1, 14, tzinfo=UTC)


def test_wall_times_that_do_not_exist_or_happen_twice() -> None:
    # 02:30 on 8 March 2026 does not exist in New York (02:00 → 03:00): it moves forward.
    gap = local_moment(date(2026, 3, 8), time(2, 30), "America/New_York")
    assert gap == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    # 01:30 on 1 November 2026 happens twice: the first (EDT) is used.
    fold = local_moment(date(2026, 11, 1), time(1, 30), "America/New_York")
    assert fold == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_first_and_last_arrival_on_earth() -> None:
    day, ten = date(2026, 12, 1), time(10)
    assert local_first(day, ten) == datetime(2026, 11, 30, 20, tzinfo=UTC)
    assert local_last(day, ten) == datetime(2026, 12, 1, 22, tzinfo=UTC)


def test_recipient_due_weighs_quiet_hours_and_unknown_zones() -> None:
    day, now = date(2026, 12, 1), datetime(2026, 11, 30, 20, tzinfo=UTC)
    ny = recipient_due(
        day=day, at=time(10), time_zone="America/New_York", state="", now=now, channel="sms"
    )
    assert (ny.at, ny.late) == (datetime(2026, 12, 1, 15, tzinfo=UTC), False)
    # 07:30 local is before quiet hours end: it waits for 08:00.
    early = recipient_due(
        day=day, at=time(7, 30), time_zone="America/Chicago", state="", now=now, channel="sms"
    )
    assert early.at == datetime(2026, 12, 1, 14, tzinfo=UTC)
    # E-mail has no quiet hours.
    mail = recipient_due(
        day=day, at=time(7, 30), time_zone="America/Chicago", state="", now=now, channel="email"
    )
    assert mail.at == datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    # Unknown zone: 10:00 in New York, then the window legal in every US zone (08:00 Honolulu).
    unknown = recipient_due(day=day, at=time(10), time_zone="", state="", now=now, channel="sms")
    assert unknown.at == datetime(2026, 12, 1, 18, tzinfo=UTC)


def test_a_local_time_already_passed_goes_at_the_next_allowed_moment() -> None:
    now = datetime(2026, 12, 1, 16, tzinfo=UTC)  # 11:00 in New York
    due = recipient_due(
        day=date(2026, 12, 1),
        at=time(10),
        time_zone="America/New_York",
        state="",
        now=now,
        channel="sms",
    )
    assert (due.at, due.late) == (now, True)
    night = datetime(2026, 12, 2, 3, tzinfo=UTC)  # 22:00 in New York
    due = recipient_due(
        day=date(2026, 12, 1),
        at=time(10),
        time_zone="America/New_York",
        state="",
        now=night,
        channel="sms",
    )
    assert (due.at, due.late) == (datetime(2026, 12, 2, 13, tzinfo=UTC), True)
