"""Consent in a real browser: a rep's in-person capture on a tablet, with a finger signature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from carereach.audience.models import Contact
from carereach.audience.services import territory_assign_rep, territory_create
from carereach.consent.models import ConsentEntry
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.browser.test_console_shell import VIEWPORTS, assert_no_horizontal_scroll, sign_in
from tests.consent import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MakeUser = Callable[..., User]
PHONE = "+14155550123"


@pytest.fixture
def doctor() -> Contact:
    territory_create(code="W1", name="West", actor=None)
    factories.program("podcast")
    factories.program(
        "promo",
        name="Cardio news",
        type="marketing",
        channels=["sms"],
        keywords=["CARDIO"],
        brand="Heartwell",
        disclosure_text="By signing, you agree to receive recurring marketing text messages "
        "about Heartwell from Example Pharma at the number provided, sent by automated means. "
        "Consent is not a condition of purchase. Up to 4 msgs/mo. Msg & data rates may apply. "
        "Reply STOP to cancel, HELP for help.",
        disclosure_version="2026-02",
    )
    factories.program("letters", channels=["email"], keywords=["LETTERS"])
    return audience.contact(
        kind="hcp",
        first_name="Ana",
        last_name="Pedersen",
        territory="W1",
        phone=PHONE,
        email="ana.pedersen-longname@valleykids-central-coast.example",
    )


@pytest.fixture
def rep(make_user: MakeUser, doctor: Contact) -> User:
    """A field rep whose territory holds the doctor."""
    user = make_user(Role.FIELD_REP)
    assert doctor.territory is not None
    territory_assign_rep(territory=doctor.territory, rep=user, actor=None)
    return user


def _sign(page: Page) -> None:
    canvas = page.get_by_test_id("signature-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 25):
        page.mouse.move(x + step * 12, y + (18 if step % 2 else -18), steps=2)
    page.mouse.up()


def test_rep_captures_consent_on_a_tablet(
    page: Page, live_server: LiveServer, rep: User, doctor: Contact, artifacts: Path
) -> None:
    page.set_viewport_size(VIEWPORTS["tablet"])
    sign_in(page, live_server, rep.username)
    page.goto(f"{live_server.url}/audience/contacts/{doctor.pk}/")
    timeline = page.get_by_test_id("consent-timeline")
    expect(timeline).to_contain_text("No consent recorded yet.")
    timeline.get_by_role("link", name="Record consent").click()
    expect(page.get_by_role("heading", level=1, name="Record consent")).to_be_visible()

    page.get_by_role("radio", name=PHONE).check()
    # The e-mail-only program hides for a phone; nothing is ticked for the person.
    expect(page.get_by_role("checkbox", name="Letters program")).to_be_hidden()
    cardio = page.get_by_role("checkbox", name="Cardio news")
    expect(cardio).not_to_be_checked()
    expect(page.locator("#program-promo-disclosure")).to_contain_text("version 2026-02")
    expect(page.locator("#program-promo-disclosure")).to_contain_text("Reply STOP to cancel")
    cardio.check()
    tile = cardio.locator("xpath=ancestor::label")
    tile_box = tile.bounding_box()
    assert tile_box is not None
    assert tile_box["height"] >= 44, "touch targets are at least 44px tall"

    _sign(page)
    signature = page.locator("[data-signature-input]")
    assert (signature.input_value() or "").startswith("data:image/png;base64,")
    page.screenshot(path=artifacts / "consent-capture-signed-tablet.png", full_page=True)
    assert_no_horizontal_scroll(page, "tablet")

    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_role("heading", level=1, name="Consent recorded")).to_be_visible()
    expect(page.get_by_test_id("receipt")).to_contain_text("Cardio news from Heartwell")
    expect(page.get_by_test_id("receipt")).to_contain_text("Reply STOP to opt out")
    page.screenshot(path=artifacts / "consent-receipt-tablet.png", full_page=True)

    entry = ConsentEntry.objects.get()
    assert (entry.address, entry.channel, entry.action, entry.method) == (
        PHONE,
        "sms",
        "grant",
        "in_person",
    )
    assert entry.evidence["signature"].startswith("data:image/png;base64,")
    assert entry.evidence["user_agent"]

    page.get_by_role("link", name="Back to the contact").click()
    states = page.get_by_test_id("consent-states")
    expect(states).to_contain_text("Cardio news")
    expect(states).to_contain_text("Granted")
    history = page.get_by_test_id("consent-history")
    expect(history).to_contain_text("Grant")
    expect(history).to_contain_text("In Person")
    expect(history).to_contain_text("signature")
    page.screenshot(path=artifacts / "consent-timeline-tablet.png", full_page=True)
    assert_no_horizontal_scroll(page, "tablet")


def test_capture_errors_show_by_their_fields_on_a_phone(
    page: Page, live_server: LiveServer, rep: User, doctor: Contact, artifacts: Path
) -> None:
    page.set_viewport_size(VIEWPORTS["phone"])
    sign_in(page, live_server, rep.username)
    page.goto(f"{live_server.url}/consent/capture/{doctor.pk}/")
    expect(page.get_by_test_id("signature-canvas")).to_be_visible()
    page.screenshot(path=artifacts / "consent-capture-phone.png", full_page=True)
    assert_no_horizontal_scroll(page, "phone")

    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was written.")
    expect(page.locator("#address-error")).to_be_visible()
    expect(page.locator("#programs-error")).to_be_visible()
    expect(page.locator("#signature-error")).to_be_visible()
    page.screenshot(path=artifacts / "consent-capture-errors-phone.png", full_page=True)
    assert_no_horizontal_scroll(page, "phone")
    assert not ConsentEntry.objects.exists()


@pytest.mark.parametrize("viewport", ["tablet", "desktop"])
def test_capture_and_revoke_pages_fit_the_screen(
    page: Page,
    live_server: LiveServer,
    make_user: MakeUser,
    doctor: Contact,
    artifacts: Path,
    viewport: str,
) -> None:
    page.set_viewport_size(VIEWPORTS[viewport])
    sign_in(page, live_server, make_user(Role.ADMIN).username)
    for name, path in {
        "capture": f"/consent/capture/{doctor.pk}/",
        "revoke": f"/consent/revoke/{doctor.pk}/",
        "proof": f"/consent/contacts/{doctor.pk}/proof/",
    }.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("h1")).to_be_visible()
        page.screenshot(path=artifacts / f"consent-{name}-{viewport}.png", full_page=True)
        assert_no_horizontal_scroll(page, viewport)
    controls = page.locator("main").locator("input:not([type=hidden]), select, textarea")
    page.goto(f"{live_server.url}/consent/revoke/{doctor.pk}/")
    for control in controls.all():
        label = control.evaluate("el => el.labels.length ? el.labels[0].innerText : ''")
        assert label, f"the control {control.get_attribute('name')} has no label"
