"""Audience fixtures shared by the API, service and page tests."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module

import pytest
from django.contrib.auth.models import User
from pytest_django.plugin import blocking_manager_key

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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """A transactional test ends by emptying every table, the NUCC specialties its migration
    loaded too; put them back, so tests run after it on the same worker find them."""
    result = yield
    marker = item.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        from django.apps import apps

        from carereach.audience.models import Specialty

        load = import_module("carereach.audience.migrations.0003_load_nucc_taxonomy").load
        with item.config.stash[blocking_manager_key].unblock():
            if not Specialty.objects.exists():
                load(apps, None)
    return result
