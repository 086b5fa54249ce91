"""Audience fixtures shared by the API, service and page tests."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from carereach.audience.models import Territory
from carereach.audience.services import territory_assign_rep, territory_create
from carereach.security.roles import Role


@pytest.fixture
def territories(users: dict[Role, User]) -> dict[str, Territory]:
    """West (the field rep's) and East (nobody's)."""
    west = territory_create(code="W1", name="West", actor=None)
    east = territory_create(code="E1", name="East", actor=None)
    territory_assign_rep(territory=west, rep=users[Role.FIELD_REP], actor=None)
    return {"W1": west, "E1": east}
