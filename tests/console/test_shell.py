"""Sign-in, sign-out, idle log-off, dashboard and the API keys page."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from carereach.security.middleware import LAST_SEEN_KEY
from carereach.security.models import ApiKey, AuditEntry
from carereach.security.roles import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_in_with_argon2_and_audit(client: Client, make_user: Callable[..., User]) -> None:
    user = make_user(Role.MARKETER, "maria")
    assert user.password.startswith("argon2")
    response = client.post("/signin/", {"username": "maria", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert AuditEntry.objects.filter(action="sign_in", actor=user).exists()
    page = client.get("/")
    assert page.status_code == 200
    assert b"maria" in page.content


def test_wrong_password_is_401_with_message_and_audited(
    client: Client, make_user: Callable[..., User]
) -> None:
    make_user(Role.MARKETER, "maria")
    response = client.post("/signin/", {"username": "maria", "password": "nope"})
    assert response.status_code == 401
    assert b"correct username and password" in response.content
    entry = AuditEntry.objects.get(action="sign_in_failed")
    assert entry.note == "username=maria"
    assert "nope" not in str(entry.changes) + entry.note


def test_next_parameter_is_kept_but_never_leaves_the_site(
    client: Client, make_user: Callable[..., User]
) -> None:
    make_user(Role.ADMIN, "ada")
    ok = client.post("/signin/?next=/security/audit/", {"username": "ada", "password": PASSWORD})
    assert ok["Location"] == "/security/audit/"
    client.logout()
    evil = client.post(
        "/signin/", {"username": "ada", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert evil["Location"] == "/"


def test_sign_out_needs_post_and_ends_the_session(signed_in: Callable[[Role], Client]) -> None:
    client = signed_in(Role.ANALYST)
    assert client.get("/signout/").status_code == 405
    response = client.post("/signout/")
    assert response["Location"] == "/signin/"
    assert client.get("/").status_code == 302
    assert AuditEntry.objects.filter(action="sign_out").exists()


@override_settings(IDLE_LOGOUT_MINUTES=15)
def test_idle_session_is_signed_out(signed_in: Callable[[Role], Client]) -> None:
    client = signed_in(Role.MARKETER)
    assert client.get("/").status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - 15 * 60 - 5
    session.save()
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")
    login_page = client.get(response["Location"])
    assert b"signed out after 15 idle minutes" in login_page.content
    assert AuditEntry.objects.filter(action="sign_out", note="idle timeout").exists()


def test_active_session_stays_signed_in(signed_in: Callable[[Role], Client]) -> None:
    client = signed_in(Role.MARKETER)
    session = client.session
    session[LAST_SEEN_KEY] = time.time() - 14 * 60
    session.save()
    assert client.get("/").status_code == 200


def test_session_cookie_expires_with_idle_limit(
    client: Client, make_user: Callable[..., User]
) -> None:
    make_user(Role.MARKETER, "maria")
    client.post("/signin/", {"username": "maria", "password": PASSWORD})
    assert client.session.get_expiry_age() == 15 * 60


def test_dashboard_shows_real_counts_even_at_zero(signed_in: Callable[[Role], Client]) -> None:
    page = signed_in(Role.ANALYST).get("/").content.decode()
    for testid in ("count-contacts", "count-consents", "count-messages-today"):
        assert f'data-testid="{testid}">0<' in page


def test_navigation_shows_only_what_the_role_may_use(signed_in: Callable[[Role], Client]) -> None:
    admin = signed_in(Role.ADMIN).get("/").content.decode()
    analyst = signed_in(Role.ANALYST).get("/").content.decode()
    assert 'href="/security/audit/"' in admin
    assert 'href="/security/audit/"' not in analyst


def test_pages_are_accessible_shells(signed_in: Callable[[Role], Client]) -> None:
    page = signed_in(Role.ADMIN).get("/").content.decode()
    assert '<html lang="en">' in page
    assert 'class="skip-link" href="#main"' in page
    assert 'name="viewport"' in page
    assert "/static/django_htmx/htmx-2" in page  # htmx from the package, not a CDN
    assert "cdn" not in page.lower()


def test_unknown_page_is_a_404_page(signed_in: Callable[[Role], Client]) -> None:
    response = signed_in(Role.ADMIN).get("/no/such/page/")
    assert response.status_code == 404
    assert b"Not found" in response.content


def test_api_keys_page_creates_shows_once_and_revokes(
    signed_in: Callable[[Role], Client], users: dict[Role, User]
) -> None:
    client = signed_in(Role.FIELD_REP)
    created = client.post("/account/api-keys/", {"name": "tablet sync"})
    assert created.status_code == 200
    key = ApiKey.objects.get(user=users[Role.FIELD_REP])
    assert f"cr_{key.prefix}_".encode() in created.content
    listing = client.get("/account/api-keys/").content.decode()
    assert "tablet sync" in listing
    assert f"cr_{key.prefix}_" + "x" not in listing
    assert 'data-testid="new-key"' not in listing  # shown once only
    client.post("/account/api-keys/", {"revoke": key.pk})
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_api_key_name_error_shows_next_to_field(signed_in: Callable[[Role], Client]) -> None:
    response = signed_in(Role.MARKETER).post("/account/api-keys/", {"name": "  "})
    assert response.status_code == 400
    assert b'id="key-name-error"' in response.content


def test_cannot_revoke_someone_elses_key(
    signed_in: Callable[[Role], Client], users: dict[Role, User]
) -> None:
    from carereach.security.services import apikey_create

    other = apikey_create(user=users[Role.ADMIN], name="admin key", actor=None).key
    response = signed_in(Role.MARKETER).post("/account/api-keys/", {"revoke": other.pk})
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.revoked_at is None


def test_audit_log_filters_and_rejects_bad_dates(signed_in: Callable[[Role], Client]) -> None:
    client = signed_in(Role.ADMIN)
    client.post("/account/api-keys/", {"name": "k"})
    filtered = client.get("/security/audit/", {"object_type": "api_key", "action": "create"})
    assert filtered.status_code == 200
    assert b"api_key:" in filtered.content
    bad = client.get("/security/audit/", {"since": "2026-05-02", "until": "2026-05-01"})
    assert bad.status_code == 400
    assert b"The end date is before the start date." in bad.content


def test_dashboard_counts_contacts_in_the_users_scope(
    signed_in: Callable[[Role], Client], users: dict[Role, User]
) -> None:
    from carereach.audience.services import territory_assign_rep, territory_create
    from tests.audience import factories

    west = territory_create(code="W", name="West", actor=None)
    territory_create(code="E", name="East", actor=None)
    territory_assign_rep(territory=west, rep=users[Role.FIELD_REP], actor=None)
    factories.contact(kind="hcp", last_name="A", territory="W")
    factories.contact(kind="hcp", last_name="B", territory="E")
    factories.contact(kind="patient", territory="E", email="p@example.org")
    for role, expected in ((Role.ANALYST, 3), (Role.MARKETER, 3), (Role.FIELD_REP, 1)):
        page = signed_in(role).get("/").content.decode()
        assert f'data-testid="count-contacts">{expected}<' in page, role
