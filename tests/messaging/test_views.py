"""Console: a contact's messages and skips, and one message explained, for the right people."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.test import Client

from carereach.audience.models import Contact, Territory
from carereach.consent.models import Program
from carereach.messaging.models import Message
from carereach.messaging.services.dispatch import dispatch_due
from carereach.messaging.services.fanout import Rendered, Trigger, fanout
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

NOON_NY = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)  # past: due at once


def text(contact: Contact, key: str, language: str) -> Rendered:
    return Rendered(body="Your results are ready in the portal.")


@pytest.fixture
def program() -> Program:
    return factories.program("clinic", sender_numbers=["+14155550100"])


@pytest.fixture
def sent(program: Program) -> dict[str, Message]:
    """A patient who got a text and an HCP who was skipped (no consent)."""
    patient = audience.contact(
        kind="patient", first_name="Ana", phone="+14155550101", time_zone="America/New_York"
    )
    messaging.grant(patient, "+14155550101", program)
    hcp = audience.contact(kind="hcp", last_name="Ruiz", phone="+14155550102")
    fanout(
        trigger=Trigger(key="c:1", origin="campaign", program=program, channel="sms"),
        contacts=Contact.objects.all(),
        render=text,
        now=NOON_NY,
    )
    dispatch_due(worker="w1")
    return {
        "patient": Message.objects.get(contact=patient),
        "hcp": Message.objects.get(contact=hcp),
    }


def test_the_contact_timeline_lists_sends_and_skips_with_their_reason(
    sent: dict[str, Message], signed_in: Callable[[Role], Client]
) -> None:
    client = signed_in(Role.ADMIN)
    hcp = sent["hcp"]
    fragment = client.get(f"/contacts/{hcp.contact_id}/messages/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert "Skipped" in html
    assert "No consent for this address, channel and program." in html
    assert "<html" not in html
    page = client.get(f"/contacts/{hcp.contact_id}/messages/")
    assert "<html" in page.content.decode()


def test_a_message_explained_shows_reasons_timeline_and_text(
    sent: dict[str, Message], signed_in: Callable[[Role], Client]
) -> None:
    message = sent["patient"]
    response = signed_in(Role.ADMIN).get(f"/messages/{message.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Consent and every rule allow it." in html
    assert "Your results are ready in the portal." in html
    assert [e.kind for e in response.context["events"]] == ["queued", "sent", "delivered"]
    assert AuditEntry.objects.filter(object_type="message", object_id=str(message.pk)).exists()


def test_a_patients_text_is_hidden_from_roles_without_phi(
    sent: dict[str, Message], signed_in: Callable[[Role], Client]
) -> None:
    message = sent["patient"]
    response = signed_in(Role.MARKETER).get(f"/messages/{message.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Your results are ready" not in html
    assert "+14155550101" not in html
    assert "0101" in html  # the masked number


def test_reps_see_only_their_territory_and_analysts_nothing(
    sent: dict[str, Message], signed_in: Callable[[Role], Client], users: dict[Role, object]
) -> None:
    west = Territory.objects.create(code="W9", name="West")
    Contact.objects.filter(pk=sent["hcp"].contact_id).update(territory=west)
    rep = signed_in(Role.FIELD_REP)
    assert rep.get(f"/messages/{sent['hcp'].pk}/").status_code == 404
    assert rep.get(f"/contacts/{sent['hcp'].contact_id}/messages/").status_code == 404
    assert signed_in(Role.ANALYST).get(f"/messages/{sent['hcp'].pk}/").status_code == 403
    assert signed_in(Role.ADMIN).get("/messages/999999/").status_code == 404
