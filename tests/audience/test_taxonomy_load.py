"""The shipped NUCC list is loaded by migration; `carereach taxonomy load` updates it."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from carereach.audience.models import Specialty
from carereach.audience.taxonomy import taxonomy_codes, taxonomy_version

pytestmark = pytest.mark.django_db

HEADER = "Code,Grouping,Classification,Specialization,Definition,Notes,Display Name,Section\r\n"


def test_migration_loaded_the_shipped_list() -> None:
    assert Specialty.objects.count() == len(taxonomy_codes())
    pediatrics = Specialty.objects.get(code="208000000X")
    assert pediatrics.classification == "Pediatrics"
    assert pediatrics.version == taxonomy_version()


def test_load_command_adds_and_updates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nucc_taxonomy_260.csv"
    path.write_text(
        HEADER
        + "208000000X,Allopathic & Osteopathic Physicians,Pediatrics,,,,Pediatrics Physician,"
        "Individual\r\n"
        + "209Z00000X,Allopathic & Osteopathic Physicians,Future Medicine,,,,Future Physician,"
        "Individual\r\n",
        encoding="utf-8",
    )
    call_command("taxonomy", "load", str(path))
    assert "taxonomy 260: 1 codes added, 1 updated" in capsys.readouterr().out
    assert Specialty.objects.get(code="209Z00000X").version == "260"
    assert Specialty.objects.get(code="208000000X").display_name == "Pediatrics Physician"


def test_load_command_refuses_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nucc_taxonomy_260.csv"
    path.write_text(HEADER + "BAD,,,,,,,\r\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_info:
        call_command("taxonomy", "load", str(path))
    assert exit_info.value.code == 2
    assert "row 2" in capsys.readouterr().err
    assert not Specialty.objects.filter(code="BAD").exists()
