"""Consent in a real browser: a rep's in-person capture on a tablet, with a finger signature, and
a person's public sign-up on a phone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from carereach.audience.models import Contact
from carereach.audience.services import territory_assign_rep, territory_create
from carereach.consent import links, notices
from carereach.consent.models import ConsentEntry, ConsentState, Program
from carereach.consent.services import consent_record
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.browser.test_console_shell import VIEWPORTS, assert_no_horizontal_scroll, sign_in
from tests.consent import factories
from tests.consent.conftest import SentNotices

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MakeUser = Callable[..., User]
PHONE = "+14155550123"


@pytest.fixture(autouse=True)
def sent_notices() -> Iterator[SentNotices]:
    """What consent hands to messaging (receipts, opt-in requests), kept for the test to read."""
    sent = SentNotices()
    saved = list(notices._senders)
    notices._senders[:] = [sent]
    yield sent
    notices._senders[:] = saved


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
    page: Page,
    live_server: LiveServer,
    rep: User,
    doctor: Contact,
    artifacts: Path,
    sent_notices: SentNotices,
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
    expect(page.get_by_test_id("receipt-sent")).to_contain_text("Sent to the person by text")
    [receipt] = sent_notices.calls
    assert (receipt.kind, receipt.channel, receipt.address) == ("capture_receipt", "sms", PHONE)
    assert "Cardio news from Heartwell: text messages" in receipt.body

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


def test_public_sign_up_on_a_phone(
    page: Page, live_server: LiveServer, artifacts: Path, sent_notices: SentNotices
) -> None:
    """A person finds the program's page, gets their mistakes shown by the field, signs up,
    and is asked to reply YES; nothing is sent or written before the form is right."""
    factories.program(
        "heartbeat",
        name="Heartbeat podcast",
        brand="Heartwell",
        channels=["sms", "email"],
        keywords=["HEART"],
        web_signup=True,
        disclosure_text="By signing up you agree to receive recurring text messages about the "
        "Heartbeat podcast from Example Pharma at the number given, sent by automated means. "
        "Consent is not a condition of purchase. Up to 4 msgs/mo. Msg & data rates may apply. "
        "Reply STOP to cancel, HELP for help.",
        disclosure_version="2026-03",
    )
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_server.url}/join/heartbeat/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign up for Heartbeat podcast")
    expect(page.locator("#disclosure_version-field")).to_contain_text("version 2026-03")
    expect(page.locator("#disclosure_version-field")).to_contain_text("Reply STOP to cancel")
    texts = page.get_by_role("checkbox", name="Text messages")
    email = page.get_by_role("checkbox", name="E-mail")
    expect(texts).not_to_be_checked()
    expect(email).not_to_be_checked()
    tile = texts.locator("xpath=ancestor::label").bounding_box()
    assert tile is not None
    assert tile["height"] >= 44, "touch targets are at least 44px tall"
    honeypot = page.locator("#id_website").bounding_box()
    assert honeypot is None or honeypot["x"] + honeypot["width"] < 0, "the honeypot shows"
    for control in page.locator("main input:not([type=hidden])").all():
        label = control.evaluate("el => el.labels.length ? el.labels[0].innerText : ''")
        assert label, f"the control {control.get_attribute('name')} has no label"
    assert_no_horizontal_scroll(page, "phone")
    page.screenshot(path=artifacts / "consent-signup-phone.png", full_page=True)

    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was written.")
    expect(page.locator("#kind-error")).to_contain_text("Tell us who you are.")
    expect(page.locator("#first_name-error")).to_be_visible()
    expect(page.locator("#channels-error")).to_contain_text("Tick at least one way")
    assert_no_horizontal_scroll(page, "phone")
    page.screenshot(path=artifacts / "consent-signup-errors-phone.png", full_page=True)

    page.get_by_role("radio", name="Healthcare professional").check()
    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Pedersen")
    page.get_by_role("checkbox", name="Text messages").check()
    page.get_by_label("Mobile number").fill("555")
    page.get_by_role("button", name="Sign up").click()
    phone = page.get_by_label("Mobile number")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#phone-error")).to_contain_text("That number")
    expect(page.get_by_label("Last name")).to_have_value("Pedersen")  # kept
    expect(page.get_by_role("checkbox", name="Text messages")).to_be_checked()
    assert not ConsentEntry.objects.exists()
    assert sent_notices.calls == []

    phone.fill("(415) 555-0123")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("One more step")
    expect(page.get_by_role("status")).to_contain_text("confirm that it was you")
    expect(page.locator("main")).to_contain_text("reply YES to the text")
    assert_no_horizontal_scroll(page, "phone")
    page.screenshot(path=artifacts / "consent-signup-thanks-phone.png", full_page=True)

    entry = ConsentEntry.objects.get()
    assert (entry.address, entry.channel, entry.action, entry.method) == (
        "+14155550123",
        "sms",
        "pending",
        "web_form",
    )
    assert entry.disclosure_version == "2026-03"
    assert entry.evidence["user_agent"]
    assert entry.evidence["ip"] == "127.0.0.1"
    [request] = sent_notices.calls
    assert (request.kind, request.address) == ("double_opt_in_request", "+14155550123")
    assert "reply YES" in request.body


def test_preference_page_saves_in_a_real_browser(
    page: Page, live_server: LiveServer, doctor: Contact, artifacts: Path
) -> None:
    """Browsers send `Origin: null` with a POST from a no-referrer page, and the CSRF check
    refused every save; the public pages now use same-origin."""
    podcast = Program.objects.get(code="podcast")
    consent_record(
        contact=doctor,
        address=PHONE,
        channels=["sms"],
        programs=[podcast],
        action="grant",
        method="verbal",
        actor=None,
    )
    state = ConsentState.objects.get(address=PHONE, channel="sms", program=podcast)
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_server.url}/p/{links.preferences_token(state)}/")
    page.get_by_role("checkbox").first.uncheck()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: stopped 1")
    assert ConsentEntry.objects.filter(action="revoke", method="preference_page").count() == 1
