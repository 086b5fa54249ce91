"""Audience pages in a real browser: the import wizard, the segment editor, live search, layout."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from carereach.audience import views
from carereach.audience.models import Contact, ContactImport, Segment
from carereach.audience.services import segment_save, territory_create
from carereach.security.roles import Role
from tests.audience import factories
from tests.browser.test_console_shell import VIEWPORTS, assert_no_horizontal_scroll, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MakeUser = Callable[..., User]
MAIN_NAV = "nav[aria-label=Main] a"
MIXED_CSV = (
    "Kind,First Name,Last Name,NPI,Phone,E-mail,Region\n"
    "hcp,Ada,Okafor,1234567893,(415) 555-0101,ada@clinic.example,north\n"
    "hcp,Bo,Lindqvist,1234567890,(415) 555-0102,bo@clinic.example,south\n"
    "hcp,Cy,Marsh,,12,cy@clinic.example,north\n"
    "hcp,Di,Nakamura,,(415) 555-0104,di@clinic.example,east\n"
)


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def directory() -> dict[str, Contact]:
    """A few HCPs and a patient in two territories, through the real validation and service."""
    territory_create(code="W1", name="West", actor=None)
    territory_create(code="E1", name="East", actor=None)
    factories.specialties()
    return {
        "ped": factories.contact(
            kind="hcp",
            first_name="Ana",
            last_name="Pedersen",
            credentials="MD",
            organization="Valley Kids Clinic of the Central Coast and Northern Counties",
            npi="1234567893",
            specialties="208000000X;207Q00000X",
            territory="W1",
            phone="+14155550123",
            email="ana.pedersen-longname@valleykids-central-coast.example",
            address_line1="1200 Alameda de las Pulgas, Suite 400",
            city="Fresno",
            state="CA",
            postal_code="93701",
            preferred_channels="email;sms",
            tags="vip;kol;pediatrics-board",
            **{"custom.region": "central"},
        ),
        "ger": factories.contact(
            kind="hcp",
            first_name="Gus",
            last_name="Gerhardt",
            territory="E1",
            address_line1="5 Main St",
            city="Albany",
            state="NY",
            postal_code="12207",
        ),
        "pat": factories.contact(
            kind="patient",
            first_name="Patricia",
            last_name="Quill",
            date_of_birth="1980-02-03",
            territory="W1",
            phone="+14155550100",
        ),
    }


@pytest.fixture
def held_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Holds each import run until the test lets it go, so the page can be seen polling."""
    release = threading.Event()
    real = views.contact_import_run

    def held(**kwargs: Any) -> ContactImport:
        assert release.wait(timeout=20), "the test never released the import run"
        return real(**kwargs)

    monkeypatch.setattr(views, "contact_import_run", held)
    yield release
    release.set()


def test_import_wizard_end_to_end(
    page: Page,
    live_server: LiveServer,
    make_user: MakeUser,
    var_dir: Path,
    held_run: threading.Event,
    artifacts: Path,
) -> None:
    sign_in(page, live_server, make_user(Role.MARKETER).username)
    page.locator(MAIN_NAV).filter(has_text="Import").click()
    expect(page.get_by_role("heading", level=1, name="Import contacts")).to_be_visible()

    # Step 1: the file and the mode.
    page.get_by_label("CSV file").set_input_files(
        {"name": "doctors.csv", "mimeType": "text/csv", "buffer": MIXED_CSV.encode()}
    )
    page.get_by_label("Valid rows only").check()
    page.get_by_role("button", name="Upload and check").click()

    # Step 2: a select per header, prefilled; the dry run names the bad rows.
    expect(page.get_by_role("heading", level=2, name=re.compile("Step 2"))).to_be_visible()
    expect(page.locator(".steps [aria-current=step]")).to_contain_text("Map and check")
    expect(page.get_by_label("First Name", exact=True)).to_have_value("first_name")
    expect(page.get_by_label("E-mail", exact=True)).to_have_value("email")
    expect(page.get_by_label("Region", exact=True)).to_have_value("")
    summary = page.get_by_test_id("import-summary")
    expect(summary).to_contain_text("With errors2")
    problems = page.get_by_test_id("import-problems").locator("tbody tr")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("3NPI1234567890")
    expect(problems.nth(1)).to_contain_text("4Phone12")
    assert Contact.objects.count() == 0

    page.get_by_label("Region", exact=True).select_option("custom.region")
    page.get_by_role("button", name="Check again with this matching").click()
    expect(page.get_by_role("status").first).to_contain_text("checked again")
    expect(page.get_by_label("Region", exact=True)).to_have_value("custom.region")

    # Step 3: the run; the progress polls while it works, then the outcome replaces it.
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/progress/" in r.url else None)
    page.get_by_role("button", name="Run the import").click()
    progress = page.locator("#import-progress progress")
    expect(progress).to_be_visible()
    expect(page.locator("#import-progress")).to_contain_text("Starting the import")
    page.screenshot(path=artifacts / "audience-import-running-desktop.png", full_page=True)
    page.wait_for_timeout(1500)
    assert len(polls) >= 2, "the progress is polled about every second"
    held_run.set()
    outcome = page.get_by_role("status").filter(has_text="Import finished")
    expect(outcome).to_have_text("Import finished: 2 new contacts, 0 merged, 2 rows left out.")
    expect(progress).to_have_count(0)
    asked = len(polls)
    page.wait_for_timeout(1500)
    assert len(polls) == asked, "the polling stops once the import is done"
    page.screenshot(path=artifacts / "audience-import-done-desktop.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the rows with errors (CSV)").click()
    saved = download.value.path()
    assert saved is not None
    rows = Path(saved).read_text(encoding="utf-8-sig")
    assert "Lindqvist" in rows
    assert "Marsh" in rows
    assert "Okafor" not in rows
    assert Contact.objects.filter(custom_fields__region="north").count() == 1

    page.get_by_role("link", name="See the contacts").click()
    expect(page.get_by_role("link", name="Ada Okafor")).to_be_visible()


def test_segment_editor_counts_as_you_type_shows_errors_and_saves(
    page: Page, live_server: LiveServer, make_user: MakeUser, directory: dict[str, Contact]
) -> None:
    sign_in(page, live_server, make_user(Role.MARKETER).username)
    page.locator(MAIN_NAV).filter(has_text="Segments").click()
    page.get_by_role("link", name="New segment").click()
    expect(page.get_by_role("heading", level=1, name="New segment")).to_be_visible()
    status = page.locator("#segment-status")
    expect(status).to_contain_text("Type a query")

    previews: list[str] = []
    page.on("request", lambda r: previews.append(r.url) if "/preview/" in r.url else None)
    query = page.get_by_label("Query", exact=True)
    query.press_sequentially("kind = hcp", delay=40)
    count = page.get_by_test_id("segment-count")
    expect(count).to_have_text("2 contacts match")
    assert len(previews) == 1, "typing is debounced into one preview"
    sample = page.locator("#segment-sample tbody tr")
    expect(sample).to_have_count(2)
    expect(sample.first).to_contain_text("Gus Gerhardt")

    query.press_sequentially(' and state = "CA"', delay=20)
    expect(count).to_have_text("1 contact matches")
    expect(sample).to_have_count(1)

    query.fill("kind = hcp\nand state =")
    expect(status).to_contain_text("Line 2, column 12:")
    expect(status).to_contain_text("expected a value")
    expect(page.get_by_test_id("segment-caret")).to_have_text("and state =\n           ^")
    expect(sample).to_have_count(0)
    page.get_by_role("button", name="Go to the error in the query").click()
    expect(query).to_be_focused()
    assert query.evaluate("el => el.selectionStart") == len("kind = hcp\nand state =")

    query.fill('kind = hcp and state = "CA"')
    expect(count).to_have_text("1 contact matches")
    page.get_by_label("Name", exact=True).fill("Californian HCPs")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("heading", level=1, name="Californian HCPs")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("is saved")
    expect(page.get_by_test_id("segment-count")).to_have_text("1 contact matches")
    assert Segment.objects.get(name="Californian HCPs").query == 'kind = hcp and state = "CA"'


def test_contact_search_updates_the_list_as_you_type(
    page: Page, live_server: LiveServer, make_user: MakeUser, directory: dict[str, Contact]
) -> None:
    sign_in(page, live_server, make_user(Role.ADMIN).username)
    page.locator(MAIN_NAV).filter(has_text="Contacts").click()
    rows = page.locator("#contact-results tbody tr")
    expect(rows).to_have_count(3)
    page.evaluate("() => { window.sameDocument = true; }")
    page.get_by_label("Search").press_sequentially("Gerh", delay=40)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Gus Gerhardt")
    expect(page).to_have_url(re.compile(r"/audience/contacts/\?q=Gerh"))
    page.get_by_label("Search").fill("")
    page.get_by_label("Kind").select_option("patient")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Patricia Quill")
    assert page.evaluate("() => window.sameDocument === true"), "the list changed in place"
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1, name="Patricia Quill")).to_be_visible()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_audience_pages_fit_the_screen(
    page: Page,
    live_server: LiveServer,
    make_user: MakeUser,
    directory: dict[str, Contact],
    var_dir: Path,
    artifacts: Path,
    viewport: str,
) -> None:
    page.set_viewport_size(VIEWPORTS[viewport])
    admin = make_user(Role.ADMIN)
    segment = segment_save(name="West HCPs", query='kind = hcp and territory = "W1"', actor=admin)
    sign_in(page, live_server, admin.username)
    contact = directory["ped"]
    shots = {
        "contacts": "/audience/contacts/",
        "contact": f"/audience/contacts/{contact.pk}/",
        "contact-new": "/audience/contacts/new/",
        "segment": f"/audience/segments/{segment.pk}/",
        "import": "/audience/imports/new/",
    }
    for name, path in shots.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("h1")).to_be_visible()
        page.screenshot(path=artifacts / f"audience-{name}-{viewport}.png", full_page=True)
        assert_no_horizontal_scroll(page, viewport)

    page.goto(f"{live_server.url}/audience/segments/{segment.pk}/")
    page.get_by_label("Query", exact=True).fill('kind = hcp and territory = "W1" and')
    expect(page.locator("#segment-status")).to_contain_text("Line 1")
    page.screenshot(path=artifacts / f"audience-segment-error-{viewport}.png", full_page=True)
    assert_no_horizontal_scroll(page, viewport)

    page.goto(f"{live_server.url}/audience/imports/new/")
    page.get_by_label("CSV file").set_input_files(
        {"name": "doctors.csv", "mimeType": "text/csv", "buffer": MIXED_CSV.encode()}
    )
    page.get_by_role("button", name="Upload and check").click()
    expect(page.get_by_test_id("import-problems")).to_be_visible()
    page.screenshot(path=artifacts / f"audience-import-check-{viewport}.png", full_page=True)
    assert_no_horizontal_scroll(page, viewport)

    page.goto(f"{live_server.url}/audience/contacts/new/")
    page.get_by_label("NPI").fill("1234567890")
    page.get_by_label("Phone", exact=True).fill("12")
    page.get_by_role("button", name="Save contact").click()
    expect(page.locator("#id_npi_error")).to_be_visible()
    page.screenshot(path=artifacts / f"audience-contact-errors-{viewport}.png", full_page=True)
    assert_no_horizontal_scroll(page, viewport)


@pytest.mark.parametrize(
    "path", ["/audience/contacts/", "/audience/contacts/new/", "/audience/segments/new/"]
)
def test_every_audience_input_has_a_label(
    page: Page, live_server: LiveServer, make_user: MakeUser, path: str
) -> None:
    sign_in(page, live_server, make_user(Role.ADMIN).username)
    page.goto(f"{live_server.url}{path}")
    controls = page.locator("main").locator("input:not([type=hidden]), select, textarea")
    assert controls.count() > 0
    for control in controls.all():
        label = control.evaluate("el => el.labels.length ? el.labels[0].innerText : ''")
        assert label, f"{path}: the control {control.get_attribute('id')} has no label"
