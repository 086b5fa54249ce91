"""Validation of one contact's fields: every problem names the field, value and reason."""

from __future__ import annotations

import pytest

from carereach.audience.drafts import contact_draft


def _problems(**fields: str) -> dict[str, str]:
    draft, problems = contact_draft(fields)
    assert draft is None
    return {p.field: p.reason for p in problems}


def test_valid_hcp_with_inferred_time_zone() -> None:
    draft, problems = contact_draft(
        {
            "kind": "HCP",
            "first_name": "Ana",
            "last_name": "Ruiz",
            "npi": "1234567893",
            "specialties": "208000000x; 207Q00000X",
            "phone": "(415) 555-2671",
            "email": "Ana.Ruiz@Example.ORG",
            "address_line1": "1 Main St",
            "city": "Fresno",
            "state": "ca",
            "postal_code": "93701",
            "preferred_channels": "sms;email",
            "tags": "KOL; kol; podcast",
            "custom.region": "central",
        }
    )
    assert problems == []
    assert draft is not None
    assert draft.npi == "1234567893"
    assert draft.specialties == ["208000000X", "207Q00000X"]
    assert draft.phones[0].e164 == "+14155552671"
    assert draft.emails == ["ana.ruiz@example.org"]
    assert (draft.time_zone, draft.time_zone_source) == ("America/Los_Angeles", "postal")
    assert draft.tags == ["kol", "podcast"]
    assert draft.custom_fields == {"region": "central"}


def test_time_zone_from_phone_when_no_address() -> None:
    draft, _ = contact_draft({"kind": "patient", "phone": "+12125550123"})
    assert draft is not None
    assert (draft.time_zone, draft.time_zone_source) == ("America/New_York", "phone")


def test_time_zone_unknown_when_nothing_says() -> None:
    draft, _ = contact_draft({"kind": "patient", "email": "a@example.org"})
    assert draft is not None
    assert (draft.time_zone, draft.time_zone_source) == ("", "unknown")


def test_given_time_zone_wins() -> None:
    draft, _ = contact_draft(
        {"kind": "patient", "phone": "+12125550123", "time_zone": "America/Chicago"}
    )
    assert draft is not None
    assert (draft.time_zone, draft.time_zone_source) == ("America/Chicago", "given")


@pytest.mark.parametrize(
    ("fields", "field", "reason_part"),
    [
        ({"kind": "doctor"}, "kind", "expected one of"),
        ({"kind": "hcp", "npi": "1234567890"}, "npi", "check digit"),
        ({"kind": "hcp", "npi": "12345"}, "npi", "10 digits"),
        ({"kind": "hcp", "last_name": "X", "specialties": "999999999X"}, "specialties", "unknown"),
        ({"kind": "patient", "phone": "12"}, "phone", ""),
        ({"kind": "patient", "email": "not-an-email"}, "email", ""),
        ({"kind": "patient", "time_zone": "Mars/Base"}, "time_zone", ""),
        ({"kind": "patient", "preferred_channels": "fax"}, "preferred_channels", "expected"),
        ({"kind": "patient", "date_of_birth": "1980-13-01"}, "date_of_birth", "YYYY-MM-DD"),
        ({"kind": "patient", "persona": "Busy Parent"}, "persona", "slug"),
        ({"kind": "patient", "large_print": "perhaps"}, "large_print", "yes or no"),
        ({"kind": "patient", "npi": "1234567893"}, "npi", "only HCPs"),
        ({"kind": "hcp"}, "last_name", "last name or an NPI"),
        ({"kind": "patient", "favourite": "x"}, "favourite", "unknown field"),
        ({"kind": "patient", "address_line1": "1 Main"}, "address_line1", "needs line 1"),
    ],
)
def test_each_problem_names_field_and_reason(
    fields: dict[str, str], field: str, reason_part: str
) -> None:
    problems = _problems(**fields)
    assert field in problems, problems
    assert reason_part in problems[field]


def test_phi_values_are_never_echoed() -> None:
    _, problems = contact_draft({"kind": "patient", "date_of_birth": "31/12/1980"})
    assert problems[0].field == "date_of_birth"
    assert problems[0].value == ""


def test_all_problems_reported_at_once() -> None:
    problems = _problems(kind="hcp", npi="1", phone="x", email="y")
    assert {"npi", "phone", "email"} <= set(problems)
