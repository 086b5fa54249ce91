"""Journeys in a real browser: a care coordinator moves a reminder step and sees the refusal
when the content is gone, then finds an appointment whose patient asked to reschedule."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from carereach.journeys.models import JourneyStep
from carereach.security.roles import Role
from tests.browser.test_console_shell import sign_in
from tests.campaigns.factories import NOON_NY, Clock
from tests.journeys import factories as f
from tests.journeys.factories import Clinic, clinic_make

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(monkeypatch: pytest.MonkeyPatch, users: dict[Role, User]) -> Clinic:
    monkeypatch.setattr(timezone, "now", Clock(NOON_NY))
    return clinic_make(users[Role.MARKETER], users[Role.COMPLIANCE])


def test_coordinator_edits_a_journey_and_reads_appointments(
    page: Page, live_server: LiveServer, clinic: Clinic, users: dict[Role, User]
) -> None:
    f.appointment(f.patient(), NOON_NY + f.days(4), external_id="EHR-77")
    sign_in(page, live_server, users[Role.CARE_COORDINATOR].username)
    page.get_by_role("link", name="Journeys", exact=True).click()
    expect(page.get_by_test_id("rates")).to_contain_text("0 of 1 reminded")
    page.get_by_test_id("journey-appointments").click()
    expect(page.get_by_role("heading", level=1, name="Appointment reminders")).to_be_visible()

    page.get_by_label("Hours of step 1").fill("-70")
    page.get_by_role("button", name="Save journey").click()
    expect(page.get_by_text("Journey saved.")).to_be_visible()
    assert JourneyStep.objects.filter(journey=clinic.appointments, offset_minutes=-70 * 60).exists()

    page.get_by_label("Content of step 1").select_option(value="")
    page.get_by_role("button", name="Save journey").click()
    expect(page.get_by_test_id("error")).to_contain_text(
        "Step 1 sends a message: choose an approved content version."
    )

    page.get_by_role("link", name="Appointments", exact=True).click()
    expect(page.get_by_test_id("appointment-EHR-77")).to_contain_text("Dr. Lee")
    page.get_by_test_id("appointment-EHR-77").get_by_role("button", name="No-show").click()
    expect(page.get_by_test_id("appointment-EHR-77")).to_contain_text("No-show")
