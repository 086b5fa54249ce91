"""Analytics in a real browser: a marketer opens the dashboard, reads the charts and figures,
and drills down from the click count to the messages behind it; an analyst sees the same
figures, small cells suppressed, and no way down to single messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from carereach.security.roles import Role
from tests.analytics import factories
from tests.browser.test_console_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(users: dict[Role, User], make_user: object) -> factories.World:
    rep = users[Role.FIELD_REP]
    return factories.world(rep)


def test_marketer_drills_down_from_a_figure_to_messages(
    page: Page,
    live_server: LiveServer,
    world: factories.World,
    users: dict[Role, User],
    artifacts: Path,
) -> None:
    sign_in(page, live_server, users[Role.MARKETER].username)
    page.get_by_role("link", name="Analytics", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Analytics")).to_be_visible()
    page.get_by_label("Campaign").select_option(label="Flu shots")
    page.get_by_role("button", name="Show").click()

    expect(page.get_by_test_id("funnel-chart").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("series-chart").locator("svg")).to_be_visible()
    row = page.get_by_test_id(f"row-{world.a.pk}")
    expect(row.get_by_test_id(f"cell-{world.a.pk}-sent")).to_contain_text("30")
    expect(row.get_by_test_id(f"cell-{world.a.pk}-failed")).to_contain_text("<11")
    expect(row.get_by_test_id(f"cell-{world.a.pk}-clicked")).to_contain_text("40.0%")
    page.screenshot(path=str(artifacts / "analytics-dashboard.png"), full_page=True)

    row.get_by_test_id(f"cell-{world.a.pk}-clicked").get_by_role("link").click()
    expect(page.get_by_role("heading", level=1, name="Messages: Clicked")).to_be_visible()
    expect(page.get_by_test_id("drilldown-table").locator("tbody tr")).to_have_count(12)
    first = world.messages_a[0]
    page.get_by_test_id(f"drill-message-{first.pk}").click()
    expect(page).to_have_url(f"{live_server.url}/messages/{first.pk}/")


def test_analyst_sees_suppressed_aggregates_only(
    page: Page, live_server: LiveServer, world: factories.World, users: dict[Role, User]
) -> None:
    sign_in(page, live_server, users[Role.ANALYST].username)
    page.goto(f"{live_server.url}/analytics/?group=campaign")
    tiny = page.get_by_test_id(f"row-{world.b.pk}")
    expect(tiny.get_by_test_id(f"cell-{world.b.pk}-sent")).to_have_text("<11")
    expect(page.get_by_test_id("funnel-table").get_by_role("link")).to_have_count(0)
