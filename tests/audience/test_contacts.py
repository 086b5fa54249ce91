"""Contacts through services, selectors and the API: storage, scoping, PHI, segments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from carereach.audience.models import Contact, PatientProfile, Territory
from carereach.audience.selectors import (
    contact_get_for_user,
    contacts_for_user,
    contacts_in_order,
    contacts_page,
)
from carereach.errors import NotFoundError, PermissionDeniedError, ValidationError
from carereach.security.fields import blind_index_lookup
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.audience import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(territories: dict[str, Territory]) -> dict[str, Contact]:
    factories.specialties()
    return {
        "ped": factories.contact(
            kind="hcp",
            last_name="Ped",
            npi="1234567893",
            specialties="208000000X",
            territory="W1",
            state="CA",
            address_line1="1 A St",
            city="Fresno",
            postal_code="93701",
        ),
        "ger": factories.contact(
            kind="hcp",
            last_name="Ger",
            specialties="207QG0300X",
            territory="E1",
        ),
        "pat": factories.contact(
            kind="patient",
            first_name="Pat",
            last_name="Jones",
            date_of_birth="1980-02-03",
            mrn="MRN-55",
            territory="W1",
            phone="+14155550100",
            language="es",
        ),
    }


def test_patient_phi_is_encrypted_and_found_by_mrn(people: dict[str, Contact]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT first_name, date_of_birth, mrn FROM audience_patientprofile")
        row = cursor.fetchone()
    assert all(value.startswith("v1:") for value in row)
    assert "Pat" not in "".join(row)
    found = PatientProfile.objects.get(mrn_index__in=blind_index_lookup("mrn-55"))
    assert found.contact_id == people["pat"].pk


def test_rep_sees_only_own_territory(users: dict[Role, User], people: dict[str, Contact]) -> None:
    rep = users[Role.FIELD_REP]
    visible = set(contacts_for_user(user=rep).values_list("pk", flat=True))
    assert visible == {people["ped"].pk, people["pat"].pk}
    with pytest.raises(NotFoundError):
        contact_get_for_user(user=rep, contact_id=people["ger"].pk)
    assert contacts_for_user(user=users[Role.MARKETER]).count() == 3
    assert contacts_for_user(user=users[Role.ANALYST]).count() == 0


def test_rep_cannot_create_in_another_territory(
    users: dict[Role, User], territories: dict[str, Territory]
) -> None:
    with pytest.raises(PermissionDeniedError):
        factories.contact(users[Role.FIELD_REP], kind="hcp", last_name="X", territory="E1")
    own = factories.contact(users[Role.FIELD_REP], kind="hcp", last_name="Y")
    assert own.territory == territories["W1"]  # their only territory is the default
    with pytest.raises(ValidationError, match="Unknown territory"):
        factories.contact(users[Role.MARKETER], kind="hcp", last_name="Z", territory="NOPE")


def test_api_rep_cannot_read_another_territory_by_id(
    api: Callable[[Role], Client], people: dict[str, Contact]
) -> None:
    rep = api(Role.FIELD_REP)
    assert rep.get(f"/api/v1/contacts/{people['ped'].pk}").status_code == 200
    other = rep.get(f"/api/v1/contacts/{people['ger'].pk}")
    assert other.status_code == 404
    assert other.json()["code"] == "not_found"
    listed = {c["id"] for c in rep.get("/api/v1/contacts").json()["items"]}
    assert people["ger"].pk not in listed


def test_api_phi_only_for_roles_that_may_see_it(
    api: Callable[[Role], Client], people: dict[str, Contact]
) -> None:
    url = f"/api/v1/contacts/{people['pat'].pk}"
    coordinator = api(Role.CARE_COORDINATOR).get(url).json()
    assert coordinator["name"] == "Pat Jones"
    assert coordinator["mrn"] == "MRN-55"
    assert AuditEntry.objects.filter(action="read", object_id=str(people["pat"].pk)).exists()
    marketer = api(Role.MARKETER).get(url).json()
    assert marketer["name"] == f"Patient #{people['pat'].pk}"
    assert marketer["mrn"] is None
    assert marketer["date_of_birth"] is None
    assert marketer["phones"][0]["e164"] == "••• ••• 0100"  # masked, as in the console
    assert coordinator["phones"][0]["e164"] == "+14155550100"


def test_api_create_contact_with_field_errors(api: Callable[[Role], Client]) -> None:
    client = api(Role.MARKETER)
    bad = client.post(
        "/api/v1/contacts", {"fields": {"kind": "hcp", "npi": "1234567890"}}, "application/json"
    )
    assert bad.status_code == 400
    assert bad.json()["field"] == "npi"
    assert Contact.objects.count() == 0
    good = client.post(
        "/api/v1/contacts",
        {"fields": {"kind": "hcp", "last_name": "Okafor", "npi": "1234567893"}},
        "application/json",
    )
    assert good.status_code == 201
    assert good.json()["npi"] == "1234567893"
    dup = client.post(
        "/api/v1/contacts",
        {"fields": {"kind": "hcp", "last_name": "Other", "npi": "1234567893"}},
        "application/json",
    )
    assert dup.status_code == 409


def test_segments_count_and_page_respect_scope(
    api: Callable[[Role], Client], people: dict[str, Contact]
) -> None:
    marketer = api(Role.MARKETER)
    created = marketer.post(
        "/api/v1/segments",
        {
            "name": "Peds and FM",
            "query": 'kind = hcp and specialty in ("208000000X", "207Q00000X")',
        },
        "application/json",
    )
    assert created.status_code == 201
    segment_id = created.json()["id"]
    assert marketer.get(f"/api/v1/segments/{segment_id}/count").json() == {"count": 1}
    page = marketer.get(f"/api/v1/segments/{segment_id}/contacts").json()
    assert [c["id"] for c in page["items"]] == [people["ped"].pk]
    spanish = marketer.post(
        "/api/v1/segments/count",
        {"query": 'kind = patient and language = "es"'},
        "application/json",
    )
    assert spanish.json() == {"count": 1}
    rep_count = api(Role.FIELD_REP).post(
        "/api/v1/segments/count", {"query": "kind = hcp"}, "application/json"
    )
    assert rep_count.json() == {"count": 1}


def test_pages_come_newest_first_in_two_queries_within_scope(
    users: dict[Role, User],
    people: dict[str, Contact],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    everyone = contacts_for_user(user=users[Role.ADMIN])
    with django_assert_num_queries(2):  # the page's ids, then those contacts with their profiles
        page = contacts_page(everyone, limit=2)
        assert [c.pk for c in page] == [people["pat"].pk, people["ger"].pk]
        assert page[0].patient.contact_id == people["pat"].pk  # joined, no query of its own
        assert page[1].hcp.last_name == "Ger"
        assert page[1].territory is not None
    assert [c.pk for c in contacts_page(everyone, offset=2, limit=5)] == [people["ped"].pk]
    assert contacts_page(everyone, offset=3, limit=5) == []
    rep_page = contacts_page(contacts_for_user(user=users[Role.FIELD_REP]), limit=50)
    assert [c.pk for c in rep_page] == [people["pat"].pk, people["ped"].pk]  # W1 only
    with django_assert_num_queries(2):
        (found,) = contacts_in_order([people["ped"].pk], prefetch=("phones",))
        assert list(found.phones.all()) == []


def test_malformed_segment_query_is_400_with_position(api: Callable[[Role], Client]) -> None:
    response = api(Role.MARKETER).post(
        "/api/v1/segments/count", {"query": 'kind = hcp and specilty = "x"'}, "application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["position"] == 15
    assert 'did you mean "specialty"' in body["message"]


def test_caregiver_link_and_privacy(
    api: Callable[[Role], Client], people: dict[str, Contact]
) -> None:
    carer = factories.contact(kind="caregiver", first_name="Sam", email="sam@example.org")
    coordinator = api(Role.CARE_COORDINATOR)
    patient_id = people["pat"].pk
    linked = coordinator.post(
        f"/api/v1/contacts/{patient_id}/caregivers",
        {"caregiver_id": carer.pk, "relationship": "daughter", "may_receive_messages": True},
        "application/json",
    )
    assert linked.status_code == 201
    assert linked.json()["may_receive_messages"] is True
    wrong = coordinator.post(
        f"/api/v1/contacts/{patient_id}/caregivers",
        {"caregiver_id": people["ped"].pk},
        "application/json",
    )
    assert wrong.status_code == 400
    assert wrong.json()["field"] == "caregiver_id"

    privacy = coordinator.put(
        f"/api/v1/contacts/{patient_id}/privacy",
        {
            "confidential_channel": "sms",
            "confidential_address": "+14155550100",
            "phi_accepted_channels": ["sms"],
        },
        "application/json",
    )
    assert privacy.status_code == 200
    assert privacy.json()["phi_accepted_at"] is not None
    foreign = coordinator.put(
        f"/api/v1/contacts/{patient_id}/privacy",
        {"confidential_channel": "sms", "confidential_address": "+14155559999"},
        "application/json",
    )
    assert foreign.status_code == 400
    assert foreign.json()["field"] == "confidential_address"
    assert (
        api(Role.MARKETER)
        .put(f"/api/v1/contacts/{patient_id}/privacy", {}, "application/json")
        .status_code
        == 403
    )


def test_territory_api(api: Callable[[Role], Client], users: dict[Role, User]) -> None:
    admin = api(Role.ADMIN)
    assert admin.post("/api/v1/territories", {"code": "N1"}, "application/json").status_code == 201
    assert admin.post("/api/v1/territories", {"code": "N1"}, "application/json").status_code == 409
    assigned = admin.post(
        "/api/v1/territories/N1/reps",
        {"username": users[Role.FIELD_REP].username},
        "application/json",
    )
    assert assigned.json()["reps"] == [users[Role.FIELD_REP].username]
    mine = api(Role.FIELD_REP).get("/api/v1/territories").json()
    assert [t["code"] for t in mine] == ["N1"]
    assert (
        api(Role.MARKETER)
        .post("/api/v1/territories", {"code": "X"}, "application/json")
        .status_code
        == 403
    )
