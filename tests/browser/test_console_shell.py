"""The console shell in a real browser: each role's sign-in and menu, refusals, keys, layout."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer

from carereach.console.navigation import NAVIGATION
from carereach.security.models import AuditAction
from carereach.security.roles import MATRIX, ROLE_LABELS, Role
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MakeUser = Callable[..., User]
MAIN_NAV = "nav[aria-label=Main] a"
API_KEY = re.compile(r"^cr_[0-9a-f]{8}_\S+$")
VIEWPORTS: dict[str, ViewportSize] = {
    "phone": {"width": 390, "height": 844},
    "tablet": {"width": 820, "height": 1180},
    "desktop": {"width": 1280, "height": 800},
}


def sign_in(page: Page, server: LiveServer, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real form, as a person would."""
    page.goto(f"{server.url}/signin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def expect_dashboard(page: Page, server: LiveServer) -> None:
    expect(page).to_have_url(f"{server.url}/")
    expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()


@pytest.mark.parametrize("role", list(Role))
def test_each_role_signs_in_sees_its_menu_and_signs_out(
    page: Page, live_server: LiveServer, make_user: MakeUser, role: Role
) -> None:
    user = make_user(role)
    sign_in(page, live_server, user.username)
    expect_dashboard(page, live_server)

    expected = [item.label for item in NAVIGATION if item.capability in MATRIX[role]]
    links = page.locator(MAIN_NAV)
    expect(links).to_have_text(expected)
    for link in links.all():
        expect(link).to_be_visible()
    expect(links.filter(has_text="Dashboard")).to_have_attribute("aria-current", "page")
    expect(page.get_by_test_id("signed-in-as")).to_have_text(user.username)
    expect(page.locator("header").get_by_text(ROLE_LABELS[role], exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.url}/signin/")
    expect(page.get_by_role("heading", level=1, name="Sign in")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(page.locator(MAIN_NAV)).to_have_count(0)
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/signin/?next=/")


def test_wrong_password_shows_the_error_by_the_form_and_stays(
    page: Page, live_server: LiveServer, make_user: MakeUser
) -> None:
    user = make_user(Role.MARKETER)
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        sign_in(page, live_server, user.username, password="not-the-password")
    assert posted.value.status == 401
    expect(page).to_have_url(f"{live_server.url}/signin/")
    error = page.locator("form").get_by_role("alert")
    expect(error).to_contain_text("correct username and password")
    username = page.get_by_label("Username")
    expect(username).to_have_value(user.username)
    expect(username).to_have_attribute("aria-describedby", "signin-error")
    expect(page.locator(MAIN_NAV)).to_have_count(0)


def test_a_page_outside_the_role_shows_not_allowed(
    page: Page, live_server: LiveServer, make_user: MakeUser
) -> None:
    sign_in(page, live_server, make_user(Role.ANALYST).username)
    expect_dashboard(page, live_server)
    expect(page.locator(MAIN_NAV).filter(has_text="Audit log")).to_have_count(0)

    response = page.goto(f"{live_server.url}/security/audit/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", level=1, name="Not allowed")).to_be_visible()
    expect(page.get_by_text("it needs “View audit”")).to_be_visible()
    expect(page.get_by_role("table")).to_have_count(0)
    page.get_by_role("link", name="Back to the dashboard").click()
    expect_dashboard(page, live_server)


def test_admin_finds_their_sign_in_in_the_audit_log(
    page: Page, live_server: LiveServer, make_user: MakeUser
) -> None:
    admin = make_user(Role.ADMIN)
    sign_in(page, live_server, admin.username)
    page.locator(MAIN_NAV).filter(has_text="Audit log").click()
    expect(page.get_by_role("heading", level=1, name="Audit log")).to_be_visible()
    sign_ins = (
        page.get_by_role("row")
        .filter(has_text=admin.username)
        .filter(has_text=str(AuditAction.SIGN_IN.label))
    )
    expect(sign_ins).to_have_count(1)

    page.get_by_label("User").fill(admin.username)
    page.get_by_label("Action").select_option(AuditAction.SIGN_IN.value)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(
        re.compile(rf"/security/audit/\?actor={re.escape(admin.username)}&action=sign_in&")
    )
    expect(sign_ins).to_have_count(1)
    expect(page.locator("tbody tr")).to_have_count(1)


def test_api_key_is_shown_once_works_and_revokes(
    page: Page, live_server: LiveServer, make_user: MakeUser
) -> None:
    sign_in(page, live_server, make_user(Role.FIELD_REP).username)
    page.locator(MAIN_NAV).filter(has_text="API keys").click()
    expect(page.get_by_role("heading", level=1, name="API keys")).to_be_visible()

    page.get_by_label("New key name").fill("tablet app")
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_test_id("new-key")
    expect(shown).to_have_text(API_KEY)
    plaintext = shown.inner_text()
    row = page.get_by_role("row").filter(has_text="tablet app")
    expect(row).to_contain_text("active")
    me = f"{live_server.url}/api/v1/me"
    bearer = {"Authorization": f"Bearer {plaintext}"}
    assert page.request.get(me, headers=bearer).status == 200

    page.goto(f"{live_server.url}/account/api-keys/")  # back later: the key is not shown again
    expect(page.get_by_test_id("new-key")).to_have_count(0)
    assert plaintext not in page.content()

    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("The key is revoked")
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    assert page.request.get(me, headers=bearer).status == 401


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_dashboard_fits_the_screen_and_works_by_keyboard(
    page: Page, live_server: LiveServer, make_user: MakeUser, artifacts: Path, viewport: str
) -> None:
    page.set_viewport_size(VIEWPORTS[viewport])
    sign_in(page, live_server, make_user(Role.ADMIN).username)  # the longest menu
    expect_dashboard(page, live_server)
    page.screenshot(path=artifacts / f"dashboard-{viewport}.png", full_page=True)

    assert_no_horizontal_scroll(page, viewport)
    for link in page.locator(MAIN_NAV).all():
        box = link.bounding_box()
        assert box is not None
        assert box["height"] >= 44, f"{link.inner_text()} is a {box['height']}px target"

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    page.locator(MAIN_NAV).filter(has_text="Audit log").click()  # the widest page: a table
    expect(page.get_by_role("heading", level=1, name="Audit log")).to_be_visible()
    page.screenshot(path=artifacts / f"audit-{viewport}.png", full_page=True)
    assert_no_horizontal_scroll(page, viewport)


def assert_no_horizontal_scroll(page: Page, viewport: str) -> None:
    scroll, client = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client, f"{page.url} scrolls sideways at {viewport} width: {scroll} > {client}"


@pytest.mark.parametrize("path", ["/signin/", "/security/audit/"])
def test_every_input_has_a_label(
    page: Page, live_server: LiveServer, make_user: MakeUser, path: str
) -> None:
    if path != "/signin/":
        sign_in(page, live_server, make_user(Role.ADMIN).username)
    page.goto(f"{live_server.url}{path}")
    controls = page.locator("main").locator("input:not([type=hidden]), select, textarea")
    assert controls.count() > 0
    for control in controls.all():
        control_id = control.get_attribute("id")
        label = control.evaluate("el => el.labels.length ? el.labels[0].innerText : ''")
        assert label, f"{path}: the control {control_id or control} has no label"
        labelled = page.get_by_label(label, exact=True)
        expect(labelled).to_have_count(1)
        assert labelled.get_attribute("id") == control_id, f"{path}: {label!r} names another"
