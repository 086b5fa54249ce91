"""Engagement fixtures: noon in New York, a podcast series with its subscribers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from carereach.security.roles import Role
from tests.engagement.factories import NOON_NY, Clock, Podcast, podcast


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fixed = Clock(NOON_NY)
    monkeypatch.setattr(timezone, "now", fixed)
    return fixed


@pytest.fixture
def world(clock: Clock, users: dict[Role, User]) -> Podcast:
    return podcast(users)
