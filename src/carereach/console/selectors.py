"""Reads for the console's own pages: the dashboard's counts."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User

from carereach.audience.selectors import contact_count_for_dashboard
from carereach.consent.selectors import active_consent_count


@dataclass(frozen=True)
class DashboardCounts:
    contacts: int
    active_consents: int
    messages_today: int


def dashboard_counts(*, user: User) -> DashboardCounts:
    """Each figure comes from the app that owns it; messages arrive with the delivery engine."""
    return DashboardCounts(
        contacts=contact_count_for_dashboard(user=user),
        active_consents=active_consent_count(),
        messages_today=0,
    )
