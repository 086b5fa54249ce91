"""The sandbox API: scripts text in as a handset and read what the handset got."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from carereach.consent.models import Program
from carereach.consent.selectors import consent_check
from carereach.messaging.runtime import worker_tick
from carereach.security.roles import Role
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

PHONE = messaging.PHONE
SENDER = messaging.SENDER


@pytest.fixture
def program(texting: Program) -> Program:
    return texting


def test_a_scripted_stop_revokes_and_the_confirmation_can_be_read_back(
    program: Program, api: Callable[[Role], Client]
) -> None:
    client = api(Role.ADMIN)
    response = client.post(
        "/api/v1/sandbox/inbound",
        {"from": "(415) 555-0101", "to": SENDER, "body": "STOP"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    assert response.json()["from"] == PHONE
    worker_tick("w1")
    assert not consent_check(address=PHONE, channel="sms", program=program).allowed
    listed = client.get("/api/v1/sandbox/messages", {"to": PHONE})
    assert listed.status_code == 200
    bodies = [row["body"] for row in listed.json()]
    assert bodies == ["Stopped Reply START to opt back in."]
    assert listed.json()[0]["sender"] == SENDER
    assert listed.json()[0]["status"] == "delivered"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"from": "12", "to": SENDER, "body": "hi"}, "from"),
        ({"from": PHONE, "to": "", "body": "hi"}, "to"),
        ({"from": PHONE, "to": SENDER, "body": " "}, "body"),
        ({"from": PHONE, "to": SENDER, "body": "x" * 1601}, "body"),
        ({"to": SENDER, "body": "hi"}, "from"),
    ],
)
def test_bad_inbound_is_refused_with_the_field(
    api: Callable[[Role], Client], payload: dict[str, str], field: str
) -> None:
    response = api(Role.ADMIN).post(
        "/api/v1/sandbox/inbound", payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_the_sandbox_api_is_gone_with_a_real_carrier(
    api: Callable[[Role], Client], settings: object
) -> None:
    settings.CHANNEL_PROVIDERS = {"sms": "twilio"}  # type: ignore[attr-defined]
    response = api(Role.ADMIN).get("/api/v1/sandbox/messages", {"to": PHONE})
    assert response.status_code == 404


def test_roles_without_the_inbox_are_refused(api: Callable[[Role], Client]) -> None:
    response = api(Role.ANALYST).get("/api/v1/sandbox/messages", {"to": PHONE})
    assert response.status_code == 403
