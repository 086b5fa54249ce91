"""Consent through the REST API: programs, capture, proof, FHIR, reassigned numbers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent

from carereach.audience.models import Contact
from carereach.consent.models import ConsentEntry
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.consent import factories

pytestmark = pytest.mark.django_db

PHONE = "+14155550101"


@pytest.fixture
def person() -> Contact:
    return audience.contact(kind="patient", first_name="Lee", phone=PHONE, email="lee@example.org")


def _grant(client: Client, contact: Contact, **overrides: object) -> object:
    body = {
        "address": PHONE,
        "channels": ["sms", "voice"],
        "programs": ["podcast"],
        "action": "grant",
        "method": "in_person",
        "evidence": {"typed_name": "Lee Park"},
    }
    body.update(overrides)
    return client.post(f"/api/v1/contacts/{contact.pk}/consent", body, "application/json")


def test_program_api(api: Callable[[Role], Client]) -> None:
    body = {
        "code": "refills",
        "name": "Refill reminders",
        "type": "healthcare_exempt",
        "channels": ["sms"],
        "frequency": "up to 2 msgs/mo",
        "help_contact": "+18005550111",
        "keywords": ["refill"],
        "disclosure_text": "Reply STOP to stop.",
        "disclosure_version": "2026-01",
    }
    created = api(Role.MARKETER).post("/api/v1/programs", body, "application/json")
    assert created.status_code == 201
    assert created.json()["keywords"] == ["REFILL"]
    reserved = api(Role.MARKETER).post(
        "/api/v1/programs", {**body, "code": "x", "keywords": ["stop"]}, "application/json"
    )
    assert reserved.status_code == 400
    assert reserved.json()["field"] == "keywords"
    clash = api(Role.MARKETER).post("/api/v1/programs", {**body, "code": "y"}, "application/json")
    assert clash.status_code == 409
    assert api(Role.FIELD_REP).post("/api/v1/programs", body, "application/json").status_code == 403


def test_capture_proof_and_check(api: Callable[[Role], Client], person: Contact) -> None:
    factories.program()
    coordinator = api(Role.CARE_COORDINATOR)
    response = _grant(coordinator, person)
    assert response.status_code == 201
    assert len(response.json()) == 2
    check = coordinator.post(
        "/api/v1/consent/check",
        {"address": PHONE, "channel": "sms", "program": "podcast"},
        "application/json",
    )
    assert check.json() == {"allowed": True, "reason": "consented"}
    proof = coordinator.get(f"/api/v1/contacts/{person.pk}/consent").json()
    assert {s["channel"] for s in proof["current"]} == {"sms", "voice"}
    assert proof["history"][0]["evidence"] == {"typed_name": "Lee Park"}
    assert proof["history"][0]["captured_by"] == "care_coordinator-user"
    assert proof["history"][0]["disclosure_version"] == "v1"


def test_revoke_every_program_through_the_api(
    api: Callable[[Role], Client], person: Contact
) -> None:
    factories.program()
    factories.program("dosing")
    coordinator = api(Role.CARE_COORDINATOR)
    _grant(coordinator, person, programs=["podcast", "dosing"])
    revoked = _grant(
        coordinator, person, programs=["*"], action="revoke", method="call_center", evidence={}
    )
    assert revoked.status_code == 201
    current = coordinator.get(f"/api/v1/contacts/{person.pk}/consent").json()["current"]
    assert {s["status"] for s in current} == {"revoked"}
    assert not any(s["allowed_now"] for s in current)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"programs": ["nope"]}, "programs"),
        ({"address": "+14155559999"}, "address"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"action": "maybe"}, "action"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),  # no offset: ambiguous
    ],
)
def test_bad_capture_is_400_and_writes_nothing(
    api: Callable[[Role], Client], person: Contact, overrides: dict[str, object], field: str
) -> None:
    factories.program()
    response = _grant(api(Role.CARE_COORDINATOR), person, **overrides)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert ConsentEntry.objects.count() == 0


def test_marketing_without_evidence_is_refused(
    api: Callable[[Role], Client], person: Contact
) -> None:
    factories.program("promo", type="marketing")
    response = _grant(api(Role.CARE_COORDINATOR), person, programs=["promo"], evidence={})
    assert response.status_code == 400
    assert response.json()["field"] == "evidence"


def test_fhir_consent_validates(api: Callable[[Role], Client], person: Contact) -> None:
    factories.program()
    coordinator = api(Role.CARE_COORDINATOR)
    _grant(coordinator, person)
    _grant(coordinator, person, channels=["voice"], action="revoke", method="verbal", evidence={})
    bundle = coordinator.get(f"/api/v1/contacts/{person.pk}/consent/fhir").json()
    Bundle.model_validate(bundle)
    resources = {}
    for entry in bundle["entry"]:
        consent = Consent.model_validate(entry["resource"])
        resources[entry["resource"]["extension"][1]["valueCode"]] = consent
    assert resources["sms"].provision.type == "permit"
    assert resources["voice"].provision.type == "deny"
    assert resources["sms"].patient.reference == f"Patient/{person.pk}"


def test_disconnect_records_void_old_consent(
    api: Callable[[Role], Client], person: Contact
) -> None:
    factories.program()
    _grant(api(Role.CARE_COORDINATOR), person, occurred_at="2025-01-01T00:00:00Z")
    voided = api(Role.MARKETER).post(
        "/api/v1/consent/disconnects",
        {"items": [{"number": PHONE, "disconnected_on": "2025-06-01"}]},
        "application/json",
    )
    assert voided.json() == {"voided": 2}


def test_rep_sees_consent_only_in_territory(api: Callable[[Role], Client], person: Contact) -> None:
    assert api(Role.FIELD_REP).get(f"/api/v1/contacts/{person.pk}/consent").status_code == 404
    assert api(Role.ANALYST).get(f"/api/v1/contacts/{person.pk}/consent").status_code == 403
