"""Segment exports: scoped, PHI only for PHI roles, audited, importable columns."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.audience.services import segment_save, territory_assign_rep, territory_create
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.audience import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def segment_id(users: dict[Role, User]) -> int:
    west = territory_create(code="W", name="West", actor=None)
    territory_create(code="E", name="East", actor=None)
    territory_assign_rep(territory=west, rep=users[Role.FIELD_REP], actor=None)
    factories.specialties()  # a transactional test elsewhere may have flushed the migration's
    factories.contact(
        kind="hcp",
        last_name="Ped",
        npi="1234567893",
        specialties="208000000X;207Q00000X",
        territory="W",
        phone="+14155550101",
        email="ped@example.org",
        tags="kol",
    )
    factories.contact(
        kind="patient",
        first_name="Pat",
        last_name="Lee",
        date_of_birth="1970-01-02",
        mrn="M-1",
        territory="E",
        email="pat@example.org",
    )
    return segment_save(name="All", query="kind in (hcp, patient)", actor=None).pk


def _rows(response: object) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(body)))


def test_export_with_phi_for_coordinator(api: Callable[[Role], Client], segment_id: int) -> None:
    response = api(Role.CARE_COORDINATOR).get(f"/api/v1/segments/{segment_id}/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = {row["kind"]: row for row in _rows(response)}
    assert rows["hcp"]["npi"] == "1234567893"
    assert rows["hcp"]["specialties"] == "207Q00000X;208000000X"
    assert rows["patient"]["mrn"] == "M-1"
    assert rows["patient"]["first_name"] == "Pat"
    entry = AuditEntry.objects.get(action="export")
    assert entry.note == "2 contacts, phi=yes"


def test_export_without_phi_for_marketer(api: Callable[[Role], Client], segment_id: int) -> None:
    response = api(Role.MARKETER).get(f"/api/v1/segments/{segment_id}/export.csv")
    rows = _rows(response)
    assert "mrn" not in rows[0]
    assert "date_of_birth" not in rows[0]
    patient = next(r for r in rows if r["kind"] == "patient")
    assert patient["first_name"] == ""
    assert "Pat" not in str(rows)
    assert patient["email"] == ""  # a patient's reach is PHI too
    hcp = next(r for r in rows if r["kind"] == "hcp")
    assert hcp["email"] == "ped@example.org"  # directory data stays


def test_export_refused_to_roles_without_the_capability(
    api: Callable[[Role], Client], segment_id: int
) -> None:
    for role in (Role.FIELD_REP, Role.ANALYST, Role.COMPLIANCE):
        response = api(role).get(f"/api/v1/segments/{segment_id}/export.csv")
        assert response.status_code == 403, role
    assert not AuditEntry.objects.filter(action="export").exists()
