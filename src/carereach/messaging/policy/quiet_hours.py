"""Quiet hours in the recipient's own local time (shared/DOMAIN.md section 2). Pure functions.

No outbound contact before 08:00 or after 21:00 where the person is; some states end earlier
(Florida, Maryland, Oklahoma: 20:00). When the time zone is unknown, only the window that is
legal in every US zone at once is used. Local times come from zoneinfo, so the window follows
daylight-saving changes: a message held overnight before "spring forward" still goes at 08:00
local, not at 07:00 or 09:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Window:
    start: time  # first minute a message may go, local time
    end: time  # first minute it may no longer go, local time

    def contains(self, local: time) -> bool:
        return self.start <= local < self.end


DEFAULT = Window(time(8), time(21))
# State laws stricter than the federal window (mini-TCPAs); operators may add to this table.
STATE_WINDOWS: dict[str, Window] = {
    "FL": Window(time(8), time(20)),
    "MD": Window(time(8), time(20)),
    "OK": Window(time(8), time(20)),
}
# Every zone a US recipient can be in, for recipients whose zone is unknown.
US_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def window_for(state: str = "") -> Window:
    return STATE_WINDOWS.get(state.upper(), DEFAULT)


def _allowed_in(zone: ZoneInfo, window: Window, at: datetime) -> bool:
    return window.contains(at.astimezone(zone).time())


def _next_start(zone: ZoneInfo, window: Window, at: datetime) -> datetime:
    """The next moment at or after `at` when the window opens in this zone."""
    local = at.astimezone(zone)
    day = local.date()
    for offset in range(3):
        start = datetime.combine(day + timedelta(days=offset), window.start, tzinfo=zone)
        # A window start that falls in a skipped hour (never, for 08:00 in US zones) normalizes.
        start = start.astimezone(UTC).astimezone(zone)
        if start >= local:
            return start.astimezone(UTC)
    raise AssertionError("a daily window always opens within three days")


def zones_for(time_zone: str) -> tuple[ZoneInfo, ...]:
    """The zone itself, or every US zone when it is unknown or not a real IANA name."""
    zone = _zone(time_zone) if time_zone else None
    if zone is not None:
        return (zone,)
    return tuple(z for name in US_ZONES if (z := _zone(name)) is not None)


def allowed_at(at: datetime, *, time_zone: str, state: str = "") -> bool:
    window = window_for(state)
    return all(_allowed_in(zone, window, at) for zone in zones_for(time_zone))


@lru_cache(maxsize=4096)  # a fan-out asks the same (moment, zone, state) thousands of times
def next_allowed(at: datetime, *, time_zone: str, state: str = "") -> datetime:
    """`at` itself when contact is allowed then, else the first moment it is (UTC, aware)."""
    if at.tzinfo is None:
        raise ValueError("quiet hours need an aware datetime")
    at = at.astimezone(UTC)
    if allowed_at(at, time_zone=time_zone, state=state):
        return at
    window = window_for(state)
    zones = zones_for(time_zone)
    # The answer is one of the zones' window starts: try them in order over the next days.
    candidates: set[datetime] = set()
    probe = at
    for _ in range(4):
        for zone in zones:
            candidates.add(_next_start(zone, window, probe))
        probe = probe + timedelta(days=1)
    for candidate in sorted(candidates):
        if allowed_at(candidate, time_zone=time_zone, state=state):
            return candidate
    raise ValueError(f"no moment is inside the window in every zone for {time_zone or 'US'}")
