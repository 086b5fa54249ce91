"""Journey fixtures: a fixed clock at noon in New York, a clinic with approved reminders."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from carereach.security.roles import Role
from tests.campaigns.factories import NOON_NY, Clock
from tests.journeys.factories import Clinic, clinic_make


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(NOON_NY)
    monkeypatch.setattr(timezone, "now", fixed)
    return fixed


@pytest.fixture
def clinic(clock: Clock, users: dict[Role, User]) -> Clinic:
    return clinic_make(users[Role.MARKETER], users[Role.COMPLIANCE])
