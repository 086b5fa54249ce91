"""Campaign fixtures: a fixed clock, a program with approved content, consented HCPs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from carereach.security.roles import Role
from tests.campaigns.factories import NOON_NY, Clock, World, world_make

__all__ = ["NOON_NY", "Clock", "World"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """`django.utils.timezone.now` fixed at noon in New York until the test moves it."""
    fixed = Clock(NOON_NY)
    monkeypatch.setattr(timezone, "now", fixed)
    return fixed


@pytest.fixture
def world(clock: Clock, users: dict[Role, User]) -> World:
    return world_make(users)
