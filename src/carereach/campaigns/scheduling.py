"""When a campaign's messages go: one moment, or a local time in each recipient's own zone.

Pure functions over aware datetimes (stored UTC, converted at the edges with zoneinfo).

A local-time campaign ("10:00 on 1 December where each person is") begins its fan-out when that
local time first arrives anywhere (UTC+14) and is in the past only once it has passed everywhere
(UTC-12). Each recipient's message is held until the local time in their zone; quiet hours still
apply on top (a state whose window opens later, or an unknown zone, which uses the window legal
in every US zone). A recipient whose local moment had already passed when the fan-out reached
them gets it at the next allowed moment instead: late the same day, never skipped silently (the
reason says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from carereach.messaging.policy.quiet_hours import next_allowed

EARLIEST = timedelta(hours=14)  # UTC+14, the first place a local time arrives
LATEST = timedelta(hours=12)  # UTC-12, the last
# Where a recipient with no known zone is taken to be (quiet hours then widen to every US zone).
FALLBACK_ZONE = "America/New_York"
DEFAULT_EXPIRY = timedelta(days=3)  # after the last planned send, unless the campaign says


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_or_fallback(name: str) -> ZoneInfo:
    zone = _zone(name) or _zone(FALLBACK_ZONE)
    if zone is None:  # the system has no tz database at all
        raise ValueError("no time zone data: install tzdata")
    return zone


def local_moment(day: date, at: time, zone_name: str) -> datetime:
    """`day` at `at` on the wall clock of `zone_name` (or the fallback zone), in UTC.

    A wall time that does not exist (inside a spring-forward gap) moves forward by the gap;
    one that happens twice (fall back) is the first."""
    zone = zone_or_fallback(zone_name)
    local = datetime.combine(day, at, tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone).astimezone(UTC)


def local_first(day: date, at: time) -> datetime:
    """The first moment `at` on `day` arrives anywhere on earth."""
    return datetime.combine(day, at, tzinfo=UTC) - EARLIEST


def local_last(day: date, at: time) -> datetime:
    """The moment `at` on `day` has arrived everywhere on earth."""
    return datetime.combine(day, at, tzinfo=UTC) + LATEST


@dataclass(frozen=True)
class Due:
    at: datetime  # when the message may go, UTC
    late: bool  # the local moment had already passed when it was planned


def recipient_due(
    *, day: date, at: time, time_zone: str, state: str, now: datetime, channel: str
) -> Due:
    """When one recipient's message of a local-time campaign goes."""
    wanted = local_moment(day, at, time_zone)
    due = max(wanted, now)
    if channel in ("sms", "voice"):
        due = next_allowed(due, time_zone=time_zone, state=state)
    return Due(at=due, late=wanted < now)


def default_expiry(last_send: datetime) -> datetime:
    return last_send + DEFAULT_EXPIRY
