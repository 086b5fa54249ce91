"""Content fixtures: specialties, the author (marketer) and reviewer (compliance), a program."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User

from carereach.consent.models import Program
from carereach.content.hooks import (
    RetiredVersion,
    content_retired_register,
    content_retired_unregister,
)
from carereach.security.roles import Role
from tests.audience import factories as audience_factories
from tests.content import factories


@pytest.fixture
def author(users: dict[Role, User]) -> User:
    return users[Role.MARKETER]


@pytest.fixture
def reviewer(users: dict[Role, User]) -> User:
    return users[Role.COMPLIANCE]


@pytest.fixture
def cardio(db: None) -> Program:
    audience_factories.specialties()
    return factories.program("cardio")


@pytest.fixture
def retired_calls() -> Iterator[list[RetiredVersion]]:
    """A messaging-like hook that records each retirement and 'cancels' two messages."""
    calls: list[RetiredVersion] = []

    def hook(event: RetiredVersion) -> int:
        calls.append(event)
        return 2

    content_retired_register(hook)
    yield calls
    content_retired_unregister(hook)
