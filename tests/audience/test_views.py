"""Audience console pages: who may open them, scoping, PHI, form errors, segment previews."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

from carereach.audience.models import Contact, ContactImport, ImportStatus, Segment, Territory
from carereach.audience.services import segment_save
from carereach.security.models import AuditEntry
from carereach.security.roles import MATRIX, Capability, Role
from tests.audience import factories

pytestmark = pytest.mark.django_db

SignedIn = Callable[[Role], Client]


@pytest.fixture
def people(territories: dict[str, Territory]) -> dict[str, Contact]:
    factories.specialties()
    return {
        "ped": factories.contact(
            kind="hcp",
            first_name="Ana",
            last_name="Pedersen",
            credentials="MD",
            organization="Valley Kids Clinic",
            npi="1234567893",
            specialties="208000000X;207Q00000X",
            territory="W1",
            phone="+14155550123",
            email="ana@valleykids.example",
            address_line1="1 A St",
            city="Fresno",
            state="CA",
            postal_code="93701",
            preferred_channels="email;sms",
            tags="vip;kol",
            **{"custom.region": "central"},
        ),
        "ger": factories.contact(kind="hcp", last_name="Gerhardt", territory="E1"),
        "pat": factories.contact(
            kind="patient",
            first_name="Patricia",
            last_name="Quill",
            date_of_birth="1980-02-03",
            mrn="MRN-5501",
            territory="W1",
            phone="+14155550100",
            email="patricia.quill@mail.example",
            address_line1="9 Elm Rd",
            city="Oakland",
            state="CA",
            postal_code="94601",
            large_print="yes",
        ),
    }


def _allowed(role: Role, capability: Capability) -> bool:
    return capability in MATRIX[role]


# -- who may open what ------------------------------------------------------------------------


PAGES = [
    ("/audience/contacts/", Capability.VIEW_CONTACTS),
    ("/audience/contacts/new/", Capability.EDIT_CONTACTS),
    ("/audience/contacts/{ped}/", Capability.VIEW_CONTACTS),
    ("/audience/segments/", Capability.VIEW_CONTACTS),
    ("/audience/segments/new/", Capability.VIEW_CONTACTS),
    ("/audience/segments/preview/", Capability.VIEW_CONTACTS),
    ("/audience/segments/{segment}/", Capability.VIEW_CONTACTS),
]


def _url(template: str, people: dict[str, Contact], segment: Segment) -> str:
    return template.format(ped=people["ped"].pk, segment=segment.pk)


@pytest.fixture
def segment(users: dict[Role, User]) -> Segment:
    return segment_save(name="Californians", query='state = "CA"', actor=users[Role.MARKETER])


@pytest.mark.parametrize("role", list(Role))
def test_each_page_follows_the_matrix(
    role: Role, signed_in: SignedIn, people: dict[str, Contact], segment: Segment
) -> None:
    client = signed_in(role)
    for template, capability in PAGES:
        url = _url(template, people, segment)
        response = client.get(url)
        if _allowed(role, capability):
            assert response.status_code == 200, f"{role} should open {url}"
        else:
            assert response.status_code == 403, f"{role} must be refused {url}"
            assert b"Not allowed" in response.content


def test_anonymous_is_sent_to_sign_in(
    client: Client, people: dict[str, Contact], segment: Segment
) -> None:
    for template, _ in PAGES:
        url = _url(template, people, segment)
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/signin/?next=/audience/")


@pytest.mark.parametrize("role", list(Role))
def test_menu_shows_audience_pages_by_capability(role: Role, signed_in: SignedIn) -> None:
    page = signed_in(role).get("/").content.decode()
    assert ('href="/audience/contacts/"' in page) == _allowed(role, Capability.VIEW_CONTACTS)
    assert ('href="/audience/segments/"' in page) == _allowed(role, Capability.VIEW_CONTACTS)


# -- contact list -------------------------------------------------------------------------------


def test_rep_lists_only_their_territory(signed_in: SignedIn, people: dict[str, Contact]) -> None:
    page = signed_in(Role.FIELD_REP).get("/audience/contacts/").content.decode()
    assert "Ana Pedersen, MD" in page
    assert "Gerhardt" not in page
    assert "2 contacts" in page
    territory = re.search(r'<select name="territory"[^>]*>(.*?)</select>', page, re.S)
    assert territory is not None
    assert "W1" in territory.group(1)
    assert "E1" not in territory.group(1)


def test_rep_cannot_filter_to_another_territory(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    response = signed_in(Role.FIELD_REP).get("/audience/contacts/", {"territory": "E1"})
    assert response.status_code == 400
    assert "Gerhardt" not in response.content.decode()


def test_search_by_name_npi_phone_and_email(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    client = signed_in(Role.MARKETER)
    for text in ("Peder", "1234567893", "(415) 555-0123", "ana@valleykids.example"):
        page = client.get("/audience/contacts/", {"q": text}).content.decode()
        assert "Ana Pedersen" in page, text
        assert "Gerhardt" not in page, text
    filtered = client.get("/audience/contacts/", {"kind": "patient"}).content.decode()
    assert "Patient #" in filtered
    assert "Pedersen" not in filtered
    east = client.get("/audience/contacts/", {"territory": "E1"}).content.decode()
    assert "Gerhardt" in east
    assert "Pedersen" not in east


def test_live_search_answers_htmx_with_the_results_only(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    response = signed_in(Role.MARKETER).get(
        "/audience/contacts/", {"q": "Gerh"}, headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert "<html" not in page
    assert "<table" in page
    assert "Gerhardt" in page
    assert "Pedersen" not in page


def test_list_pages_by_fifty(signed_in: SignedIn, territories: dict[str, Territory]) -> None:
    for number in range(52):
        factories.contact(kind="hcp", last_name=f"Doe{number:02d}", territory="E1")
    client = signed_in(Role.ADMIN)
    first = client.get("/audience/contacts/").content.decode()
    assert first.count("/audience/contacts/") >= 50
    assert "page 1 of 2" in first
    assert "Doe51" in first  # newest first
    second = client.get("/audience/contacts/", {"page": 2}).content.decode()
    assert "Doe00" in second
    assert "Doe51" not in second


def test_patient_names_and_reach_only_with_phi(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    marketer = signed_in(Role.MARKETER).get("/audience/contacts/").content.decode()
    assert "Patricia" not in marketer
    assert "+14155550100" not in marketer
    assert "••• ••• 0100" in marketer
    assert "+14155550123" in marketer  # an HCP's office number is directory data
    coordinator = signed_in(Role.CARE_COORDINATOR).get("/audience/contacts/").content.decode()
    assert "Patricia Quill" in coordinator
    assert "+14155550100" in coordinator


# -- contact detail -----------------------------------------------------------------------------


def test_hcp_detail_shows_profile_reach_preferences_and_placeholders(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    page = signed_in(Role.FIELD_REP).get(f"/audience/contacts/{people['ped'].pk}/")
    text = page.content.decode()
    for expected in (
        "Ana Pedersen, MD",
        "1234567893",
        "Valley Kids Clinic",
        "Pediatrics",
        "208000000X",
        "Family Medicine",
        "+14155550123",
        "ana@valleykids.example",
        "1 A St",
        "Fresno, CA 93701",
        "America/Los_Angeles",
        "inferred from the postal address",
        "vip",
        "region",
        "central",
        "W1 West",
        "Show consent and its history",
        "Show messages and skips",
        "No events yet",
    ):
        assert expected in text, expected
    channels = re.search(r"<ol class=\"inline-list\">(.*?)</ol>", text, re.S)
    assert channels is not None
    assert channels.group(1).index("Email") < channels.group(1).index("Text message")
    for heading in ("Profile", "Addresses", "Preferences", "Consent", "Messages", "Events"):
        assert f">{heading}</h2>" in text


def test_rep_cannot_open_another_territorys_contact(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    rep = signed_in(Role.FIELD_REP)
    assert rep.get(f"/audience/contacts/{people['ger'].pk}/").status_code == 404
    assert rep.get("/audience/contacts/999999/").status_code == 404
    marketer = signed_in(Role.MARKETER)
    assert marketer.get(f"/audience/contacts/{people['ger'].pk}/").status_code == 200


def test_patient_detail_shows_phi_only_with_view_phi_and_audits_the_read(
    signed_in: SignedIn, people: dict[str, Contact], users: dict[Role, User]
) -> None:
    url = f"/audience/contacts/{people['pat'].pk}/"
    before = AuditEntry.objects.filter(action="read").count()

    hidden = signed_in(Role.FIELD_REP).get(url).content.decode()
    for secret in ("Patricia", "Quill", "1980-02-03", "MRN-5501", "+14155550100", "9 Elm Rd"):
        assert secret not in hidden, secret
    assert "Patient #" in hidden
    assert "Large print" in hidden
    assert AuditEntry.objects.filter(action="read").count() == before

    shown = signed_in(Role.CARE_COORDINATOR).get(url).content.decode()
    for value in ("Patricia Quill", "1980-02-03", "MRN-5501", "+14155550100", "9 Elm Rd"):
        assert value in shown, value
    read = AuditEntry.objects.filter(action="read").order_by("-id").first()
    assert read is not None
    assert read.actor == users[Role.CARE_COORDINATOR]
    assert (read.object_type, read.object_id) == ("contact", str(people["pat"].pk))
    assert "Patricia" not in read.note


def test_reading_an_hcp_writes_no_audit_entry(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    before = AuditEntry.objects.filter(action="read").count()
    signed_in(Role.CARE_COORDINATOR).get(f"/audience/contacts/{people['ped'].pk}/")
    assert AuditEntry.objects.filter(action="read").count() == before


# -- new contact --------------------------------------------------------------------------------


def _field_error(page: str, field: str) -> str:
    """The error shown under a field, checked to be tied to the control by aria-describedby."""
    control = re.search(rf'<(?:input|select|textarea)[^>]*id="id_{field}"[^>]*>', page)
    assert control is not None, f"no control for {field}"
    assert 'aria-invalid="true"' in control.group(0), field
    described = re.search(r'aria-describedby="([^"]*)"', control.group(0))
    assert described is not None, field
    assert f"id_{field}_error" in described.group(1).split(), field
    error = re.search(rf'<p class="field-error" id="id_{field}_error">(.*?)</p>', page, re.S)
    assert error is not None, f"no error under {field}"
    return error.group(1)


def test_new_contact_errors_show_by_their_fields_and_nothing_is_written(
    signed_in: SignedIn, territories: dict[str, Territory]
) -> None:
    contacts, audits = Contact.objects.count(), AuditEntry.objects.count()
    response = signed_in(Role.MARKETER).post(
        "/audience/contacts/new/",
        {
            "kind": "hcp",
            "last_name": "Okafor",
            "npi": "1234567890",
            "phone": "12",
            "email": "not-an-address",
            "specialties": "207Q00000X;NOPE",
            "preferred_channels": "sms;fax",
            "territory": "W1",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "check digit" in _field_error(page, "npi").lower()
    assert _field_error(page, "phone")
    assert _field_error(page, "email")
    assert "Unknown NUCC taxonomy code" in _field_error(page, "specialties")
    assert "Expected sms, email, voice, letter" in _field_error(page, "preferred_channels")
    assert 'value="Okafor"' in page  # what was typed stays
    assert "The contact is not saved" in page
    assert Contact.objects.count() == contacts
    assert AuditEntry.objects.count() == audits


def test_new_contact_is_saved_and_shown(
    signed_in: SignedIn, territories: dict[str, Territory]
) -> None:
    factories.specialties()
    client = signed_in(Role.FIELD_REP)
    form = client.get("/audience/contacts/new/").content.decode()
    assert 'id="id_date_of_birth"' not in form  # no PHI fields for a role that cannot read PHI
    response = client.post(
        "/audience/contacts/new/",
        {
            "kind": "hcp",
            "first_name": "Ngozi",
            "last_name": "Okafor",
            "credentials": "DO",
            "npi": "1234567893",
            "specialties": "207Q00000X",
            "phone": "(415) 555-0199",
            "preferred_channels": "sms;email",
            "large_print": "on",
            "territory": "W1",
            "language": "en",
        },
    )
    assert response.status_code == 302
    contact = Contact.objects.get(hcp__npi="1234567893")
    assert response["Location"] == f"/audience/contacts/{contact.pk}/"
    assert contact.territory == territories["W1"]
    assert contact.preferred_channels == ["sms", "email"]
    assert contact.large_print is True
    page = client.get(response["Location"]).content.decode()
    assert "Ngozi Okafor, DO" in page
    assert "The contact is saved." in page


def test_rep_may_not_create_patients_or_place_contacts_elsewhere(
    signed_in: SignedIn, territories: dict[str, Territory]
) -> None:
    client = signed_in(Role.FIELD_REP)
    patient = client.post("/audience/contacts/new/", {"kind": "patient", "last_name": "X"})
    assert patient.status_code == 400
    assert _field_error(patient.content.decode(), "kind")
    elsewhere = client.post(
        "/audience/contacts/new/", {"kind": "hcp", "last_name": "Y", "territory": "E1"}
    )
    assert elsewhere.status_code == 400
    assert _field_error(elsewhere.content.decode(), "territory")
    assert not Contact.objects.exists()


def test_duplicate_npi_is_shown_at_the_npi_field(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    response = signed_in(Role.MARKETER).post(
        "/audience/contacts/new/", {"kind": "hcp", "npi": "1234567893", "last_name": "Twin"}
    )
    assert response.status_code == 400
    assert "already exists" in _field_error(response.content.decode(), "npi")
    assert Contact.objects.filter(hcp__last_name="Twin").count() == 0


def test_coordinator_records_a_patient(
    signed_in: SignedIn, territories: dict[str, Territory]
) -> None:
    response = signed_in(Role.CARE_COORDINATOR).post(
        "/audience/contacts/new/",
        {"kind": "patient", "first_name": "Rosa", "date_of_birth": "1970-01-31", "mrn": "A-1"},
    )
    assert response.status_code == 302
    contact = Contact.objects.get(kind="patient")
    assert contact.patient.mrn == "A-1"


# -- segments -------------------------------------------------------------------------------------


def test_preview_counts_and_samples_within_the_users_scope(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    query = {"query": 'kind = hcp and territory in ("W1", "E1")'}
    admin = signed_in(Role.ADMIN).post("/audience/segments/preview/", query).content.decode()
    assert "2 contacts match" in admin
    assert "Pedersen" in admin
    assert "Gerhardt" in admin
    assert 'hx-swap-oob="innerHTML"' in admin
    rep = signed_in(Role.FIELD_REP).post("/audience/segments/preview/", query).content.decode()
    assert "1 contact matches" in rep
    assert "Gerhardt" not in rep


def test_preview_shows_the_error_position_with_a_caret(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    response = signed_in(Role.MARKETER).post(
        "/audience/segments/preview/", {"query": "kind = hcp\r\nand state ="}
    )
    page = response.content.decode()
    assert "Line 2, column 12:" in page
    assert "expected a value after" in page
    caret = re.search(r'<pre class="caret"[^>]*>(.*?)</pre>', page, re.S)
    assert caret is not None
    line, marker = caret.group(1).split("\n")
    assert line == "and state ="
    assert marker == '<span class="caret-mark">' + " " * 11 + "^</span>"
    assert 'data-position="22"' in page  # CRLF from the browser counted as one character


def test_preview_of_an_empty_query_asks_for_one(signed_in: SignedIn) -> None:
    page = signed_in(Role.MARKETER).get("/audience/segments/preview/").content.decode()
    assert "Type a query" in page


def test_segment_is_saved_and_edited(
    signed_in: SignedIn, people: dict[str, Contact], users: dict[Role, User]
) -> None:
    client = signed_in(Role.MARKETER)
    response = client.post(
        "/audience/segments/new/",
        {"name": "Pediatricians", "query": 'specialty = "208000000X"', "action": "save"},
    )
    assert response.status_code == 302
    segment = Segment.objects.get(name="Pediatricians")
    assert segment.created_by == users[Role.MARKETER]
    assert response["Location"] == f"/audience/segments/{segment.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "1 contact matches" in page
    assert "Pedersen" in page
    assert "is saved" in page

    changed = client.post(
        response["Location"], {"name": "Pediatricians", "query": "kind = hcp", "action": "save"}
    )
    assert changed.status_code == 302
    segment.refresh_from_db()
    assert segment.query == "kind = hcp"
    assert "Pediatricians" in client.get("/audience/segments/").content.decode()


def test_saving_a_bad_query_shows_the_position_and_writes_nothing(
    signed_in: SignedIn, people: dict[str, Contact]
) -> None:
    response = signed_in(Role.MARKETER).post(
        "/audience/segments/new/",
        {"name": "Broken", "query": "kind = hcp and specilty = x", "action": "save"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 1, column 16:" in page
    assert "did you mean" in page
    assert 'aria-invalid="true"' in page
    assert "kind = hcp and specilty = x</textarea>" in page
    assert not Segment.objects.filter(name="Broken").exists()


def test_segment_name_clash_shows_at_the_name(
    signed_in: SignedIn, segment: Segment, people: dict[str, Contact]
) -> None:
    response = signed_in(Role.MARKETER).post(
        "/audience/segments/new/",
        {"name": segment.name, "query": "kind = hcp", "action": "save"},
    )
    assert response.status_code == 400
    assert "already exists" in _field_error(response.content.decode(), "name")
    assert Segment.objects.count() == 1


def test_role_without_manage_segments_may_preview_but_not_save(
    signed_in: SignedIn, segment: Segment, people: dict[str, Contact]
) -> None:
    client = signed_in(Role.COMPLIANCE)
    page = client.get(f"/audience/segments/{segment.pk}/").content.decode()
    assert "Save segment" not in page
    assert "2 contacts match" in page
    preview = client.post(
        f"/audience/segments/{segment.pk}/", {"query": "kind = patient", "action": "preview"}
    )
    assert preview.status_code == 200
    assert "1 contact matches" in preview.content.decode()
    save = client.post(
        f"/audience/segments/{segment.pk}/",
        {"name": "Mine now", "query": "kind = patient", "action": "save"},
    )
    assert save.status_code == 403
    segment.refresh_from_db()
    assert segment.name == "Californians"


def test_unknown_segment_is_404(signed_in: SignedIn) -> None:
    assert signed_in(Role.MARKETER).get("/audience/segments/999999/").status_code == 404


# -- imports --------------------------------------------------------------------------------------

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


def _upload(client: Client, text: str = MIXED_CSV, mode: str = "valid_only") -> HttpResponse:
    file = SimpleUploadedFile("doctors.csv", text.encode(), content_type="text/csv")
    return client.post("/audience/imports/new/", {"file": file, "mode": mode})


def test_import_pages_follow_the_matrix(
    signed_in: SignedIn, var_dir: Path, users: dict[Role, User]
) -> None:
    response = _upload(signed_in(Role.ADMIN))
    contact_import = ContactImport.objects.get()
    assert response["Location"] == f"/audience/imports/{contact_import.pk}/"
    pages = [
        "/audience/imports/new/",
        f"/audience/imports/{contact_import.pk}/",
        f"/audience/imports/{contact_import.pk}/progress/",
    ]
    for role in Role:
        client = signed_in(role)
        for url in pages:
            status = client.get(url).status_code
            if not _allowed(role, Capability.IMPORT_CONTACTS):
                assert status == 403, (role, url)
            elif url.endswith("/new/") or _allowed(role, Capability.VIEW_PHI):
                assert status == 200, (role, url)
            else:  # the marketer did not upload it, and the file holds PHI
                assert status == 404, (role, url)
        if not _allowed(role, Capability.VIEW_PHI):
            run = client.post(f"/audience/imports/{contact_import.pk}/run/")
            assert run.status_code == (404 if role == Role.MARKETER else 403), role
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.VALIDATED
    for url in [*pages, f"/audience/imports/{contact_import.pk}/errors.csv"]:
        assert Client().get(url)["Location"].startswith("/signin/?next=/audience/imports/")


def test_import_wizard_upload_map_check_run_and_error_file(
    signed_in: SignedIn, var_dir: Path, users: dict[Role, User]
) -> None:
    client = signed_in(Role.MARKETER)
    response = _upload(client)
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    first = ContactImport.objects.get()
    assert first.status == ImportStatus.VALIDATED
    # Step 2: one select per header, prefilled with the default mapping.
    assert re.search(r'<option value="first_name" selected>', page)
    region = re.search(r'<select name="column_6"[^>]*>(.*?)</select>', page, re.S)
    assert region is not None
    assert '<option value="" selected>' in region.group(1)
    assert "custom.region" in region.group(1)
    # The dry-run report: the bad rows by row, column, value and reason.
    problems = re.search(r'data-testid="import-problems">(.*?)</table>', page, re.S)
    assert problems is not None
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td>", problems.group(1))
    assert rows == [("3", "NPI"), ("4", "Phone")]
    assert "1234567890" in problems.group(1)
    assert Contact.objects.count() == 0

    # Map Region to a custom field: the file is checked again as a new import.
    # Columns in the file's order: PostgreSQL's jsonb does not keep the mapping's key order.
    headers = next(csv.reader(io.StringIO(MIXED_CSV)))
    data = {f"column_{i}": first.mapping[h] for i, h in enumerate(headers)}
    data["column_6"] = "custom.region"
    remapped = client.post(f"/audience/imports/{first.pk}/", data)
    second = ContactImport.objects.exclude(pk=first.pk).get()
    assert remapped["Location"] == f"/audience/imports/{second.pk}/"
    assert second.mapping["Region"] == "custom.region"
    assert second.status == ImportStatus.VALIDATED

    run = client.post(f"/audience/imports/{second.pk}/run/", headers={"HX-Request": "true"})
    assert run["HX-Redirect"] == f"/audience/imports/{second.pk}/"  # the page moves to step 3
    outcome = client.get(run["HX-Redirect"]).content.decode()
    assert "Import finished: 2 new contacts, 0 merged, 2 rows left out." in outcome
    assert 'name="column_0"' not in outcome  # the mapping can no longer change
    assert f"/audience/imports/{second.pk}/errors.csv" in outcome
    assert Contact.objects.count() == 2
    assert Contact.objects.get(hcp__last_name="Okafor").custom_fields == {"region": "north"}
    progress = client.get(f"/audience/imports/{second.pk}/progress/").content.decode()
    assert "Import finished" in progress
    assert "hx-trigger" not in progress  # done: the polling stops
    polled = client.get(f"/audience/imports/{second.pk}/progress/", headers={"HX-Request": "true"})
    assert polled["HX-Redirect"] == f"/audience/imports/{second.pk}/"

    errors = client.get(f"/audience/imports/{second.pk}/errors.csv")
    assert errors["Content-Disposition"].startswith("attachment")
    body = b"".join(errors.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert "Lindqvist" in body
    assert "Marsh" in body
    assert "Okafor" not in body
    read = AuditEntry.objects.filter(action="read", object_type="contact_import").get()
    assert read.actor == users[Role.MARKETER]


def test_progress_polls_while_an_import_runs(signed_in: SignedIn, var_dir: Path) -> None:
    client = signed_in(Role.ADMIN)
    _upload(client)
    contact_import = ContactImport.objects.get()
    waiting = client.get(f"/audience/imports/{contact_import.pk}/progress/?waiting=3")
    assert "Starting the import" in waiting.content.decode()
    assert "?waiting=2" in waiting.content.decode()
    ContactImport.objects.filter(pk=contact_import.pk).update(
        status=ImportStatus.IMPORTING, processed_rows=2
    )
    polling = client.get(f"/audience/imports/{contact_import.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in polling
    assert "Importing: 2 of 4 rows" in polling
    assert '<progress max="4" value="2"' in polling


def test_all_or_nothing_with_bad_rows_imports_nothing(signed_in: SignedIn, var_dir: Path) -> None:
    client = signed_in(Role.CARE_COORDINATOR)
    _upload(client, mode="all_or_nothing")
    contact_import = ContactImport.objects.get()
    page = client.get(f"/audience/imports/{contact_import.pk}/").content.decode()
    assert "running it now imports nothing" in page
    response = client.post(f"/audience/imports/{contact_import.pk}/run/")
    assert response["Location"] == f"/audience/imports/{contact_import.pk}/"
    outcome = client.get(response["Location"]).content.decode()
    assert "Nothing was imported: 2 rows have errors" in outcome
    assert Contact.objects.count() == 0


def test_a_file_that_is_not_csv_is_refused_by_the_file_field(
    signed_in: SignedIn, var_dir: Path
) -> None:
    response = _upload(signed_in(Role.MARKETER), text="%PDF-1.4 not a csv")
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(r'id="id_file_error">[^<]*PDF', page)
    assert not ContactImport.objects.exists()


def test_mapping_two_columns_to_one_field_is_refused(signed_in: SignedIn, var_dir: Path) -> None:
    client = signed_in(Role.MARKETER)
    _upload(client)
    contact_import = ContactImport.objects.get()
    data = {f"column_{i}": v for i, v in enumerate(contact_import.mapping.values())}
    data["column_2"] = "first_name"
    response = client.post(f"/audience/imports/{contact_import.pk}/", data)
    assert response.status_code == 400
    assert "both map to first_name" in response.content.decode()
    assert ContactImport.objects.count() == 1
