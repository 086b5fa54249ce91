"""Consent from files: the consent import (service, CLI, API, console) and disconnect reports."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from carereach.audience.models import Contact
from carereach.audience.services import territory_assign_rep, territory_create
from carereach.consent import csvfiles, imports, ledger
from carereach.consent.csvfiles import ImportRefused
from carereach.consent.disconnects import consent_disconnects_import
from carereach.consent.imports import consent_import
from carereach.consent.models import ConsentEntry, ConsentState, Program
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record, consent_void_reassigned
from carereach.errors import PermissionDeniedError
from carereach.security.models import AuditEntry
from carereach.security.roles import MATRIX, Capability, Role
from tests.audience import factories as audience
from tests.consent import factories

pytestmark = pytest.mark.django_db

NPI = "1234567893"
PHONE = "+14155550101"
PATIENT_PHONE = "+14155550177"
EMAIL = "ana@clinic.example"
HEADER = (
    "npi,mrn,contact_id,address,channel,program,action,method,occurred_at,captured_by,"
    "disclosure_version,typed_name,signature_file,ip,user_agent,source_document"
)


@pytest.fixture
def doctor() -> Contact:
    territory_create(code="W1", name="West", actor=None)
    return audience.contact(
        kind="hcp", npi=NPI, last_name="Pedersen", phone=PHONE, email=EMAIL, territory="W1"
    )


@pytest.fixture
def patient() -> Contact:
    return audience.contact(kind="patient", last_name="Park", mrn="MRN-0042", phone=PATIENT_PHONE)


@pytest.fixture
def programs() -> dict[str, Program]:
    return {
        "podcast": factories.program("podcast"),
        "promo": factories.program(
            "promo", type="marketing", channels=["sms", "email"], keywords=["PROMO"]
        ),
    }


def _csv(*rows: str, header: str = HEADER) -> io.BytesIO:
    return io.BytesIO(("\n".join([header, *rows]) + "\n").encode())


def _run(
    *rows: str, actor: User | None = None, dry_run: bool = False, **kw: str
) -> imports.ImportOutcome:
    return consent_import(file=_csv(*rows, **kw), filename="c.csv", actor=actor, dry_run=dry_run)


def _refused(*rows: str, actor: User | None = None, **kw: str) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        _run(*rows, actor=actor, **kw)
    return caught.value


def _replayed() -> dict[tuple[str, str, int], tuple[str, object, object, int]]:
    states = ledger.replay(
        ledger.Event(
            e.pk,
            e.contact_id,
            e.address,
            e.channel,
            e.program_id,
            e.action,
            e.occurred_at,
            e.expires_at,
        )
        for e in ConsentEntry.objects.all()
    )
    return {k: (v.status, v.granted_at, v.expires_at, v.entry_id) for k, v in states.items()}


def _live() -> dict[tuple[str, str, int], tuple[str, object, object, int]]:
    return {
        (s.address, s.channel, s.program_id): (s.status, s.granted_at, s.expires_at, s.entry_id)
        for s in ConsentState.objects.all()
    }


GOOD = [
    # An HCP by NPI, in person on paper: the scan is the evidence.
    f"{NPI},,,(415) 555-0101,sms,promo,grant,in_person,2025-03-01T10:00:00-05:00,jdoe,v1,,"
    "scans/ana.png,,,",
    # The same HCP's e-mail, by a web form elsewhere: IP and browser.
    f"{NPI},,,Ana@Clinic.Example,email,promo,grant,web_form,2025-03-02T10:00:00Z,,v1,,,"
    "192.0.2.1,Mozilla/5.0,",
    # A patient by MRN, informational, verbal.
    ",mrn-0042,,+14155550177,sms,podcast,grant,verbal,2025-03-03T10:00:00+00:00,,,,,,,",
    # A later revocation of everything on the HCP's number, by contact id.
    ",,{doctor},+14155550101,sms,*,revoke,call_center,2025-04-01T10:00:00Z,,,,,,,",
]


def _good(doctor: Contact) -> list[str]:
    return [row.format(doctor=doctor.pk) for row in GOOD]


# -- the import ----------------------------------------------------------------------------------


def test_import_writes_every_row_with_evidence_and_state_equals_replay(
    doctor: Contact, patient: Contact, programs: dict[str, Program], users: dict[Role, User]
) -> None:
    outcome = _run(*_good(doctor))
    assert (outcome.rows, outcome.entries, outcome.dry_run) == (4, 4, False)
    paper, web, verbal, stop = ConsentEntry.objects.order_by("occurred_at")
    assert (paper.contact, paper.address, paper.channel, paper.method) == (
        doctor,
        PHONE,
        "sms",
        "in_person",
    )
    assert paper.evidence == {
        "signature_file": "scans/ana.png",
        "import_file": "c.csv",
        "import_row": 2,
    }
    assert paper.captured_by_label == "jdoe"
    assert paper.disclosure_version == "v1"
    assert (web.address, web.evidence["ip"], web.evidence["user_agent"]) == (
        EMAIL,
        "192.0.2.1",
        "Mozilla/5.0",
    )
    assert (verbal.contact, verbal.disclosure_version) == (patient, "v1")  # the program's
    assert (stop.program, stop.action, stop.captured_by_label) == (None, "revoke", "system")
    assert {e.batch for e in (paper, web, verbal, stop)} == {outcome.batch}
    assert not consent_check(address=PHONE, channel="sms", program=programs["promo"]).allowed
    assert consent_check(address=EMAIL, channel="email", program=programs["promo"]).allowed
    assert consent_check(address=PATIENT_PHONE, channel="sms", program=programs["podcast"]).allowed
    assert _live() == _replayed()
    audit = AuditEntry.objects.get(object_type="consent_import")
    assert "4 rows, 4 entries" in audit.note
    assert "Park" not in audit.note


def test_a_user_named_in_captured_by_is_linked(
    doctor: Contact, programs: dict[str, Program], users: dict[Role, User]
) -> None:
    rep = users[Role.FIELD_REP]
    _run(
        f"{NPI},,,{PHONE},sms,podcast,grant,verbal,2025-03-01T10:00:00Z,{rep.username},,,,,,",
        actor=users[Role.ADMIN],
    )
    entry = ConsentEntry.objects.get()
    assert (entry.captured_by, entry.captured_by_label) == (rep, rep.username)


def test_dry_run_checks_everything_and_writes_nothing(
    doctor: Contact, patient: Contact, programs: dict[str, Program]
) -> None:
    outcome = _run(*_good(doctor), dry_run=True)
    assert (outcome.rows, outcome.entries, outcome.dry_run) == (4, 0, True)
    assert not ConsentEntry.objects.exists()
    assert not ConsentState.objects.exists()


def test_marketing_grant_without_evidence_is_refused_by_row_and_column(
    doctor: Contact, patient: Contact, programs: dict[str, Program]
) -> None:
    refused = _refused(
        *_good(doctor),
        f"{NPI},,,{PHONE},sms,promo,grant,import,2025-03-01T10:00:00Z,,v1,,,,,",
        f"{NPI},,,{PHONE},sms,promo,grant,verbal,2025-03-01T10:00:00Z,,v1,,,,,",
        f"{NPI},,,{EMAIL},email,promo,grant,web_form,2025-03-01T10:00:00Z,,v1,Ana P,,,,",
        f"{NPI},,,{EMAIL},email,promo,grant,in_person,2025-03-01T10:00:00Z,,,Ana P,,,,",
    )
    assert [(p.row, p.column, p.reason) for p in refused.problems] == [
        (
            6,
            "evidence",
            "a marketing grant by import needs evidence: fill source_file, signature_file, "
            "typed_name, ip",
        ),
        (7, "method", "Marketing consent needs written evidence; verbal cannot provide it."),
        (8, "evidence", "a marketing grant by web_form needs evidence: fill ip, user_agent"),
        (
            9,
            "disclosure_version",
            "a marketing grant must name the disclosure version the person was shown",
        ),
    ]
    assert refused.total == 4
    assert not ConsentEntry.objects.exists()  # the four good rows are not written either
    assert not ConsentState.objects.exists()


def test_every_bad_row_is_named_and_nothing_is_written(
    doctor: Contact, patient: Contact, programs: dict[str, Program]
) -> None:
    elsewhere = audience.contact(kind="hcp", last_name="Other", phone="+14155550199")
    later = (timezone.now() + timedelta(days=2)).isoformat()
    refused = _refused(
        *_good(doctor),
        f"{NPI},,,{PHONE},sms,nope,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        f"{NPI},,,{PHONE},fax,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        f"{NPI},,,12,sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        f"{NPI},,,{PHONE},sms,podcast,grant,verbal,2025-03-01 10:00,,,,,,,",
        f"{NPI},,,{PHONE},sms,podcast,grant,verbal,{later},,,,,,,",
        f"{NPI},,,+14155550199,sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        f"1234567890,,,{PHONE},sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        f",,999999,{PHONE},sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        f"{NPI},,{elsewhere.pk},{PHONE},sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        f"{NPI},,,{PHONE},sms,podcast,allow,verbal,2025-03-01T10:00:00Z,,,,,,,",
        f"{NPI},,,{PHONE},sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,999.1.1.1,,",
        f"{NPI},,,{PHONE},sms,*,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        ",,,+14155550101,sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
        "too,few,fields",
    )
    assert [(p.row, p.column) for p in refused.problems] == [
        (6, "program"),
        (7, "channel"),
        (8, "address"),
        (9, "occurred_at"),
        (10, "occurred_at"),
        (11, "address"),
        (12, "npi"),
        (13, "contact_id"),
        (14, "contact_id"),
        (15, "action"),
        (16, "ip"),
        (17, "program"),
        (18, "contact_id"),
        (19, ""),
    ]
    lines = csvfiles.problem_lines(refused)
    assert lines[0] == 'row 6, column "program": "nope" no program has this code'
    assert 'row 10, column "occurred_at"' in lines[4]
    assert "in the future" in lines[4]
    assert lines[5] == (
        'row 11, column "address": That address is not one of this contact\'s sms addresses.'
    )
    assert lines[8].endswith("the contact columns name different contacts")
    assert lines[11].endswith("Only a revocation may cover every program.")
    assert lines[13] == "row 19: has 3 fields, the header has 16"
    assert not ConsentEntry.objects.exists()


def test_phi_is_not_echoed_in_problems(patient: Contact, programs: dict[str, Program]) -> None:
    refused = _refused(
        ",NOT-AN-MRN,,+14155550177,sms,podcast,grant,verbal,2025-03-01T10:00Z,,,,,,,"
    )
    [problem] = refused.problems
    assert (problem.column, problem.value) == ("mrn", "")
    assert "NOT-AN-MRN" not in problem.line()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"npi,address,channel,program,action,occurred_at,colour\n", "unknown column 'colour'"),
        (b"npi,address,channel,program,action\n", "missing column: occurred_at"),
        (b"address,channel,program,action,occurred_at\n", "name the contact"),
        (b"npi,npi,address,channel,program,action,occurred_at\n", "names 'npi' twice"),
        (b"npi,address,channel,program,action,occurred_at\n", "no rows"),
        (b"npi,address\n\xff\xfe,x\n", "not UTF-8"),
        (b'npi,address,channel,program,action,occurred_at\n"unclosed,x\n', "not CSV"),
    ],
)
def test_files_that_cannot_be_read_are_refused(
    programs: dict[str, Program], content: bytes, reason: str
) -> None:
    with pytest.raises(ImportRefused) as caught:
        consent_import(file=io.BytesIO(content), filename="c.csv", actor=None)
    assert reason in caught.value.message


def test_aliases_and_a_byte_order_mark(doctor: Contact, programs: dict[str, Program]) -> None:
    content = (
        "\ufeffNPI,Address,Channel,Program Code,Action,Occurred At,Source Document\n"
        f"{NPI},{PHONE},sms,promo,grant,2025-03-01T10:00:00Z,box 7\n"
    )
    with pytest.raises(ImportRefused) as caught:  # marketing: needs the disclosure version
        consent_import(file=io.BytesIO(content.encode()), filename="c.csv", actor=None)
    assert caught.value.problems[0].column == "disclosure_version"
    content = content.replace("Source Document", "Source Document,Disclosure Version")
    content = content.replace("box 7", "box 7,v1")
    consent_import(file=io.BytesIO(content.encode()), filename="c.csv", actor=None)
    assert ConsentEntry.objects.get().evidence["source_file"] == "box 7"


def test_streams_in_batches_and_backdated_rows_replay_in_order(
    doctor: Contact, programs: dict[str, Program], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows for one address spread over batches, out of order, after live entries."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    consent_record(
        contact=doctor,
        address=PHONE,
        channels=["sms"],
        programs=[programs["podcast"]],
        action="grant",
        method="verbal",
        actor=None,
        occurred_at=timezone.now() - timedelta(days=10),
    )
    rows = [
        f"{NPI},,,{PHONE},sms,podcast,revoke,reply,2025-05-01T00:00:00Z,,,,,,,",
        f"{NPI},,,{PHONE},voice,podcast,grant,verbal,2025-01-01T00:00:00Z,,,,,,,",
        f"{NPI},,,{PHONE},sms,podcast,grant,verbal,2025-06-01T00:00:00Z,,,,,,,",
        f"{NPI},,,{PHONE},voice,*,revoke,call_center,2025-02-01T00:00:00Z,,,,,,,",
        f"{NPI},,,{PHONE},voice,podcast,pending,verbal,2025-03-01T00:00:00Z,,,,,,,",
    ]
    _run(*rows)
    assert _live() == _replayed()
    # The live grant 10 days ago is later than every imported row: it still decides.
    assert consent_check(address=PHONE, channel="sms", program=programs["podcast"]).allowed
    assert (
        consent_check(address=PHONE, channel="voice", program=programs["podcast"]).reason
        == "consent_pending"
    )


def test_the_file_is_read_as_it_is_written(
    doctor: Contact, programs: dict[str, Program], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are written while the rest of the file is still unread: memory stays bounded."""
    monkeypatch.setattr(imports, "BATCH_SIZE", 10)
    row = f"{NPI},,,{PHONE},sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,"
    content = _csv(*[row] * 600)
    size = len(content.getvalue())
    read_so_far: list[int] = []
    real = imports.consent_states_rebuild

    def rebuild(*, pairs: set[tuple[str, str]]) -> int:
        read_so_far.append(content.tell())
        return real(pairs=pairs)

    monkeypatch.setattr(imports, "consent_states_rebuild", rebuild)
    outcome = consent_import(file=content, filename="c.csv", actor=None)
    assert outcome.entries == 600
    assert len(read_so_far) == 60
    assert read_so_far[0] < size / 2
    assert _live() == _replayed()


def test_a_rep_imports_only_for_their_territory(
    doctor: Contact, patient: Contact, programs: dict[str, Program], users: dict[Role, User]
) -> None:
    rep = users[Role.FIELD_REP]
    refused = _refused(*_good(doctor), actor=rep)
    assert [(p.row, p.column) for p in refused.problems] == [
        (2, "npi"),
        (3, "npi"),
        (4, "mrn"),
        (5, "contact_id"),
    ]
    assert refused.problems[0].reason == "no contact you may see has this"
    territory_assign_rep(territory=doctor.territory, rep=rep, actor=None)  # type: ignore[arg-type]
    _run(*_good(doctor)[:2], actor=rep)
    assert ConsentEntry.objects.count() == 2
    with pytest.raises(PermissionDeniedError):
        _run(*_good(doctor)[:2], actor=users[Role.MARKETER])


def test_problems_beyond_the_limit_are_counted(
    doctor: Contact, programs: dict[str, Program], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvfiles, "MAX_PROBLEMS", 3)
    bad = f"{NPI},,,{PHONE},sms,nope,grant,verbal,2025-03-01T10:00:00Z,,,,,,,"
    refused = _refused(*[bad] * 5)
    assert (len(refused.problems), refused.total) == (3, 5)
    assert csvfiles.problem_lines(refused)[-1] == "… 2 more problems"
    assert refused.as_dict()["error_count"] == 5


# -- the CLI -----------------------------------------------------------------------------------


def _file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "consents.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_cli_imports_and_dry_runs(
    doctor: Contact,
    patient: Contact,
    programs: dict[str, Program],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _file(tmp_path, *_good(doctor))
    call_command("consent_import", str(path), "--dry-run")
    assert "consents.csv: 4 rows, all valid; dry run, nothing written" in capsys.readouterr().out
    assert not ConsentEntry.objects.exists()
    call_command("consent_import", str(path))
    assert "4 rows, 4 ledger entries written (batch " in capsys.readouterr().out
    assert ConsentEntry.objects.count() == 4


def test_cli_prints_one_line_per_problem_and_exits_2(
    doctor: Contact,
    programs: dict[str, Program],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _file(
        tmp_path,
        f"{NPI},,,{PHONE},sms,promo,grant,import,2025-03-01T10:00:00Z,,v1,,,,,",
        f"{NPI},,,{PHONE},sms,podcast,grant,verbal,2025-03-01T10:00:00Z,,,,,,,",
    )
    with pytest.raises(SystemExit) as exited:
        call_command("consent_import", str(path))
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        'row 2, column "evidence": a marketing grant by import needs evidence: fill '
        "source_file, signature_file, typed_name, ip"
    ]
    assert err.startswith("error (file): Nothing imported: 1 problem.")
    assert not ConsentEntry.objects.exists()
    with pytest.raises(SystemExit):
        call_command("consent_import", str(tmp_path / "missing.csv"))
    assert "No such file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        call_command("consent_import", str(path), "--user", "nobody")
    assert "No user named 'nobody'" in capsys.readouterr().err


# -- the API and the console page --------------------------------------------------------------


def _upload(rows: list[str]) -> SimpleUploadedFile:
    content = "\n".join([HEADER, *rows]).encode()
    return SimpleUploadedFile("consents.csv", content, content_type="text/csv")


def test_api_import(
    api: Callable[[Role], Client],
    doctor: Contact,
    patient: Contact,
    programs: dict[str, Program],
) -> None:
    client = api(Role.CARE_COORDINATOR)
    checked = client.post("/api/v1/consent/imports", {"file": _upload(_good(doctor))})
    assert checked.status_code == 200
    assert checked.json() == {"rows": 4, "entries": 0, "dry_run": True, "batch": ""}
    assert not ConsentEntry.objects.exists()
    done = client.post(
        "/api/v1/consent/imports", {"file": _upload(_good(doctor)), "dry_run": "false"}
    )
    assert done.status_code == 201
    assert done.json()["entries"] == 4
    assert ConsentEntry.objects.filter(batch=done.json()["batch"]).count() == 4

    bad = client.post(
        "/api/v1/consent/imports",
        {
            "file": _upload([f"{NPI},,,{PHONE},fax,podcast,grant,verbal,2025-03-01T10:00Z,,,,,,,"]),
            "dry_run": "false",
        },
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["code"] == "import_refused"
    assert body["errors"] == [
        {"row": 2, "column": "channel", "message": "expected sms, voice, email"}
    ]
    assert ConsentEntry.objects.count() == 4


@pytest.mark.parametrize("role", [Role.ANALYST, Role.MARKETER, Role.COMPLIANCE])
def test_api_import_is_refused_without_capture(
    api: Callable[[Role], Client], role: Role, programs: dict[str, Program]
) -> None:
    response = api(role).post("/api/v1/consent/imports", {"file": _upload([])})
    assert response.status_code == 403


def test_console_import_page(
    signed_in: Callable[[Role], Client],
    doctor: Contact,
    patient: Contact,
    programs: dict[str, Program],
) -> None:
    for role in Role:
        expected = 200 if Capability.CAPTURE_CONSENT in MATRIX[role] else 403
        assert signed_in(role).get("/consent/import/").status_code == expected, role
    client = signed_in(Role.CARE_COORDINATOR)
    page = client.get("/consent/import/").content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert "<code>signature_file</code>" in page

    checked = client.post("/consent/import/", {"file": _upload(_good(doctor)), "dry_run": "1"})
    assert checked.status_code == 200
    assert "4 rows checked: all valid. Nothing was written" in checked.content.decode()
    assert not ConsentEntry.objects.exists()

    bad_row = f"{NPI},,,{PHONE},sms,promo,grant,import,2025-03-01T10:00:00Z,,v1,,,,,"
    refused = client.post("/consent/import/", {"file": _upload([bad_row]), "dry_run": "0"})
    assert refused.status_code == 400
    html = refused.content.decode()
    assert "Nothing was imported: 1 problem." in html
    assert "<td>2</td><td>evidence</td>" in html
    assert not ConsentEntry.objects.exists()

    done = client.post("/consent/import/", {"file": _upload(_good(doctor)), "dry_run": "0"})
    assert "Imported 4 rows: 4 ledger entries" in done.content.decode()
    assert ConsentEntry.objects.count() == 4
    assert client.post("/consent/import/", {"dry_run": "0"}).status_code == 400


def test_anonymous_cannot_import(client: Client, programs: dict[str, Program]) -> None:
    response = client.post("/consent/import/", {"file": _upload([])})
    assert response.status_code == 302
    assert response["Location"].startswith("/signin/")


# -- disconnected numbers ----------------------------------------------------------------------


def _grant(contact: Contact, program: Program, address: str, days_ago: int, **kw: object) -> None:
    consent_record(
        contact=contact,
        address=address,
        channels=kw.pop("channels", ["sms", "voice"]),  # type: ignore[arg-type]
        programs=[program],
        action="grant",
        method="verbal",
        actor=None,
        occurred_at=timezone.now() - timedelta(days=days_ago),
    )


def test_disconnect_file_voids_older_consents(
    doctor: Contact,
    patient: Contact,
    programs: dict[str, Program],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    podcast = programs["podcast"]
    _grant(doctor, podcast, PHONE, 400)
    _grant(patient, podcast, PATIENT_PHONE, 10)
    cut = (timezone.now() - timedelta(days=100)).date().isoformat()
    path = tmp_path / "disconnects.csv"
    path.write_text(f"number,date\n(415) 555-0101,{cut}\n{PATIENT_PHONE},{cut}\n")

    call_command("consent_disconnects", str(path), "--dry-run")
    assert "2 numbers; dry run: would void 2 consents, nothing changed" in capsys.readouterr().out
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed

    call_command("consent_disconnects", str(path))
    assert "2 numbers; voided 2 consents" in capsys.readouterr().out
    for channel in ("sms", "voice"):
        assert (
            consent_check(address=PHONE, channel=channel, program=podcast).reason
            == "consent_revoked"
        )
    assert consent_check(address=PATIENT_PHONE, channel="sms", program=podcast).allowed
    voids = ConsentEntry.objects.filter(method="reassigned")
    assert {(e.channel, e.contact_id) for e in voids} == {("sms", doctor.pk), ("voice", doctor.pk)}
    assert all(e.evidence["disconnected_at"].startswith(cut) for e in voids)
    assert _live() == _replayed()

    call_command("consent_disconnects", str(path))  # a second run voids nothing more
    assert "voided 0 consents" in capsys.readouterr().out


def test_disconnect_file_with_a_bad_row_voids_nothing(
    doctor: Contact,
    programs: dict[str, Program],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _grant(doctor, programs["podcast"], PHONE, 400)
    path = tmp_path / "disconnects.csv"
    path.write_text(f"{PHONE},2025-01-01\n12,2025-01-01\n{PHONE},01/02/2025\n{PHONE}\n")
    with pytest.raises(SystemExit) as exited:
        call_command("consent_disconnects", str(path))
    assert exited.value.code == 2
    assert capsys.readouterr().out.splitlines() == [
        'row 2, column "number": "12" too short for its country',
        'row 3, column "date": "01/02/2025" expected a date like 2025-06-01',
        "row 4: expected 2 fields (number,date), found 1",
    ]
    assert consent_check(address=PHONE, channel="sms", program=programs["podcast"]).allowed
    assert not ConsentEntry.objects.filter(method="reassigned").exists()


def test_disconnects_need_manage_programs(users: dict[Role, User]) -> None:
    with pytest.raises(PermissionDeniedError):
        consent_disconnects_import(
            file=io.BytesIO(b"+14155550101,2025-01-01\n"), actor=users[Role.FIELD_REP]
        )


def test_void_uses_the_first_disconnection_after_the_grant(
    doctor: Contact, programs: dict[str, Program]
) -> None:
    podcast = programs["podcast"]
    _grant(doctor, podcast, PHONE, 50, channels=["sms"])
    now = timezone.now()
    before, after, latest = (now - timedelta(days=d) for d in (90, 30, 5))
    voided = consent_void_reassigned(
        disconnects=[(PHONE, latest), (PHONE, before), (PHONE, after)], actor=None
    )
    assert voided == 1
    entry = ConsentEntry.objects.get(method="reassigned")
    assert entry.occurred_at == after
    assert AuditEntry.objects.filter(note__contains="revoke by reassigned: 1 entries").exists()


def test_void_keeps_a_later_act_in_order(doctor: Contact, programs: dict[str, Program]) -> None:
    """A pending sign-up after the disconnection comes after the void in the replay."""
    podcast = programs["podcast"]
    _grant(doctor, podcast, PHONE, 50, channels=["sms"])
    consent_record(
        contact=doctor,
        address=PHONE,
        channels=["sms"],
        programs=[podcast],
        action="pending",
        method="keyword",
        actor=None,
        occurred_at=timezone.now() - timedelta(days=1),
    )
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed
    consent_void_reassigned(disconnects=[(PHONE, timezone.now() - timedelta(days=10))], actor=None)
    assert _live() == _replayed()
    assert consent_check(address=PHONE, channel="sms", program=podcast).reason == "consent_pending"


class VoidReplayProperty(HypothesisTestCase):
    """After any history and any disconnect report, the state table equals a replay."""

    STEP = st.tuples(
        st.sampled_from(["grant", "pending", "revoke", "revoke_all"]),
        st.sampled_from(["sms", "voice"]),
        st.integers(min_value=0, max_value=1),
        st.integers(min_value=0, max_value=60),
    )

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(STEP, min_size=1, max_size=10),
        st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=3),
    )
    def test_state_equals_replay_after_voiding(
        self, steps: list[tuple[str, str, int, int]], cuts: list[int]
    ) -> None:
        person = audience.contact(kind="hcp", last_name="P", phone=PHONE)
        programs = [factories.program(f"p{i}") for i in range(2)]
        now = timezone.now()
        for action, channel, which, days_ago in steps:
            consent_record(
                contact=person,
                address=PHONE,
                channels=[channel],
                programs=[None if action == "revoke_all" else programs[which]],
                action="revoke" if action == "revoke_all" else action,
                method="verbal",
                actor=None,
                occurred_at=now - timedelta(days=days_ago),
            )
        granted_before = {k: v for k, v in _live().items() if v[0] == "granted"}
        voided = consent_void_reassigned(
            disconnects=[(PHONE, now - timedelta(days=d)) for d in cuts], actor=None
        )
        assert _live() == _replayed()
        latest = max(now - timedelta(days=d) for d in cuts)
        should = [k for k, v in granted_before.items() if v[1] < latest]  # type: ignore[operator]
        assert voided == len(should)
        for key in should:
            assert ConsentState.objects.get(
                address=key[0], channel=key[1], program_id=key[2]
            ).status in {"revoked", "pending"}  # pending: a later sign-up, replayed after
