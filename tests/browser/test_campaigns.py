"""A campaign in a real browser: a marketer creates it (a mistake shown by its field first),
previews who gets it and why not, starts it, and watches the progress."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.security.roles import Role
from tests.browser.test_console_shell import sign_in
from tests.campaigns.factories import NOON_NY, Clock, World, world_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, users: dict[Role, User]) -> World:
    """Noon in New York (the live server's thread sees the same clock), and the campaign
    tests' program, approved episode and HCPs."""
    monkeypatch.setattr(timezone, "now", Clock(NOON_NY))
    return world_make(users)


def test_marketer_creates_previews_and_starts_a_campaign(
    page: Page, live_server: LiveServer, world: World, artifacts: Path
) -> None:
    sign_in(page, live_server, world.marketer.username)
    page.get_by_role("link", name="Campaigns", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Campaigns")).to_be_visible()
    page.get_by_role("link", name="New campaign").click()

    page.get_by_label("Name").fill("Episode 12 to every HCP")
    page.get_by_label("Program").select_option(label="Heart Matters")
    page.get_by_label("Content").select_option(label="Episode 12 v1 (MLR-2026-0001)")
    page.get_by_role("button", name="Save draft").click()
    # No audience yet: the form says so under the segment.
    expect(page.locator("#id_segment_error")).to_have_text(
        "Choose a saved segment or write a query."
    )
    page.get_by_label("Segment query").fill("kind = hcp")
    page.get_by_role("button", name="Save draft").click()

    expect(page.get_by_test_id("campaign-status")).to_have_text("Draft")
    preview = page.get_by_test_id("preview")
    expect(preview.get_by_test_id("preview-receive")).to_have_text("3")
    expect(preview.get_by_test_id("preview-hold")).to_have_text("1")
    expect(preview.get_by_test_id("preview-skip")).to_have_text("2")
    expect(preview.get_by_test_id("preview-no_consent")).to_contain_text("No consent")
    expect(preview.get_by_test_id("preview-consent_revoked")).to_contain_text("Opted out")
    expect(preview.get_by_test_id("preview-text")).to_contain_text("Heart Matters: hi Ana")
    page.screenshot(path=str(artifacts / "campaign-preview.png"), full_page=True)

    page.get_by_test_id("start").click()
    expect(page.get_by_text("Episode 12 to every HCP started.")).to_be_visible()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Running")
    progress = page.get_by_test_id("progress")
    expect(progress.get_by_test_id("count-queued")).to_have_text("3")
    expect(progress.get_by_test_id("count-skipped")).to_have_text("2")
    page.screenshot(path=str(artifacts / "campaign-running.png"), full_page=True)

    campaign = Campaign.objects.get()
    assert campaign.status == CampaignStatus.RUNNING
    assert campaign.started_by == world.marketer
