"""Result-ready notices: clinical lane, portal link only, consent and confidential requests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.audience.models import PatientProfile
from carereach.consent.models import Program
from carereach.engagement.services.results import result_notice_send
from carereach.errors import ValidationError
from carereach.messaging.models import Lane, Message
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.content import factories as content
from tests.engagement.factories import Clock, grant, revoke

pytestmark = pytest.mark.django_db

PORTAL = "https://portal.example.org/results"


@pytest.fixture
def clinic(clock: Clock) -> Program:
    return content.program(
        "clinic", name="Sunrise Clinic", type="healthcare_exempt", channels=["sms", "email"],
        sender_numbers=["+18005550111"], sender_emails=["clinic@example.org"],
    )  # fmt: skip


def patient(phone: str = "+12125550121", email: str = "", **fields: str) -> int:
    values = {"kind": "patient", "first_name": "Pat", "last_name": "Lee", "phone": phone}
    values["time_zone"] = "America/New_York"
    if email:
        values["email"] = email
    return audience.contact(**(values | fields)).pk


def send(user: User, contact: int, program: Program, reference: str = "LAB-1", **kw: str) -> object:
    return result_notice_send(
        actor=user, contact_id=contact, program=program,
        portal_url=kw.get("portal_url", PORTAL), reference=reference,
    )  # fmt: skip


def test_a_notice_is_clinical_and_holds_only_the_portal_link(
    clinic: Program, users: dict[Role, User]
) -> None:
    contact = patient()
    notice = send(users[Role.CARE_COORDINATOR], contact, clinic)
    message = Message.objects.get()
    assert message.lane == Lane.CLINICAL
    assert (message.channel, message.status) == ("sms", "queued")
    assert message.body == (
        "Sunrise Clinic: your results are ready in the patient portal: "
        "https://portal.example.org/results Reply STOP to opt out."
    )
    assert len(message.body) <= 160  # the healthcare exemption's limit
    # Asking again with the same reference sends nothing new; the reference is not stored.
    again = send(users[Role.CARE_COORDINATOR], contact, clinic)
    assert Message.objects.count() == 1
    assert (notice.created, again.created) == (True, False)  # type: ignore[attr-defined]
    assert "LAB-1" not in message.key


def test_an_opt_out_stops_it(clinic: Program, users: dict[Role, User]) -> None:
    from carereach.audience.models import Contact

    contact = patient()
    person = Contact.objects.get(pk=contact)
    grant(person, "+12125550121", clinic)
    revoke(person, "+12125550121", clinic)
    notice = send(users[Role.CARE_COORDINATOR], contact, clinic)
    assert notice.status == "skipped"  # type: ignore[attr-defined]
    assert Message.objects.get().reasons[0]["code"] == "consent_revoked"


def test_a_confidential_request_for_email_only_is_honoured(
    clinic: Program, users: dict[Role, User]
) -> None:
    contact = patient(email="pat@example.org")
    PatientProfile.objects.filter(contact_id=contact).update(
        confidential_channel="email", confidential_address="pat@example.org"
    )
    from carereach.audience.models import Contact

    grant(Contact.objects.get(pk=contact), "pat@example.org", clinic, channel="email")
    send(users[Role.CARE_COORDINATOR], contact, clinic)
    message = Message.objects.get()
    assert (message.channel, message.address) == ("email", "pat@example.org")
    assert message.subject == "Your results are ready"
    assert any(r["code"] == "fallback" and "sms" in r["text"] for r in message.reasons)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"portal_url": "https://portal.example.org/r?test=a1c"}, "portal_url"),
        ({"portal_url": "http://portal.example.org"}, "portal_url"),
        ({"reference": " "}, "reference"),
        ({"hcp": "1"}, "contact"),
        ({"marketing": "1"}, "program"),
    ],
)
def test_bad_requests_are_refused_by_field(
    clinic: Program, users: dict[Role, User], change: dict[str, str], field: str
) -> None:
    contact = patient()
    program = clinic
    if change.pop("hcp", None):
        contact = audience.contact(kind="hcp", last_name="Doe", phone="+12125550199").pk
    if change.pop("marketing", None):
        program = content.program("promo", type="marketing")
    with pytest.raises(ValidationError) as error:
        result_notice_send(
            actor=users[Role.CARE_COORDINATOR],
            contact_id=contact,
            program=program,
            portal_url=change.get("portal_url", PORTAL),
            reference=change.get("reference", "LAB-9"),
        )
    assert error.value.field == field
    assert not Message.objects.exists()


def test_api_and_console(
    clinic: Program,
    api: Callable[[Role], Client],
    signed_in: Callable[[Role], Client],
) -> None:
    contact = patient()
    body = {"contact": contact, "program": "clinic", "portal_url": PORTAL, "reference": "A-1"}
    response = api(Role.CARE_COORDINATOR).post(
        "/api/v1/result-notices", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"
    again = api(Role.CARE_COORDINATOR).post(
        "/api/v1/result-notices", body, content_type="application/json"
    )
    assert (again.status_code, again.json()["created"]) == (200, False)
    for role in (Role.FIELD_REP, Role.MARKETER, Role.ANALYST):
        refused = api(role).post("/api/v1/result-notices", body, content_type="application/json")
        assert refused.status_code == 403

    client = signed_in(Role.CARE_COORDINATOR)
    panel = client.get(f"/engagement/contacts/{contact}/", HTTP_HX_REQUEST="true")
    assert "Tell them a result is ready" in panel.content.decode()
    bad = client.post(
        f"/engagement/contacts/{contact}/result-notice/",
        {"program": clinic.pk, "portal_url": "https://x.example.org/?q=1", "reference": "B"},
    )
    assert bad.status_code == 400
    assert "may not carry a query" in bad.content.decode()
    good = client.post(
        f"/engagement/contacts/{contact}/result-notice/",
        {"program": clinic.pk, "portal_url": PORTAL, "reference": "B-2"},
    )
    assert good.status_code == 302
    assert Message.objects.filter(origin="result").count() == 2
    assert (
        signed_in(Role.MARKETER)
        .post(f"/engagement/contacts/{contact}/result-notice/", {})
        .status_code
        == 403
    )
