"""Send-time optimisation: each person's best hour, from when they engaged before.

A person who clicks our links at lunch and answers texts at 19:00 reads at those hours; a message
that arrives then is more likely to be read than one at 08:00. The best hour is the local hour
with the most engagement (human clicks and replies over the last `LOOKBACK`), each hour counting
its neighbours at half weight, chosen only among hours inside the quiet-hours window of the
person's state (08:00-21:00, 20:00 in some states; a night owl gets the window's hour nearest
their peak): the result can never break quiet hours. With
fewer than `MINIMUM` engagements, or no known time zone, there is no best hour (None): the
caller keeps its own default time.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import F
from django.utils import timezone

from carereach.audience.selectors import reach_for_contacts
from carereach.content.models import ClickKind, LinkClick
from carereach.messaging.models import InboundMessage
from carereach.messaging.policy.quiet_hours import Window, window_for

LOOKBACK = timedelta(days=180)
MINIMUM = 3


def best_hour(local_hours: Iterable[int], window: Window, minimum: int = MINIMUM) -> int | None:
    """The hour (0-23) to send at, inside `window`; None when there is too little to go on."""
    counts = Counter(local_hours)
    if sum(counts.values()) < minimum:
        return None
    first = window.start.hour + (1 if window.start.minute else 0)
    last = window.end.hour - (0 if window.end.minute else 1)  # the last hour that starts inside
    allowed = range(first, last + 1)

    def weight(hour: int) -> float:
        return counts[hour] + 0.5 * (counts[(hour - 1) % 24] + counts[(hour + 1) % 24])

    peak = max(range(24), key=lambda hour: (weight(hour), -hour))

    def distance(hour: int) -> int:  # around the clock: 23:00 is an hour from 00:00
        return min((hour - peak) % 24, (peak - hour) % 24)

    # Ties (above all, none of the engagement inside the window) go to the hour nearest the peak.
    return max(allowed, key=lambda hour: (weight(hour), -distance(hour), -hour))


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _engaged_at(contact_ids: Sequence[int], since: datetime) -> dict[int, list[datetime]]:
    moments: dict[int, list[datetime]] = defaultdict(list)
    clicks = (
        LinkClick.objects.filter(
            kind=ClickKind.HUMAN, link__contact_id__in=contact_ids, at__gte=since
        )
        .annotate(person=F("link__contact_id"))
        .values_list("person", "at")
    )
    replies = InboundMessage.objects.filter(
        contact_id__in=contact_ids, received_at__gte=since, category=""
    ).values_list("contact_id", "received_at")
    for person, at in [*clicks, *replies]:
        moments[person].append(at)
    return moments


def best_send_hours(contact_ids: Sequence[int], *, now: datetime | None = None) -> dict[int, int]:
    """Best local hour per contact, for those that have one (one query per source per call:
    callers pass a batch of ids, e.g. a fan-out batch)."""
    if not contact_ids:
        return {}
    since = (now or timezone.now()) - LOOKBACK
    moments = _engaged_at(contact_ids, since)
    if not moments:
        return {}
    reach = reach_for_contacts(contact_ids=list(moments), channel="sms")
    hours = {}
    for contact_id, times in moments.items():
        row = reach.get(contact_id)
        zone = _zone(row.time_zone) if row is not None else None
        if row is None or zone is None:
            continue
        hour = best_hour((at.astimezone(zone).hour for at in times), window_for(row.state))
        if hour is not None:
            hours[contact_id] = hour
    return hours
