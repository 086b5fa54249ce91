"""Series subscriptions in a real browser: compliance publishes an episode from the review
page, the series page shows it reaching the subscribers, and a subscriber's phone (the
simulator) shows the text."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from carereach.engagement.models import ReleaseStatus, SeriesRelease
from carereach.messaging.runtime import worker_tick
from carereach.security.roles import Role
from tests.browser.test_console_shell import sign_in
from tests.engagement.factories import NOON_NY, Clock, Podcast, episode, in_review, podcast

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, users: dict[Role, User]) -> Podcast:
    """Noon in New York (the live server's thread sees the same clock); the podcast series
    with its subscribers and episode 5 waiting in review."""
    monkeypatch.setattr(timezone, "now", Clock(NOON_NY))
    made = podcast(users)
    in_review(episode(made.series, author=made.author, number=5), made.author)
    return made


def test_publishing_an_episode_reaches_the_subscribers_phones(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    world: Podcast,
    users: dict[Role, User],
    artifacts: Path,
) -> None:
    sign_in(page, live_server, users[Role.COMPLIANCE].username)
    page.get_by_role("link", name="Review").click()
    page.get_by_test_id("review-episode-5").click()
    form = page.get_by_test_id("approve-form")
    form.get_by_label("Review code").fill("MLR-2026-0500")
    form.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Episode 5 v1 approved.")).to_be_visible()

    release = SeriesRelease.objects.get()
    assert release.status == ReleaseStatus.DONE  # the first batch went as the approval committed

    admin = browser.new_context()
    try:
        marketer = admin.new_page()
        sign_in(marketer, live_server, users[Role.ADMIN].username)
        marketer.goto(f"{live_server.url}/content/series/{world.series.pk}/")
        panel = marketer.get_by_test_id("series-releases")
        expect(panel.get_by_test_id("subscriber-count")).to_have_text("3")
        shown = panel.get_by_test_id(f"release-{release.version_id}")
        expect(shown.get_by_test_id("release-status")).to_have_text("Fanned out")
        expect(shown.get_by_test_id("release-queued")).to_have_text("2")  # Ana's text, Ben's mail
        expect(shown.get_by_test_id("release-held")).to_have_text("1")  # 07:00 in Honolulu
        marketer.screenshot(path=str(artifacts / "series-release.png"), full_page=True)

        worker_tick("w1")  # the worker sends what is due
        expect(shown.get_by_test_id("release-queued")).to_have_text("0")  # the panel polls
        marketer.goto(f"{live_server.url}/simulator/?number=%2B12125550101")
        expect(marketer.get_by_text("Heart Matters: hi Ana, a new episode is out:")).to_be_visible()
        marketer.screenshot(path=str(artifacts / "series-simulator.png"), full_page=True)
        marketer.close()
    finally:
        admin.close()
