"""Content in a real browser: the compliance reviewer approves a version; the composer's one-click
GSM replacement turns a UCS-2 text back into GSM-7."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from carereach.content.models import ContentVersion, VersionStatus
from carereach.content.services import version_submit
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.browser.test_console_shell import sign_in
from tests.content import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MakeUser = Callable[..., User]
SMS = "Heart Matters: hi {{ first_name }}, episode 12: {{ tracked_link }} Reply STOP to opt out."


@pytest.fixture
def in_review(make_user: MakeUser) -> ContentVersion:
    audience.specialties()
    author = make_user(Role.MARKETER)
    program = factories.program("cardio")
    item = factories.item(
        actor=author, code="heart-12", program=program, bodies=[factories.sms(SMS)]
    )
    return version_submit(version=factories.first_version(item), actor=author)


def test_compliance_reviewer_approves_a_version(
    page: Page,
    live_server: LiveServer,
    make_user: MakeUser,
    in_review: ContentVersion,
    artifacts: Path,
) -> None:
    make_user(Role.COMPLIANCE, "carla")
    sign_in(page, live_server, "carla")
    page.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", level=1, name="Review")).to_be_visible()
    page.get_by_test_id("review-heart-12").click()
    expect(page.get_by_test_id("review-status")).to_have_text("In review")
    # The preview renders the text for the sample HCP, footer included.
    expect(page.get_by_test_id("preview")).to_contain_text("Heart Matters: hi Ana, episode 12:")
    form = page.get_by_test_id("approve-form")
    form.get_by_label("Review code").fill("MLR-2026-0142")
    form.get_by_label("Comments").fill("Approved as written.")
    page.screenshot(path=str(artifacts / "content-review.png"), full_page=True)
    form.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Heart 12 v1 approved.")).to_be_visible()
    in_review.refresh_from_db()
    assert in_review.status == VersionStatus.APPROVED
    assert in_review.review_code == "MLR-2026-0142"
    assert in_review.reviewer is not None
    assert in_review.reviewer.username == "carla"


def test_composer_replaces_characters_in_one_click(
    page: Page, live_server: LiveServer, make_user: MakeUser, artifacts: Path
) -> None:
    make_user(Role.MARKETER, "mark")
    sign_in(page, live_server, "mark")
    page.goto(f"{live_server.url}/content/composer/")
    text = page.get_by_test_id("sms-text-scratch")
    text.fill("It\u2019s time for your \u201crefill\u201d \u2013 call us")
    count = page.get_by_test_id("sms-count-scratch")
    expect(count.get_by_test_id("sms-encoding")).to_have_text("UCS-2")
    expect(count).to_contain_text("U+2019")
    expect(page.locator(".sms-highlight mark").first).to_have_text("\u2019")
    page.screenshot(path=str(artifacts / "content-composer-ucs2.png"), full_page=True)
    page.get_by_test_id("sms-replace-scratch").click()
    expect(page.get_by_test_id("sms-count-scratch").get_by_test_id("sms-encoding")).to_have_text(
        "GSM-7"
    )
    expect(page.get_by_test_id("sms-text-scratch")).to_have_value(
        'It\'s time for your "refill" - call us'
    )
    expect(page.get_by_text("Replaced 4 characters.")).to_be_visible()
    # Typing again still counts live after the swap.
    page.get_by_test_id("sms-text-scratch").press_sequentially(" \u20ac")
    expect(page.get_by_test_id("sms-count-scratch")).to_contain_text("septets")
    page.screenshot(path=str(artifacts / "content-composer-gsm.png"), full_page=True)
