"""The roads an import takes for speed give the same answers as the plain ones.

- A large file is validated in a second process (`imports.workers`): its reports, error files
  and writes equal the thread's, in both modes, and a failing process fails the run.
- Drafts cross between the processes as tuples and come back equal.
- On PostgreSQL, match keys are probed one by one (`matching._keyed`), JIT is off for the pass
  and back afterwards, and a large run ends with ANALYZE; SQLite takes the plain roads.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carereach.audience.demo import demo_rows
from carereach.audience.drafts import contact_draft
from carereach.audience.identifiers import npi_check_digit
from carereach.audience.imports import services, workers
from carereach.audience.imports.matching import _keyed
from carereach.audience.imports.services import (
    contact_import_run,
    contact_import_upload,
    contact_import_validate,
    import_file_path,
)
from carereach.audience.models import Contact, ContactImport, Email, ImportStatus, Phone, Territory
from carereach.security.roles import Role
from tests.audience import factories

pytestmark = pytest.mark.django_db


def npi(n: int) -> str:
    base = f"1{n:08d}"
    return base + str(npi_check_digit(base))


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


HEADER = ["Type", "First Name", "Last Name", "NPI", "Phone", "E-mail", "Territory", "Specialty"]
ROWS = [
    ["hcp", "Ann", "Lee", npi(1), "617-200-0001", "ann@example.org", "NE1", "207Q00000X"],
    ["hcp", "Bob", "Ray", npi(2), "12", "bob@example.org", "NE1", ""],  # bad phone
    ["hcp", "Cy", "Oh", npi(3), "(617) 200-0003", "", "", "208000000X"],
    ["hcp", "Di", "Ma", npi(4), "617.200.0004", "di@", "ZZ9", ""],  # bad email and territory
    ["hcp", "Ed", "Fo", "", "+1 617 200 0005", "ed@example.org", "", ""],
    ["hcp", "Ed", "Fo", "", "6172000005", "ed2@example.org", "", ""],  # merges into the row above
    ["hcp", "Kim", "Known", "", "", "known@example.org", "", ""],  # merges into a stored contact
    ["hcp", "Al", "Twice", npi(1), "", "", "", ""],  # the NPI of row 2 again
    ["patient", "Pat", "Quill", "", "+44 20 8366 1177", "", "", ""],
]
MIXED = csv_bytes(HEADER, ROWS)


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def importer(make_user: Callable[..., User]) -> User:
    factories.specialties()
    Territory.objects.create(code="NE1", name="Northeast")
    factories.contact(kind="hcp", last_name="Known", email="known@example.org")
    return make_user(Role.MARKETER, "importer")


def upload(content: bytes, actor: User | None, **kwargs: Any) -> ContactImport:
    return contact_import_upload(
        file=io.BytesIO(content), filename="contacts.csv", actor=actor, **kwargs
    )


@pytest.fixture
def in_a_process(monkeypatch: pytest.MonkeyPatch) -> list[workers.ProcessValidator]:
    """Every file goes to the second process, three rows a batch; the validators started."""
    started: list[workers.ProcessValidator] = []
    real = workers.ProcessValidator

    def spy(*args: Any) -> workers.ProcessValidator:
        validator = real(*args)
        started.append(validator)
        return validator

    monkeypatch.setattr(workers, "PROCESS_MIN_ROWS", 0)
    monkeypatch.setattr(workers, "ProcessValidator", spy)
    monkeypatch.setattr(services, "BATCH_SIZE", 3)
    return started


def _error_file(contact_import: ContactImport) -> list[list[str]]:
    with import_file_path(contact_import.error_path).open(encoding="utf-8-sig") as file:
        return list(csv.reader(file))


def test_the_second_process_reports_what_the_thread_reports(
    importer: User, monkeypatch: pytest.MonkeyPatch, in_a_process: list[Any]
) -> None:
    in_process = contact_import_validate(contact_import=upload(MIXED, importer))
    assert len(in_a_process) == 1
    monkeypatch.setattr(workers, "PROCESS_MIN_ROWS", 10**9)
    on_thread = contact_import_validate(contact_import=upload(MIXED, importer))
    assert len(in_a_process) == 1  # the second dry run stayed on the thread
    assert in_process.report == on_thread.report
    assert _error_file(in_process) == _error_file(on_thread)
    summary = in_process.report["summary"]
    assert (summary["rows"], summary["error_rows"], summary["merged"]) == (9, 3, 2)
    assert {p["row"] for p in in_process.report["problems"]} == {3, 5, 9}


@pytest.mark.parametrize("mode", ["valid_only", "all_or_nothing"])
def test_runs_validated_in_the_second_process(
    importer: User, in_a_process: list[Any], mode: str
) -> None:
    before = Contact.objects.count()
    contact_import = upload(MIXED, importer, mode=mode)
    contact_import_run(contact_import=contact_import, actor=importer)
    assert len(in_a_process) == 1
    if mode == "all_or_nothing":
        assert contact_import.status == ImportStatus.FAILED
        assert Contact.objects.count() == before
        return
    assert contact_import.status == ImportStatus.DONE
    assert (contact_import.created_rows, contact_import.merged_rows) == (4, 2)
    assert (contact_import.error_rows, contact_import.processed_rows) == (3, 9)
    assert Contact.objects.count() == before + 4
    fo = Contact.objects.get(hcp__last_name="Fo")
    assert list(fo.phones.values_list("e164", flat=True)) == ["+16172000005"]
    assert sorted(fo.emails.values_list("address", flat=True)) == [
        "ed2@example.org",
        "ed@example.org",
    ]
    known = Contact.objects.get(hcp__last_name="Known")
    assert known.hcp.first_name == "Kim"  # filled in by the merge
    assert Phone.objects.get(e164="+442083661177").contact.kind == "patient"
    assert [row[:3] for row in _error_file(contact_import)[1:]] == [
        ["hcp", "Bob", "Ray"],
        ["hcp", "Di", "Ma"],
        ["hcp", "Al", "Twice"],
    ]


def test_a_validator_that_dies_fails_the_run(
    importer: User, monkeypatch: pytest.MonkeyPatch, in_a_process: list[Any]
) -> None:
    monkeypatch.setattr(workers, "CHILD_COMMAND", [sys.executable, "-c", "raise SystemExit(3)"])
    contact_import = upload(MIXED, importer, mode="valid_only")
    with pytest.raises(workers.ValidatorFailed, match="exit code 3"):
        contact_import_run(contact_import=contact_import, actor=importer)
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.FAILED
    assert contact_import.report["error"] == "the run broke off"


def test_a_validator_that_fails_says_why(tmp_path: Path) -> None:
    validator = workers.ProcessValidator(tmp_path, ((0, "kind"),), 10)  # a folder, not a file
    try:
        with pytest.raises(workers.ValidatorFailed, match="IsADirectoryError"):
            list(validator.batches())
    finally:
        validator.close()


def test_a_writer_that_stops_early_stops_the_validator(
    importer: User, monkeypatch: pytest.MonkeyPatch, in_a_process: list[Any]
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "write_batch", broken)
    contact_import = upload(MIXED, importer, mode="valid_only")
    with pytest.raises(RuntimeError, match="disk full"):
        contact_import_run(contact_import=contact_import, actor=importer)
    (validator,) = in_a_process
    assert validator._process.poll() is not None  # ended, not left reading ahead


def test_phi_written_by_the_importer_reads_back_through_the_field(importer: User) -> None:
    from carereach.audience.models import CaregiverProfile, PatientProfile
    from carereach.security.fields import blind_index_for

    content = csv_bytes(
        ["kind", "first_name", "last_name", "date_of_birth", "mrn"],
        [
            ["patient", "Hermione", "Xylophone", "1985-07-09", " mrn-123 "],
            ["caregiver", "Cat", "Quill", "", ""],
        ],
    )
    contact_import = upload(content, importer, mode="valid_only")
    contact_import_run(contact_import=contact_import, actor=importer)
    patient = PatientProfile.objects.get()
    assert (patient.first_name, patient.last_name) == ("Hermione", "Xylophone")
    assert (patient.date_of_birth, patient.mrn) == ("1985-07-09", "mrn-123")
    assert patient.mrn_index == blind_index_for("MRN-123")  # found by the usual lookup
    caregiver = CaregiverProfile.objects.get()
    assert (caregiver.first_name, caregiver.last_name) == ("Cat", "Quill")
    with connection.cursor() as cursor:
        cursor.execute("SELECT first_name FROM audience_patientprofile")
        (stored,) = cursor.fetchone()
    assert "Hermione" not in stored  # ciphertext at rest


@pytest.mark.parametrize("road", ["thread", "process"])
def test_phi_sealed_by_the_validator_reads_back_and_matches(
    importer: User, monkeypatch: pytest.MonkeyPatch, road: str
) -> None:
    """The validator encrypts PHI for a writing pass; a row that fills a field of a contact
    made earlier in the same batch has it encrypted again by the writer."""
    from carereach.audience.models import CaregiverProfile, PatientProfile
    from carereach.security.fields import blind_index_for

    if road == "process":
        monkeypatch.setattr(workers, "PROCESS_MIN_ROWS", 0)
    header = ["kind", "first_name", "last_name", "date_of_birth", "mrn"]
    content = csv_bytes(
        header,
        [
            ["patient", "", "Xylophone", "", " mrn-7 "],
            ["patient", "Hermione", "Xylophone", "1985-07-09", "MRN-7"],  # merges by MRN
            ["caregiver", "Cat", "Quill", "", ""],
        ],
    )
    first = upload(content, importer, mode="valid_only")
    contact_import_run(contact_import=first, actor=importer)
    assert (first.created_rows, first.merged_rows, first.error_rows) == (2, 1, 0)
    patient = PatientProfile.objects.get()
    assert (patient.first_name, patient.last_name) == ("Hermione", "Xylophone")
    assert (patient.date_of_birth, patient.mrn) == ("1985-07-09", "mrn-7")
    assert patient.mrn_index == blind_index_for("MRN-7")
    caregiver = CaregiverProfile.objects.get()
    assert (caregiver.first_name, caregiver.last_name) == ("Cat", "Quill")
    again = upload(csv_bytes(header, [["patient", "", "", "", "mrn-7"]]), importer)
    contact_import_run(contact_import=again, actor=importer)
    assert (again.created_rows, again.merged_rows) == (0, 1)  # found by its blind index


def test_drafts_cross_processes_unchanged() -> None:
    rows = list(demo_rows(hcps=40, patients=40, caregivers=20))
    rows.append({"kind": "hcp", "last_name": "Odd", "phone": "+44 20 8366 1177", "custom.x": "1"})
    for fields in rows:
        draft, problems = contact_draft(fields)
        assert draft is not None, problems
        assert workers.decode_draft(workers.encode_draft(draft)) == draft


# --- PostgreSQL's roads, and SQLite's ----------------------------------------------------------


def test_match_keys_are_found_one_by_one(importer: User) -> None:
    twin = factories.contact(kind="patient", last_name="Twin", email="known@example.org")
    known = Contact.objects.get(hcp__last_name="Known")
    found = _keyed(Email, "address", ["known@example.org", "nobody@example.org"])
    assert sorted(found) == sorted(
        [("known@example.org", known.pk), ("known@example.org", twin.pk)]
    )
    assert _keyed(Email, "address", []) == []
    if connection.vendor == "postgresql":  # the keys travel joined by line feeds
        with pytest.raises(ValueError, match="line feed"):
            _keyed(Email, "address", ["a@example.org\nb@example.org"])


def _jit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit')")
        row = cursor.fetchone()
    return str(row[0])


def test_jit_is_off_during_a_pass_and_back_after(importer: User) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no JIT compiler")
    with connection.cursor() as cursor:
        cursor.execute("SET jit = on")
    seen: list[str] = []
    contact_import = upload(MIXED, importer, mode="valid_only")
    contact_import_run(
        contact_import=contact_import, actor=importer, progress=lambda *_: seen.append(_jit())
    )
    assert seen == ["off"]
    assert _jit() == "on"


def _setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        row = cursor.fetchone()
    return str(row[0])


def test_batch_commits_do_not_wait_for_the_disk_until_the_last(importer: User) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    seen: list[str] = []
    contact_import = upload(MIXED, importer, mode="valid_only")
    contact_import_run(
        contact_import=contact_import,
        actor=importer,
        progress=lambda *_: seen.append(_setting("synchronous_commit")),
    )
    assert seen == ["off"]
    assert _setting("synchronous_commit") == "on"  # back before the import is recorded done


@pytest.mark.parametrize("mode", ["valid_only", "all_or_nothing"])
def test_a_database_error_mid_run_is_the_error_raised(
    importer: User, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """The settings put back after an aborted batch must not hide what aborted it."""
    from django.db import DatabaseError

    def broken(**kwargs: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_here")

    monkeypatch.setattr(services, "write_batch", broken)
    before = Contact.objects.count()
    good = csv_bytes(HEADER, [ROWS[0], ROWS[2]])
    contact_import = upload(good, importer, mode=mode)
    with pytest.raises(DatabaseError, match="no_such_table_here"):
        contact_import_run(contact_import=contact_import, actor=importer)
    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.FAILED
    assert Contact.objects.count() == before
    if connection.vendor == "postgresql":
        assert (_setting("jit"), _setting("synchronous_commit")) == (_jit(), "on")


@pytest.mark.parametrize("threshold", [1, 10**6])
def test_a_large_run_refreshes_the_planner_statistics(
    importer: User, monkeypatch: pytest.MonkeyPatch, threshold: int
) -> None:
    monkeypatch.setattr(services, "ANALYZE_MIN_ROWS", threshold)
    contact_import = upload(MIXED, importer, mode="valid_only")
    with CaptureQueriesContext(connection) as captured:
        contact_import_run(contact_import=contact_import, actor=importer)
    analyzed = [q["sql"] for q in captured.captured_queries if "ANALYZE" in q["sql"]]
    if connection.vendor != "postgresql" or threshold > 6:
        assert analyzed == []
        return
    (statement,) = analyzed
    assert statement.startswith("ANALYZE ")  # the test's transaction rules out VACUUM
    for table in ("audience_contact", "audience_email", "audience_hcpprofile_specialties"):
        assert f'"{table}"' in statement


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_large_run_also_vacuums(
    make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    monkeypatch.setattr(services, "ANALYZE_MIN_ROWS", 1)
    importer = make_user(Role.MARKETER, "importer")
    content = csv_bytes(["kind", "last_name", "npi"], [["hcp", "Lee", npi(1)]])
    contact_import = upload(content, importer, mode="valid_only")
    with CaptureQueriesContext(connection) as captured:
        contact_import_run(contact_import=contact_import, actor=importer)
    assert contact_import.status == ImportStatus.DONE
    (statement,) = [q["sql"] for q in captured.captured_queries if "ANALYZE" in q["sql"]]
    assert statement.startswith('VACUUM (ANALYZE) "audience_contact"')
