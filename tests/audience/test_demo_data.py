"""The demo audience: every row valid and fictitious, deterministic, streamed, loaded once."""

from __future__ import annotations

import csv
import os
import re
import tracemalloc
from collections import Counter
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from carereach.audience.demo import (
    DEMO_FIELDS,
    DEMO_TERRITORIES,
    REP_TERRITORIES,
    demo_audience_seed,
    demo_csv_write,
    demo_rows,
    demo_specialty_codes,
    states,
)
from carereach.audience.drafts import KNOWN_FIELDS, contact_draft
from carereach.audience.identifiers import npi_check, phone_normalize
from carereach.audience.models import CaregiverLink, Contact, Email, Phone, Territory
from carereach.audience.selectors import contacts_for_user
from carereach.audience.taxonomy import taxonomy_codes
from carereach.security.roles import Role

FICTITIOUS_PHONE = re.compile(r"\+1[2-9]\d{2}55501\d{2}")
RESERVED_DOMAINS = ("@example.com", "@example.org", "@example.net")


def rows(count: int = 2000, seed: int = 7) -> list[dict[str, str]]:
    return list(
        demo_rows(hcps=count * 2 // 5, patients=count // 2, caregivers=count // 10, seed=seed)
    )


def test_every_field_is_one_the_importer_knows() -> None:
    for name in DEMO_FIELDS:
        assert name in KNOWN_FIELDS or name.startswith("custom."), name


def test_every_row_validates_without_a_problem() -> None:
    kinds: Counter[str] = Counter()
    for row in rows():
        draft, problems = contact_draft(row)
        assert problems == [], (row["external_id"], problems)
        assert draft is not None
        kinds[draft.kind] += 1
        assert draft.postal is not None
        assert draft.time_zone, row["external_id"]
        assert draft.phones or draft.emails, row["external_id"]
    assert kinds == {"hcp": 800, "patient": 1000, "caregiver": 200}


def test_npis_have_a_valid_check_digit_and_never_repeat() -> None:
    npis = [row["npi"] for row in rows() if row["kind"] == "hcp"]
    assert all(npi_check(npi) == npi and npi.startswith("1") for npi in npis)
    assert len(set(npis)) == len(npis)
    assert not any(row["npi"] for row in rows() if row["kind"] != "hcp")


def test_phones_are_in_the_fictitious_555_01xx_block_and_a_contact_has_each_once() -> None:
    seen: dict[str, set[str]] = {}
    for row in rows():
        own = [phone_normalize(row[name]) for name in ("phone", "phone2") if row[name]]
        for phone in own:
            assert FICTITIOUS_PHONE.fullmatch(phone.e164), phone.e164
            assert phone.region == "US"
            seen.setdefault(row["kind"], set()).add(phone.e164)
        assert len({phone.e164 for phone in own}) == len(own)
    per_kind = Counter(
        phone_normalize(row[name]).e164
        for row in rows()
        for name in ("phone", "phone2")
        if row[name] and row["kind"] == "patient"
    )
    assert max(per_kind.values()) == 1  # unique within a kind while the pool lasts


def test_every_area_code_is_a_real_us_code_of_its_state() -> None:
    table = states()
    assert len(table) == 51
    for state in table:
        for code in state.area_codes:
            phone = phone_normalize(f"+1{code}5550100")
            assert phone.region == "US", (state.code, code)
        assert all(place.zone for place in state.places), state.code
    members = [code for territory in DEMO_TERRITORIES for code in territory.states]
    assert sorted(members) == sorted(state.code for state in table)


def test_emails_use_only_reserved_domains_and_never_repeat() -> None:
    emails = [row[name].lower() for row in rows() for name in ("email", "email2") if row[name]]
    assert emails
    assert all(email.endswith(RESERVED_DOMAINS) for email in emails)
    assert len(set(emails)) == len(emails)


def test_specialties_come_from_the_shipped_taxonomy() -> None:
    assert demo_specialty_codes() <= taxonomy_codes()
    used = Counter(row["specialties"].split(";")[0] for row in rows() if row["kind"] == "hcp")
    assert len(used) >= 15
    assert used.most_common(2)[0][0] in {"207Q00000X", "207R00000X"}


def test_patients_have_personas_languages_birth_dates_and_record_numbers() -> None:
    patients = [row for row in rows() if row["kind"] == "patient"]
    languages = Counter(row["language"] for row in patients)
    assert 0.14 < languages["es"] / len(patients) < 0.26
    assert {"en", "es", "vi", "zh"} <= set(languages)
    assert len({row["persona"] for row in patients}) >= 6
    assert all(row["date_of_birth"] and row["mrn"] for row in patients)
    assert len({row["mrn"] for row in patients}) == len(patients)
    assert any(row["large_print"] for row in patients)


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    assert rows(500, seed=3) == rows(500, seed=3)
    assert rows(500, seed=3) != rows(500, seed=4)


def test_a_kind_s_first_rows_do_not_depend_on_how_many_are_asked_for() -> None:
    few = list(demo_rows(hcps=50, patients=50, seed=5))
    many = list(demo_rows(hcps=120, patients=80, caregivers=10, seed=5))
    assert few[:50] == many[:50]
    assert few[50:] == many[120:170]


def _peak_writing(count: int) -> int:
    """Peak traced memory while `count` rows are generated and written (to /dev/null)."""
    with open(os.devnull, "w", encoding="utf-8", newline="") as sink:
        tracemalloc.start()
        try:
            rows = demo_rows(hcps=count * 3 // 10, patients=count * 6 // 10, caregivers=count // 10)
            summary = demo_csv_write(sink, rows)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert summary.rows == count
    return peak


def test_writing_rows_keeps_memory_flat() -> None:
    # Keeping as little as 150 bytes per row would pass 1.5 MiB here (the peak is ~0.3 MiB).
    peak = _peak_writing(10_000)
    assert peak < 1.5 * 2**20, f"peak {peak / 2**20:.1f} MiB"


@pytest.mark.slow  # tracemalloc slows allocation-heavy code ~10x: 30-80 s on 2 busy cores
def test_writing_200k_rows_stays_under_20_mib() -> None:
    peak = _peak_writing(200_000)
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_csv_has_the_header_and_one_line_per_row() -> None:
    out = StringIO(newline="")
    summary = demo_csv_write(out, demo_rows(hcps=30, patients=20, caregivers=5))
    lines = list(csv.reader(StringIO(out.getvalue(), newline="")))
    assert tuple(lines[0]) == DEMO_FIELDS
    assert len(lines) == 56
    assert summary.kinds == {"hcp": 30, "patient": 20, "caregiver": 5}
    assert summary.territories <= {territory.code for territory in DEMO_TERRITORIES}


# --- Loading through the import pipeline ----------------------------------------------------------


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, "admin")


def _run(*args: str) -> str:
    out = StringIO()
    call_command("demo_data", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.usefixtures("var_dir", "admin")
def test_command_loads_every_row_once_and_a_rerun_adds_nothing() -> None:
    args = ("--hcps", "40", "--patients", "50", "--caregivers", "10", "--seed", "11")
    first = _run(*args)
    assert "100 created" in first
    assert "0 errors" in first
    assert Contact.objects.count() == 100
    assert Counter(Contact.objects.values_list("kind", flat=True)) == {
        "hcp": 40,
        "patient": 50,
        "caregiver": 10,
    }
    assert not Contact.objects.filter(kind="hcp", territory__isnull=True).exists()
    links = CaregiverLink.objects.filter(patient__kind="patient", caregiver__kind="caregiver")
    assert links.count() == 10
    counts = (Phone.objects.count(), Email.objects.count(), Territory.objects.count())

    second = _run(*args)
    assert "0 created, 100 merged" in second
    assert Contact.objects.count() == 100
    assert (Phone.objects.count(), Email.objects.count(), Territory.objects.count()) == counts
    assert CaregiverLink.objects.count() == 10


@pytest.mark.django_db
@pytest.mark.usefixtures("admin")
def test_csv_only_writes_the_file_and_imports_nothing(tmp_path: Path) -> None:
    target = tmp_path / "demo.csv"
    output = _run("--hcps", "5", "--patients", "7", "--csv-only", str(target))
    assert "wrote 12 rows" in output
    with target.open(encoding="utf-8", newline="") as file:
        assert len(list(csv.reader(file))) == 13
    assert not Contact.objects.exists()


@pytest.mark.django_db
def test_command_without_an_importing_user_stops_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as stopped:
        call_command("demo_data", "--hcps", "1", "--patients", "1", "--user", "nobody")
    assert stopped.value.code == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("var_dir")
def test_demo_seeding_fills_an_empty_database_once_and_the_rep_sees_a_subset(
    make_user: Callable[..., User],
) -> None:
    admin, rep = make_user(Role.ADMIN, "admin"), make_user(Role.FIELD_REP, "rep")
    notes = demo_audience_seed(actor=admin, rep=rep)
    assert notes[0].startswith("demo data: 300 HCPs, 300 patients")
    total = Contact.objects.count()
    assert total == 660
    assert CaregiverLink.objects.count() == 60
    visible = contacts_for_user(user=rep)
    assert 0 < visible.count() < Contact.objects.filter(kind="hcp").count()
    assert set(visible.values_list("territory__code", flat=True)) <= set(REP_TERRITORIES)

    again = demo_audience_seed(actor=admin, rep=rep)
    assert len(again) == 1  # only the rep's territories
    assert Contact.objects.count() == total
    assert Territory.objects.get(code=REP_TERRITORIES[0]).reps.filter(pk=rep.pk).count() == 1
