"""CSV contact imports: refusals, validation report, both modes, matching and merging, PHI,
bounded memory, the CLI and the REST API (with the roles that may not import)."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from carereach.audience.identifiers import npi_check_digit
from carereach.audience.imports import services
from carereach.audience.imports.mapping import resolve_mapping
from carereach.audience.imports.reading import FileRefused
from carereach.audience.imports.report import problem_line
from carereach.audience.imports.services import (
    contact_import_run,
    contact_import_upload,
    contact_import_validate,
    import_file_path,
)
from carereach.audience.models import (
    Contact,
    ContactImport,
    Email,
    HcpProfile,
    ImportStatus,
    PatientProfile,
    Phone,
    PostalAddress,
    Specialty,
    Territory,
)
from carereach.errors import PermissionDeniedError, ValidationError
from carereach.security.fields import blind_index_lookup
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.audience import factories

pytestmark = pytest.mark.django_db

HEADER = [
    "Type",
    "First Name",
    "Last Name",
    "NPI",
    "Phone Number",
    "E-mail",
    "Territory",
    "Specialty",
]


def npi(n: int) -> str:
    base = f"1{n:08d}"
    return base + str(npi_check_digit(base))


def phone(n: int) -> str:
    return f"617-{200 + n // 10000:03d}-{n % 10000:04d}"


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def importer(make_user: Callable[..., User]) -> User:
    return make_user(Role.MARKETER, "importer")


@pytest.fixture
def reference_data() -> None:
    factories.specialties()
    Territory.objects.create(code="NE1", name="Northeast")


def upload(content: bytes, actor: User | None, **kwargs: Any) -> ContactImport:
    return contact_import_upload(
        file=io.BytesIO(content), filename="contacts.csv", actor=actor, **kwargs
    )


MIXED = csv_bytes(
    HEADER,
    [
        ["hcp", "Ann", "Lee", npi(1), phone(1), "ann@example.org", "NE1", "207Q00000X"],  # row 2
        ["hcp", "Bob", "Ray", npi(2), "12", "bob@example.org", "NE1", ""],  # row 3: bad phone
        ["hcp", "Cy", "Oh", npi(3), phone(3), "", "", "208000000X"],  # row 4
        ["hcp", "Di", "Ma", npi(4), phone(4), "di@", "ZZ9", ""],  # row 5: bad email, territory
        ["hcp", "Ed", "Fo", "", phone(5), "ed@example.org", "", ""],  # row 6
    ],
)


# --- Refusals ------------------------------------------------------------------------------------


def test_refuses_a_file_that_is_not_utf8(importer: User, var_dir: Path) -> None:
    content = "kind,last_name\nhcp,Lee\nhcp,Müller\n".encode("latin-1")
    with pytest.raises(FileRefused) as refused:
        upload(content, importer)
    assert refused.value.message == "the file is not UTF-8 text: byte 0xFC at line 3"
    assert refused.value.field == "file"
    assert not ContactImport.objects.exists()
    assert list((var_dir / "imports").iterdir()) == []  # the refused upload is not kept


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"kind,last_name\nhcp,Lee\x00\n", "binary content (a NUL byte at line 2)"),
        (b"PK\x03\x04\x14\x00\x06\x00", "spreadsheet or ZIP archive, not CSV"),
        ("\ufeffkind".encode("utf-16"), "UTF-16 text, not UTF-8"),
        (b"kind,last_name\nhcp,Lee\nhcp,Ray,extra\n", "row 3 has 3 fields, the header has 2"),
        (b"kind,last_name,kind\nhcp,Lee,hcp\n", "names 'kind' twice"),
        (b"kind,,last_name\nhcp,x,Lee\n", "column 2 of the header has no name"),
        (b"hcp,Lee,Ann\nhcp,Ray,Bob\n", "the first row is not a header"),
        (b'kind,last_name\nhcp,"Lee\n', "not CSV: unexpected end of data"),
    ],
)
def test_refuses_what_is_not_csv(importer: User, content: bytes, reason: str) -> None:
    with pytest.raises(ValidationError) as refused:
        upload(content, importer)
    assert reason in refused.value.message
    assert not ContactImport.objects.exists()


def test_utf8_with_a_byte_order_mark_and_blank_lines_is_fine(
    importer: User, reference_data: None
) -> None:
    content = "\ufeffkind,last_name\r\nhcp,Lee\r\n\r\nhcp,Ray\r\n".encode()
    contact_import = upload(content, importer)
    assert contact_import.total_rows == 2
    contact_import_run(contact_import=contact_import, actor=importer)
    assert contact_import.status == ImportStatus.DONE
    assert contact_import.created_rows == 2


# --- Mapping -------------------------------------------------------------------------------------


def test_default_mapping_reads_common_headers_and_reports_unknown_ones() -> None:
    header = (
        "Type",
        "Phone Number",
        "E-mail",
        "ZIP",
        "Specialty",
        "LAST_NAME",
        "Notes",
        "custom.Region",
    )
    plan = resolve_mapping(header, {})
    assert {header[i]: field for i, field in plan.columns} == {
        "Type": "kind",
        "Phone Number": "phone",
        "E-mail": "email",
        "ZIP": "postal_code",
        "Specialty": "specialties",
        "LAST_NAME": "last_name",
        "custom.Region": "custom.region",
    }
    assert plan.unmapped == ("Notes",)
    assert resolve_mapping(("Kind", "Taxonomy"), {}).columns[1][1] == "specialties"


def test_explicit_mapping_overrides_and_is_checked() -> None:
    header = ("Kind", "Phone", "Notes", "Cell")
    plan = resolve_mapping(header, {"Phone": "", "cell": "phone", "Notes": "custom.notes"})
    assert {header[i]: field for i, field in plan.columns} == {
        "Kind": "kind",
        "Cell": "phone",
        "Notes": "custom.notes",
    }
    with pytest.raises(ValidationError, match="unknown field"):
        resolve_mapping(header, {"Notes": "shoe_size"})
    with pytest.raises(ValidationError, match="does not have"):
        resolve_mapping(header, {"Fax": "phone"})
    with pytest.raises(ValidationError, match="both map to phone"):
        resolve_mapping(header, {"Cell": "phone"})
    with pytest.raises(ValidationError, match="custom field names"):
        resolve_mapping(header, {"Notes": "custom.Bad Name"})
    with pytest.raises(ValidationError, match="contact kind"):
        resolve_mapping(("Last Name", "Phone"), {})


# --- Modes ---------------------------------------------------------------------------------------


def test_all_or_nothing_with_a_bad_row_writes_nothing(importer: User, reference_data: None) -> None:
    contact_import = upload(MIXED, importer, mode="all_or_nothing")
    contact_import_run(contact_import=contact_import, actor=importer)
    assert contact_import.status == ImportStatus.FAILED
    assert Contact.objects.count() == 0
    assert Phone.objects.count() == 0
    assert (contact_import.total_rows, contact_import.valid_rows) == (5, 3)
    assert (contact_import.error_rows, contact_import.created_rows) == (2, 0)
    assert not AuditEntry.objects.filter(object_type="contact_import").exists()
    rows = {p["row"] for p in contact_import.report["problems"]}
    assert rows == {3, 5}
    assert contact_import.error_path  # the bad rows, to fix and import again


def test_valid_only_writes_the_good_rows_and_an_error_csv(
    importer: User, reference_data: None
) -> None:
    contact_import = upload(MIXED, importer, mode="valid_only")
    contact_import_run(contact_import=contact_import, actor=importer)
    assert contact_import.status == ImportStatus.DONE
    assert (contact_import.created_rows, contact_import.error_rows) == (3, 2)
    assert contact_import.processed_rows == 5
    assert sorted(HcpProfile.objects.values_list("last_name", flat=True)) == ["Fo", "Lee", "Oh"]
    lee = HcpProfile.objects.get(last_name="Lee").contact
    assert lee.territory is not None
    assert lee.territory.code == "NE1"
    assert list(lee.hcp.specialties.values_list("code", flat=True)) == ["207Q00000X"]
    assert list(lee.phones.values_list("e164", flat=True)) == ["+16172000001"]
    assert lee.time_zone == "America/New_York"

    with import_file_path(contact_import.error_path).open(encoding="utf-8-sig") as file:
        errors = list(csv.reader(file))
    assert errors[0] == [*HEADER, "row", "errors"]
    assert [row[:8] for row in errors[1:]] == [
        ["hcp", "Bob", "Ray", npi(2), "12", "bob@example.org", "NE1", ""],
        ["hcp", "Di", "Ma", npi(4), phone(4), "di@", "ZZ9", ""],
    ]
    assert errors[1][8] == "3"
    assert errors[1][9].startswith("Phone Number: ")
    assert errors[2][8] == "5"
    assert "E-mail: " in errors[2][9]

    entries = AuditEntry.objects.filter(object_type="contact_import")
    assert entries.count() == 1  # one per import, not one per row
    assert entries.get().note == "valid_only: rows 5, created 3, merged 0, errors 2"
    assert not import_file_path(contact_import.stored_path).exists()  # upload deleted when done


def test_every_rejection_names_row_column_value_and_reason(
    importer: User, reference_data: None
) -> None:
    contact_import = contact_import_validate(contact_import=upload(MIXED, importer))
    assert contact_import.status == ImportStatus.VALIDATED
    assert Contact.objects.count() == 0  # a dry run writes nothing
    problems = contact_import.report["problems"]
    assert {(p["row"], p["column"], p["value"]) for p in problems} == {
        (3, "Phone Number", "12"),
        (5, "E-mail", "di@"),
        (5, "Territory", "ZZ9"),
    }
    assert all(p["reason"] for p in problems)
    phone_problem = next(p for p in problems if p["row"] == 3)
    assert problem_line(phone_problem) == (
        f'row 3, column "Phone Number": bad phone "12" ({phone_problem["reason"]})'
    )
    assert contact_import.report["summary"]["created"] == 3
    assert contact_import.report["row_numbers"].startswith("spreadsheet rows: the header is row 1")


def test_more_rejections(importer: User, reference_data: None) -> None:
    header = ["kind", "last_name", "npi", "specialties", "date_of_birth", "mrn"]
    content = csv_bytes(
        header,
        [
            ["hcp", "Lee", "1234567890", "", "", ""],  # row 2: check digit
            ["hcp", "Ray", npi(7), "207RX0000X", "", ""],  # row 3: unknown code
            ["hcp", "Oh", npi(7), "", "", ""],  # row 4: same NPI as row 3? row 3 is bad
            ["hcp", "Ma", npi(7), "", "", ""],  # row 5: same NPI as row 4
            ["patient", "Secret", "", "", "1980-13-40", "MRN-1"],  # row 6: bad birth date
            ["dentist", "Fo", "", "", "", ""],  # row 7: unknown kind
        ],
    )
    contact_import = contact_import_validate(contact_import=upload(content, importer))
    found = {(p["row"], p["column"]): p for p in contact_import.report["problems"]}
    assert set(found) == {
        (2, "npi"),
        (3, "specialties"),
        (5, "npi"),
        (6, "date_of_birth"),
        (7, "kind"),
    }
    assert found[2, "npi"]["value"] == "1234567890"
    assert "check digit" in found[2, "npi"]["reason"]
    assert found[5, "npi"]["reason"] == "the same NPI is on row 4"
    assert found[6, "date_of_birth"]["value"] == ""  # PHI is never echoed
    assert found[7, "kind"]["value"] == "dentist"


def test_a_specialty_missing_from_the_table_is_a_problem(importer: User) -> None:
    Specialty.objects.filter(code="207Q00000X").delete()  # as if the NUCC list were not loaded
    content = csv_bytes(["kind", "last_name", "specialties"], [["hcp", "Lee", "207Q00000X"]])
    contact_import = contact_import_validate(contact_import=upload(content, importer))
    (problem,) = contact_import.report["problems"]
    assert (problem["row"], problem["column"], problem["value"]) == (2, "specialties", "207Q00000X")
    assert "specialty table" in problem["reason"]


# --- Matching and merging ------------------------------------------------------------------------


@pytest.fixture
def known(reference_data: None) -> dict[str, Contact]:
    return {
        "a": factories.contact(
            kind="hcp", last_name="Adams", npi=npi(10), organization="Mercy", phone=phone(10)
        ),
        "b": factories.contact(kind="hcp", last_name="Shared", phone=phone(20), phone2=phone(21)),
        "c": factories.contact(
            kind="hcp", last_name="Shared", email="c@example.org", email2="c2@example.org"
        ),
    }


def test_npi_beats_phone_beats_email(importer: User, known: dict[str, Contact]) -> None:
    header = ["kind", "last_name", "npi", "phone", "email", "organization", "tags"]
    content = csv_bytes(
        header,
        [
            # NPI of A with B's phone: A, by NPI; B's phone is added to A, the organization kept.
            ["hcp", "", npi(10), phone(20), "", "Other Clinic", "kol"],
            # B's second phone with C's e-mail: B, by phone.
            ["hcp", "Shared", "", phone(21), "c@example.org", "", ""],
            # C's second e-mail only: C, by e-mail.
            ["hcp", "Shared", "", "", "c2@example.org", "", "east"],
        ],
    )
    before = Contact.objects.count()
    contact_import = upload(content, importer, mode="valid_only")
    dry = contact_import_validate(contact_import=contact_import).report
    assert [(m["row"], m["contact_id"], m["key"]) for m in dry["merges"]] == [
        (2, known["a"].pk, "npi"),
        (3, known["b"].pk, "phone"),
        (4, known["c"].pk, "email"),
    ]
    contact_import_run(contact_import=contact_import, actor=importer)
    assert contact_import.status == ImportStatus.DONE
    assert Contact.objects.count() == before  # no duplicates
    assert (contact_import.created_rows, contact_import.merged_rows) == (0, 3)
    report = contact_import.report
    assert report["summary"]["merged_by"] == {"npi": 1, "mrn": 0, "phone": 1, "email": 1}
    assert [(m["row"], m["contact_id"], m["key"]) for m in report["merges"]] == [
        (2, known["a"].pk, "npi"),
        (3, known["b"].pk, "phone"),
        (4, known["c"].pk, "email"),
    ]
    a = HcpProfile.objects.get(pk=known["a"].pk)
    assert a.organization == "Mercy"  # never overwritten
    assert set(Phone.objects.filter(contact_id=known["a"].pk).values_list("e164", flat=True)) == {
        "+16172000010",
        "+16172000020",
    }
    assert list(a.contact.tags.values_list("name", flat=True)) == ["kol"]
    assert set(
        Email.objects.filter(contact_id=known["b"].pk).values_list("address", flat=True)
    ) == {"c@example.org"}
    (conflict,) = [c for c in report["conflicts"] if c["field"] == "organization"]
    assert conflict["row"] == 2
    assert conflict["contact_id"] == known["a"].pk
    assert conflict["column"] == "organization"
    assert conflict["value"] == "Other Clinic"
    assert "already has a different organization" in conflict["reason"]


def test_merge_fills_empty_fields_only(importer: User, known: dict[str, Contact]) -> None:
    content = csv_bytes(
        [
            "kind",
            "last_name",
            "npi",
            "first_name",
            "credentials",
            "address_line1",
            "city",
            "state",
            "postal_code",
        ],
        [["hcp", "Adams", npi(10), "Alice", "MD", "1 Main St", "Boston", "MA", "02110"]],
    )
    contact_import = upload(content, importer)
    contact_import_run(contact_import=contact_import, actor=importer)
    a = HcpProfile.objects.get(pk=known["a"].pk)
    assert (a.first_name, a.credentials, a.organization) == ("Alice", "MD", "Mercy")
    assert PostalAddress.objects.filter(contact_id=a.pk).count() == 1
    assert a.contact.time_zone == "America/New_York"
    assert contact_import.report["conflicts"] == []


def test_custom_fields_ids_and_preferences_are_stored_and_merged(
    importer: User, reference_data: None
) -> None:
    header = ["kind", "last_name", "npi", "custom.region", "custom.tier", "external_id"]
    header += ["large_print", "preferred_channels", "language", "territory"]
    first = upload(
        csv_bytes(
            header, [["hcp", "Lee", npi(60), "north", "", "X-1", "yes", "sms;email", "es", ""]]
        ),
        importer,
    )
    contact_import_run(contact_import=first, actor=importer)
    contact = Contact.objects.get()
    assert contact.custom_fields == {"region": "north"}
    assert contact.external_ids == {"source": "X-1"}
    assert (contact.large_print, contact.preferred_channels, contact.language) == (
        True,
        ["sms", "email"],
        "es",
    )
    second = upload(
        csv_bytes(header, [["hcp", "Lee", npi(60), "south", "gold", "X-1", "", "", "", "NE1"]]),
        importer,
    )
    contact_import_run(contact_import=second, actor=importer)
    contact.refresh_from_db()
    assert contact.custom_fields == {"region": "north", "tier": "gold"}
    assert contact.territory is not None
    assert contact.territory.code == "NE1"
    (conflict,) = second.report["conflicts"]
    assert (conflict["column"], conflict["value"]) == ("custom.region", "south")


def test_an_address_match_with_a_different_identity_is_not_merged(
    importer: User, known: dict[str, Contact]
) -> None:
    # B's phone, but another last name (a shared practice line): a new contact, reported.
    content = csv_bytes(["kind", "last_name", "phone"], [["hcp", "Baker", phone(20)]])
    contact_import = upload(content, importer)
    contact_import_run(contact_import=contact_import, actor=importer)
    assert contact_import.created_rows == 1
    (note,) = contact_import.report["conflicts"]
    assert note["contact_id"] == known["b"].pk
    assert "whose last name differs: not merged" in note["reason"]


def test_several_address_matches_are_a_problem(importer: User, reference_data: None) -> None:
    factories.contact(kind="hcp", last_name="Twin", phone=phone(30))
    factories.contact(kind="hcp", last_name="Twin", phone=phone(30))
    content = csv_bytes(["kind", "last_name", "phone"], [["hcp", "Twin", phone(30)]])
    contact_import = contact_import_validate(contact_import=upload(content, importer))
    (problem,) = contact_import.report["problems"]
    assert problem["column"] == "phone"
    assert "matches several contacts" in problem["reason"]


def test_rows_of_one_file_merge_into_each_other(importer: User, reference_data: None) -> None:
    content = csv_bytes(
        ["kind", "last_name", "phone", "email"],
        [["hcp", "Lee", phone(40), ""], ["hcp", "Lee", phone(40), "lee@example.org"]],
    )
    contact_import = upload(content, importer)
    dry = contact_import_validate(contact_import=contact_import).report
    assert dry["merges"] == [{"row": 3, "contact_id": None, "key": "phone", "created_by_row": 2}]
    contact_import_run(contact_import=contact_import, actor=importer)
    (contact,) = Contact.objects.all()
    assert list(contact.emails.values_list("address", flat=True)) == ["lee@example.org"]
    assert contact_import.report["merges"][0]["contact_id"] == contact.pk


def test_running_the_same_file_again_creates_nothing(importer: User, reference_data: None) -> None:
    header = ["kind", "first_name", "last_name", "npi", "phone", "email", "mrn", "tags"]
    rows = [
        ["hcp", "Ann", "Lee", npi(1), phone(1), "ann@example.org", "", "kol"],
        ["hcp", "Ed", "Fo", "", phone(5), "ed@example.org", "", ""],
        ["patient", "Pat", "Quill", "", "", "", "MRN-77", ""],
        ["caregiver", "Cat", "Quill", "", phone(6), "", "", ""],
    ]
    first = upload(csv_bytes(header, rows), importer)
    contact_import_run(contact_import=first, actor=importer)
    counts = [model.objects.count() for model in (Contact, Phone, Email, PatientProfile)]
    second = upload(csv_bytes(header, rows), importer)
    contact_import_run(contact_import=second, actor=importer)
    assert (second.created_rows, second.merged_rows) == (0, 4)
    assert second.report["summary"]["merged_by"] == {"npi": 1, "mrn": 1, "phone": 2, "email": 0}
    assert [model.objects.count() for model in (Contact, Phone, Email, PatientProfile)] == counts
    assert second.report["conflicts"] == []


def test_matching_is_set_based(importer: User, reference_data: None) -> None:
    header = ["kind", "last_name", "npi", "phone", "email", "tags", "specialties", "territory"]
    rows = [
        [
            "hcp",
            f"Name{i}",
            npi(100 + i),
            phone(100 + i),
            f"d{i}@example.org",
            "a;b",
            "207Q00000X",
            "NE1",
        ]
        for i in range(60)
    ]
    first = upload(csv_bytes(header, rows), importer)
    with CaptureQueriesContext(connection) as small:
        contact_import_run(contact_import=first, actor=importer)
    rows += [
        [
            "hcp",
            f"Name{i}",
            npi(100 + i),
            phone(100 + i),
            f"d{i}@example.org",
            "a;c",
            "207Q00000X",
            "NE1",
        ]
        for i in range(60, 600)
    ]
    second = upload(csv_bytes(header, rows), importer)
    with CaptureQueriesContext(connection) as large:
        contact_import_run(contact_import=second, actor=importer)
    assert (second.created_rows, second.merged_rows) == (540, 60)
    # Ten times the rows, a quarter of them merges: still a fixed number of statements.
    assert len(large.captured_queries) <= len(small.captured_queries) + 15


# --- PHI -----------------------------------------------------------------------------------------


def test_phi_never_reaches_the_report_or_the_audit_log(
    importer: User, reference_data: None
) -> None:
    header = ["kind", "first_name", "last_name", "date_of_birth", "mrn", "phone"]
    existing = factories.contact(
        kind="patient",
        first_name="Zelda",
        last_name="Quintero",
        mrn="MRN-900",
        date_of_birth="1970-01-01",
    )
    content = csv_bytes(
        header,
        [
            ["patient", "Hermione", "Xylophone", "1985-07-09", "MRN-123", phone(50)],
            ["patient", "Ophelia", "Yarrowby", "2999-01-01", "MRN-456", ""],  # bad birth date
            ["patient", "Zelda", "Quinterox", "1970-01-01", "MRN-900", ""],  # merge: name conflict
            ["patient", "Hermione", "Xylophone", "1985-07-09", "MRN-124", phone(50)],  # MRN differs
        ],
    )
    contact_import = upload(content, importer, mode="valid_only")
    contact_import_validate(contact_import=contact_import)
    contact_import_run(contact_import=contact_import, actor=importer)
    text = json.dumps(contact_import.report) + "".join(
        AuditEntry.objects.values_list("note", flat=True)
    )
    for secret in (
        "Hermione",
        "Xylophone",
        "1985-07-09",
        "MRN-123",
        "Ophelia",
        "Yarrowby",
        "2999-01-01",
        "MRN-456",
        "Quinterox",
        "MRN-900",
        "MRN-124",
        "Zelda",
    ):
        assert secret not in text
    assert contact_import.created_rows == 2
    assert contact_import.merged_rows == 1
    assert contact_import.report["merges"][0]["contact_id"] == existing.pk
    assert contact_import.report["merges"][0]["key"] == "mrn"
    # Stored encrypted, found by its blind index.
    stored = PatientProfile.objects.get(mrn_index__in=blind_index_lookup("mrn-123"))
    assert (stored.first_name, stored.date_of_birth) == ("Hermione", "1985-07-09")
    raw = PatientProfile.objects.filter(pk=stored.pk).values_list("first_name", flat=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT first_name FROM audience_patientprofile WHERE contact_id = %s", [stored.pk]
        )
        assert "Hermione" not in cursor.fetchone()[0]
    assert raw is not None


# --- Scale ---------------------------------------------------------------------------------------


def _generated(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["kind", "first_name", "last_name", "npi", "phone", "email", "tags", "organization"]
        )
        for n in range(rows):
            writer.writerow(
                [
                    "hcp",
                    "Ann",
                    f"Lee{n}",
                    npi(n),
                    phone(n) if n % 10 == 0 else "",
                    f"a{n}@example.org",
                    "kol",
                    "Mercy",
                ]
            )


def test_generated_rows_are_valid(importer: User, tmp_path: Path) -> None:
    source = tmp_path / "small.csv"
    _generated(source, 30)
    with source.open("rb") as file:
        contact_import = contact_import_upload(file=file, filename="small.csv", actor=importer)
    contact_import_validate(contact_import=contact_import)
    assert contact_import.report["problems"] == []


@pytest.mark.slow
def test_memory_stays_bounded_for_a_large_file(importer: User, tmp_path: Path) -> None:
    source = tmp_path / "large.csv"
    _generated(source, 50_000)
    with source.open("rb") as file:
        contact_import = contact_import_upload(
            file=file, filename="large.csv", mode="valid_only", actor=importer
        )
    tracemalloc.start()
    try:
        contact_import_run(contact_import=contact_import, actor=importer)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert contact_import.created_rows == 50_000
    print(f"peak {peak / 1e6:.1f} MB")  # noqa: T201
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# --- CLI -----------------------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("contacts", "import", *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_cli_prints_a_line_per_problem_and_exits_2_when_all_or_nothing_fails(
    importer: User, reference_data: None, tmp_path: Path
) -> None:
    source = tmp_path / "mixed.csv"
    source.write_bytes(MIXED)
    status, out, _ = _cli(str(source), "--user", "importer")
    assert status == 2
    lines = out.splitlines()
    assert lines[0].startswith('row 3, column "Phone Number": bad phone "12" (')
    assert any(
        line.startswith('row 5, column "Territory": bad territory "ZZ9" (') for line in lines
    )
    assert "5 rows, 3 valid, 2 with problems; nothing imported" in out
    assert Contact.objects.count() == 0

    status, out, _ = _cli(str(source), "--user", "importer", "--mode", "valid_only", "--dry-run")
    assert status == 0
    assert "dry run, nothing written: would create 3, merge 0" in out
    assert Contact.objects.count() == 0

    status, out, _ = _cli(str(source), "--user", "importer", "--mode", "valid_only")
    assert status == 0
    assert "created 3, merged 0" in out
    assert "bad rows written to imports/" in out
    assert Contact.objects.count() == 3


def test_cli_mapping_and_refusals(
    importer: User, reference_data: None, tmp_path: Path, make_user: Callable[..., User]
) -> None:
    source = tmp_path / "mapped.csv"
    source.write_bytes(csv_bytes(["Sort", "Surname", "Cellular"], [["hcp", "Lee", phone(1)]]))
    status, out, _ = _cli(
        str(source),
        "--mapping",
        "Sort=kind",
        "--mapping",
        "Surname=last_name",
        "--mapping",
        "Cellular=phone",
    )
    assert status == 0, out
    assert list(Phone.objects.values_list("e164", flat=True)) == ["+16172000001"]

    bad = tmp_path / "latin1.csv"
    bad.write_bytes("kind,last_name\nhcp,Müller\n".encode("latin-1"))
    status, _, err = _cli(str(bad))
    assert status == 2
    assert err.strip() == "error (file): the file is not UTF-8 text: byte 0xFC at line 2"

    status, _, err = _cli(str(source), "--mapping", "Sort=shoe_size")
    assert status == 2
    assert "unknown field" in err

    make_user(Role.FIELD_REP, "fieldrep")
    status, _, err = _cli(str(source), "--user", "fieldrep")
    assert status == 2
    assert "may not import" in err


# --- REST API ------------------------------------------------------------------------------------


def _post(client: Client, content: bytes, **fields: str) -> Any:
    return client.post(
        "/api/v1/imports",
        {"file": _named(content), **fields},
    )


def _named(content: bytes) -> io.BytesIO:
    file = io.BytesIO(content)
    file.name = "contacts.csv"
    return file


def test_api_upload_dry_run_then_run_then_status_and_errors(
    api: Callable[[Role], Client], users: dict[Role, User], reference_data: None
) -> None:
    client = api(Role.MARKETER)
    response = _post(client, MIXED, mode="valid_only")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "validated"
    assert body["report"]["summary"]["error_rows"] == 2
    assert Contact.objects.count() == 0

    run = client.post(f"/api/v1/imports/{body['id']}/run")
    assert run.status_code == 200, run.content
    assert run.json()["status"] == "done"
    assert Contact.objects.count() == 3

    status = client.get(f"/api/v1/imports/{body['id']}").json()
    assert (status["processed_rows"], status["total_rows"], status["created_rows"]) == (5, 5, 3)
    errors = client.get(status["errors_url"])
    assert errors.status_code == 200
    assert errors["Content-Type"].startswith("text/csv")
    lines = b"".join(errors.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].endswith(",row,errors")
    assert len(lines) == 3
    assert AuditEntry.objects.filter(object_type="contact_import", action="read").count() == 1

    again = client.post(f"/api/v1/imports/{body['id']}/run")
    assert again.status_code == 409


def test_api_can_import_at_once_with_a_mapping(
    api: Callable[[Role], Client], reference_data: None
) -> None:
    content = csv_bytes(["Sort", "Surname"], [["hcp", "Lee"]])
    response = _post(
        api(Role.CARE_COORDINATOR),
        content,
        mapping=json.dumps({"Sort": "kind", "Surname": "last_name"}),
        dry_run="false",
    )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "done"
    assert HcpProfile.objects.get().last_name == "Lee"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mapping": "{not json"}, "mapping"),
        ({"mapping": json.dumps({"Fax": "phone"})}, "mapping"),
        ({"mode": "sometimes"}, "mode"),
    ],
)
def test_api_errors_name_the_field(
    api: Callable[[Role], Client], fields: dict[str, str], field: str
) -> None:
    response = _post(api(Role.MARKETER), MIXED, **fields)
    assert response.status_code == 400
    assert response.json()["field"] == field


def test_api_refuses_a_file_that_is_not_csv(api: Callable[[Role], Client]) -> None:
    response = _post(api(Role.MARKETER), b"PK\x03\x04 binary")
    assert response.status_code == 400
    assert response.json()["field"] == "file"
    assert "not CSV" in response.json()["message"]


@pytest.mark.parametrize("role", [Role.FIELD_REP, Role.ANALYST, Role.COMPLIANCE])
def test_api_roles_without_the_import_capability_get_403(
    api: Callable[[Role], Client], role: Role, importer: User, reference_data: None
) -> None:
    contact_import = upload(MIXED, importer)
    client = api(role)
    assert _post(client, MIXED).status_code == 403
    assert client.post(f"/api/v1/imports/{contact_import.pk}/run").status_code == 403
    assert client.get(f"/api/v1/imports/{contact_import.pk}").status_code == 403
    assert client.get(f"/api/v1/imports/{contact_import.pk}/errors.csv").status_code == 403
    assert Client().get(f"/api/v1/imports/{contact_import.pk}").status_code == 401


def test_api_an_importer_without_phi_sees_only_their_own_imports(
    api: Callable[[Role], Client], importer: User, reference_data: None
) -> None:
    contact_import = upload(MIXED, importer)
    assert api(Role.MARKETER).get(f"/api/v1/imports/{contact_import.pk}").status_code == 404
    assert api(Role.CARE_COORDINATOR).get(f"/api/v1/imports/{contact_import.pk}").status_code == 200


def test_services_refuse_a_field_rep(make_user: Callable[..., User]) -> None:
    rep = make_user(Role.FIELD_REP)
    with pytest.raises(PermissionDeniedError):
        upload(MIXED, rep)


# --- Progress ------------------------------------------------------------------------------------


def _seen_by_another_connection(import_id: int) -> int:
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT processed_rows FROM audience_contactimport WHERE id = %s", [import_id]
            )
            return int(cursor.fetchone()[0])
    finally:
        other.close()


@pytest.mark.parametrize("mode", ["valid_only", "all_or_nothing"])
@pytest.mark.django_db(transaction=True)
def test_progress_is_visible_while_the_run_goes_on(
    mode: str, monkeypatch: pytest.MonkeyPatch, make_user: Callable[..., User]
) -> None:
    if connection.vendor != "postgresql" and mode == "all_or_nothing":
        pytest.skip("SQLite has one writer: an all_or_nothing run shows its count at the end")
    monkeypatch.setattr("carereach.audience.imports.services.BATCH_SIZE", 2)
    importer = make_user(Role.MARKETER, "importer")
    rows = [["hcp", f"Name{i}", npi(300 + i)] for i in range(5)]
    contact_import = upload(csv_bytes(["kind", "last_name", "npi"], rows), importer, mode=mode)
    seen: list[tuple[int, int]] = []

    def progress(processed: int, total: int) -> None:
        # Called before the batch's count is stored: the poller sees the batch before.
        seen.append((processed, _seen_by_another_connection(contact_import.pk)))

    contact_import_run(contact_import=contact_import, actor=importer, progress=progress)
    assert contact_import.status == ImportStatus.DONE
    assert seen == [(2, 0), (4, 2), (5, 4)]


def test_cli_draws_a_progress_bar_on_a_terminal(
    importer: User, reference_data: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    monkeypatch.setattr("carereach.audience.imports.services.BATCH_SIZE", 2)
    source = tmp_path / "mixed.csv"
    source.write_bytes(MIXED)
    status, _, err = _cli(str(source), "--mode", "valid_only")
    assert status == 0
    assert "\r[############------------------] 2/5 rows" in err.replace(".", "-")
    assert "\r[##############################] 5/5 rows" in err


# --- Failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "kept"), [("valid_only", 2), ("all_or_nothing", 0)])
def test_a_run_that_breaks_off_is_failed_and_says_what_it_kept(
    importer: User, monkeypatch: pytest.MonkeyPatch, mode: str, kept: int
) -> None:
    real = services.write_batch
    calls: list[int] = []

    def flaky(**kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        real(**kwargs)

    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    monkeypatch.setattr(services, "write_batch", flaky)
    rows = [["hcp", f"Name{i}", npi(400 + i)] for i in range(5)]
    contact_import = upload(csv_bytes(["kind", "last_name", "npi"], rows), importer, mode=mode)
    with pytest.raises(RuntimeError, match="disk full"):
        contact_import_run(contact_import=contact_import, actor=importer)
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.FAILED
    assert contact_import.report["error"] == "the run broke off"
    assert Contact.objects.count() == kept
    notes = list(
        AuditEntry.objects.filter(object_type="contact_import").values_list("note", flat=True)
    )
    assert notes == (["valid_only: broke off after 2 rows; earlier batches kept"] if kept else [])
    assert import_file_path(contact_import.stored_path).exists()  # kept to look at or run again
