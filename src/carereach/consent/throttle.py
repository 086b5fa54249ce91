"""How many public sign-ups one network address may make: a guard against SMS pumping.

A double opt-in request is a text Carereach pays for, sent to whatever number the form was given.
Scripts that feed such forms numbers by the thousand cost money and annoy strangers, so each
network address gets `CARE_SIGNUP_PER_HOUR` attempts an hour and `CARE_SIGNUP_PER_DAY` a day,
counted in the database (shared by every web process). Every POST counts, good or bad, honeypot
included: a bot learns nothing from which of its attempts counted.
"""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_address

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from carereach.consent.models import SignupAttempt

KEEP = timedelta(days=1)


def _normalised(ip: str) -> str | None:
    try:
        address = ip_address(ip)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


@transaction.atomic
def signup_attempt_allowed(ip: str) -> bool:
    """Count this attempt and say whether it is within the limits (an unusable address is
    refused: the proxy in front must pass the client's address on)."""
    address = _normalised(ip)
    if address is None:
        return False
    now = timezone.now()
    recent = SignupAttempt.objects.filter(ip=address, at__gt=now - KEEP)
    in_day = recent.count()
    in_hour = recent.filter(at__gt=now - timedelta(hours=1)).count()
    if in_hour >= settings.SIGNUP_PER_HOUR or in_day >= settings.SIGNUP_PER_DAY:
        return False
    SignupAttempt.objects.create(ip=address, at=now)
    return True


def signup_attempts_prune() -> int:
    """Forget attempts older than a day (a scheduler task); returns how many went."""
    deleted, _ = SignupAttempt.objects.filter(at__lte=timezone.now() - KEEP).delete()
    return deleted
