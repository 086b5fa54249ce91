"""Shared fixtures: users per role, API keys, and a guard that keeps tests off the network."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.security.role_groups import ensure_role_groups
from carereach.security.roles import Role
from carereach.security.services import apikey_create, user_create

PASSWORD = "correct-horse-battery-staple"

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = host == "localhost"
        if not local:
            raise RuntimeError(f"test tried to reach the network: {host}")
    return _real_connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """A reused database may have been emptied by the last run's transactional tests."""
    with django_db_blocker.unblock():
        ensure_role_groups()


@pytest.fixture(autouse=True)
def _role_groups_after_flush(request: pytest.FixtureRequest) -> None:
    """Transactional tests empty every table after themselves; the role groups come back."""
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        request.getfixturevalue("transactional_db")
        ensure_role_groups()


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(role: Role, username: str | None = None) -> User:
        return user_create(
            username=username or f"{role.value}-user",
            password=PASSWORD,
            role=role,
            check_password=False,
        )

    return make


@pytest.fixture
def users(make_user: Callable[..., User]) -> dict[Role, User]:
    return {role: make_user(role) for role in Role}


@pytest.fixture
def signed_in(users: dict[Role, User]) -> Callable[[Role], Client]:
    def client_for(role: Role) -> Client:
        client = Client()
        client.force_login(users[role])
        return client

    return client_for


@pytest.fixture
def api_key(users: dict[Role, User]) -> Callable[[Role], str]:
    def key_for(role: Role) -> str:
        return apikey_create(user=users[role], name="tests", actor=None).plaintext

    return key_for


@pytest.fixture
def api(api_key: Callable[[Role], str]) -> Callable[[Role], Client]:
    """A test client that sends the role's API key as a bearer token."""

    def client_for(role: Role) -> Client:
        return Client(headers={"Authorization": f"Bearer {api_key(role)}"})

    return client_for
