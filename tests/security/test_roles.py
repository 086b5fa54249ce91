"""The role groups in the database match roles.MATRIX, and every page and route is guarded."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from carereach.interop.api import api
from carereach.security.roles import MATRIX, PERMISSION_APP, Capability, Role

pytestmark = pytest.mark.django_db

# Console pages open to anyone (signing in) or to every signed-in user (signing out).
PUBLIC_VIEWS = {
    "console:login",
    "console:logout",
    # Recipients reach these by a signed link, without an account.
    "consent:confirm",
    # The public sign-up page of a program, for anyone.
    "consent:signup",
    "consent:signup_thanks",
    "consent:preferences",
    "consent:unsubscribe",
    # A tracked link in a message: the unguessable token is the only key.
    "content:link",
    # Mail services' webhooks: authenticated by the service's basic auth or signature.
    *(f"mail_events:{c}_tracking" for c in ("postmark", "mailgun", "sparkpost", "mailjet")),
    "mail_events:brevo_tracking",
}
# API operations any valid key may call, or none at all (health for load balancers).
OPEN_OPERATIONS = {"health", "me"}


def test_groups_match_matrix() -> None:
    for role, capabilities in MATRIX.items():
        group = Group.objects.get(name=role.value)
        in_db = set(
            group.permissions.filter(content_type__app_label=PERMISSION_APP).values_list(
                "codename", flat=True
            )
        )
        assert in_db == {cap.value for cap in capabilities}, (
            f"role {role} differs from roles.MATRIX: add a migration calling sync_role_groups"
        )


def test_every_role_has_a_group_and_analyst_sees_no_records() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}
    assert Capability.VIEW_CONTACTS not in MATRIX[Role.ANALYST]
    assert Capability.VIEW_PHI not in MATRIX[Role.FIELD_REP]


def _console_patterns(
    resolver: URLResolver | None = None, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in {"admin", "api"} or str(entry.pattern).startswith("api/"):
                continue
            yield from _console_patterns(
                entry, prefix + str(entry.pattern), entry.namespace or namespace
            )
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}:{entry.name}", prefix + str(entry.pattern), entry


def _console_pages() -> list[tuple[str, str, Capability]]:
    pages = []
    for name, route, pattern in _console_patterns():
        if name in PUBLIC_VIEWS:
            continue
        capability = getattr(pattern.callback, "required_capability", None)
        assert capability is not None, f"console page {name} declares no capability"
        if "<" not in route:
            pages.append((name, "/" + route, capability))
    return pages


def test_console_has_guarded_pages() -> None:
    assert len(_console_pages()) >= 3


@pytest.mark.parametrize("role", list(Role))
def test_console_matrix(role: Role, signed_in: Callable[[Role], Client]) -> None:
    client = signed_in(role)
    for name, url, capability in _console_pages():
        response = client.get(url)
        if capability in MATRIX[role]:
            assert response.status_code == 200, f"{role} should reach {name}"
        else:
            assert response.status_code == 403, f"{role} must be refused {name}"
            assert b"Not allowed" in response.content


def test_console_pages_send_anonymous_to_sign_in(client: Client) -> None:
    for name, url, _ in _console_pages():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith("/signin/?next=")


def _api_operations() -> list[tuple[str, str, str, Capability | None]]:
    operations = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                name = operation.view_func.__name__
                capabilities = {
                    getattr(auth, "capability", None) for auth in operation.auth_callbacks
                }
                assert len(capabilities) <= 1, f"{name}: one capability per operation"
                capability = capabilities.pop() if capabilities else None
                if capability is None:
                    assert name in OPEN_OPERATIONS, f"API operation {name} declares no capability"
                for method in operation.methods:
                    operations.append(
                        (method, (prefix + path).replace("//", "/"), name, capability)
                    )
    return operations


@pytest.mark.parametrize("role", list(Role))
def test_api_matrix(role: Role, api: Callable[[Role], Client]) -> None:
    client = api(role)
    for method, path, name, capability in _api_operations():
        if capability is None:
            continue
        url = "/api/v1" + path.replace("{key_id}", "999999")
        response = client.generic(method, url, data="{}", content_type="application/json")
        if capability in MATRIX[role]:
            assert response.status_code not in (401, 403), f"{role} should reach {name}"
        else:
            assert response.status_code == 403, f"{role} must be refused {name}"
            assert response.json()["code"] == "forbidden"


def test_api_refuses_anonymous(client: Client) -> None:
    for method, path, name, _ in _api_operations():
        if name == "health":
            continue
        url = "/api/v1" + path.replace("{key_id}", "1")
        response = client.generic(method, url)
        assert response.status_code == 401, name
        assert response.json()["code"] == "unauthorized"
