from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User

from carereach.security.roles import Role
from tests.analytics import factories


@pytest.fixture
def rep(make_user: Callable[..., User]) -> User:
    return make_user(Role.FIELD_REP, "rita")


@pytest.fixture
def world(db: None, rep: User) -> factories.World:
    return factories.world(rep)
