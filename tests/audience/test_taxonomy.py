"""The shipped NUCC taxonomy and the CSV reader a `taxonomy load` command will share."""

from __future__ import annotations

import io
import re
from importlib import resources

import pytest

from carereach.audience.taxonomy import (
    SYSTEM,
    TaxonomyEntry,
    taxonomy_codes,
    taxonomy_entries,
    taxonomy_lookup,
    taxonomy_parse,
    taxonomy_version,
)
from carereach.errors import ValidationError

HEADER = "Code,Grouping,Classification,Specialization,Definition,Notes,Display Name,Section\r\n"


def _parse(text: str) -> list[TaxonomyEntry]:
    return list(taxonomy_parse(io.StringIO(text, newline="")))


# --- The shipped release -------------------------------------------------------------------------


def test_version_comes_from_the_shipped_file() -> None:
    assert taxonomy_version() == "25.1"
    names = [item.name for item in (resources.files("carereach.audience") / "data").iterdir()]
    assert "nucc_taxonomy_251.csv" in names
    assert SYSTEM == "http://nucc.org/provider-taxonomy"


def test_shipped_release_is_complete() -> None:
    codes = taxonomy_codes()
    assert isinstance(codes, frozenset)
    assert len(codes) == 883
    assert all(re.fullmatch(r"[0-9A-Z]{9}X", code) for code in codes)
    entries = taxonomy_entries()
    assert len(entries) == len(codes)
    assert {entry.section for entry in entries} == {"Individual", "Non-Individual"}
    assert all(entry.grouping and entry.classification and entry.display_name for entry in entries)


def test_codes_are_cached() -> None:
    assert taxonomy_codes() is taxonomy_codes()


@pytest.mark.parametrize(
    ("code", "classification", "specialization"),
    [
        # The specialties DOMAIN.md section 5 names.
        ("208000000X", "Pediatrics", ""),
        ("207Q00000X", "Family Medicine", ""),
        ("207QG0300X", "Family Medicine", "Geriatric Medicine"),
        ("207RG0300X", "Internal Medicine", "Geriatric Medicine"),
        ("207RC0000X", "Internal Medicine", "Cardiovascular Disease"),
        ("207RX0202X", "Internal Medicine", "Medical Oncology"),
        ("207RH0003X", "Internal Medicine", "Hematology & Oncology"),
    ],
)
def test_domain_specialties_are_present(
    code: str, classification: str, specialization: str
) -> None:
    assert code in taxonomy_codes()
    entry = taxonomy_lookup(code)
    assert entry is not None
    assert entry.grouping == "Allopathic & Osteopathic Physicians"
    assert entry.classification == classification
    assert entry.specialization == specialization
    assert entry.section == "Individual"


def test_lookup_details() -> None:
    assert taxonomy_lookup(" 207qg0300x ") == TaxonomyEntry(
        code="207QG0300X",
        grouping="Allopathic & Osteopathic Physicians",
        classification="Family Medicine",
        specialization="Geriatric Medicine",
        display_name="Geriatric Medicine (Family Medicine) Physician",
        section="Individual",
    )
    pharmacy = taxonomy_lookup("333600000X")
    assert pharmacy is not None
    assert (pharmacy.grouping, pharmacy.section) == ("Suppliers", "Non-Individual")
    # Quoted cells with commas survive, and cell padding is trimmed.
    endocrinology = taxonomy_lookup("207RE0101X")
    assert endocrinology is not None
    assert endocrinology.specialization == "Endocrinology, Diabetes & Metabolism"
    padded = taxonomy_lookup("1744P3200X")
    assert padded is not None
    assert padded.display_name == "Prosthetics Case Management"


@pytest.mark.parametrize("code", ["207Q0000X", "999999999X", "", "207Q00000Y"])
def test_lookup_unknown(code: str) -> None:
    assert taxonomy_lookup(code) is None
    assert code not in taxonomy_codes()


# --- taxonomy_parse ------------------------------------------------------------------------------


def test_parse_streams_entries() -> None:
    text = (
        "\ufeff"
        + HEADER
        + '207Q00000X,Allopathic & Osteopathic Physicians,Family Medicine,,"Line one\r\nline two,'
        ' with a comma",,Family Medicine Physician,Individual\r\n'
        "\r\n"
        "207qg0300x , Allopathic & Osteopathic Physicians,Family Medicine,Geriatric Medicine,,,"
        "Geriatric Medicine (Family Medicine) Physician,Individual\r\n"
    )
    entries = taxonomy_parse(io.StringIO(text, newline=""))
    first = next(entries)
    assert first.code == "207Q00000X"
    assert first.display_name == "Family Medicine Physician"
    second = next(entries)
    assert second.code == "207QG0300X"
    assert second.grouping == "Allopathic & Osteopathic Physicians"
    assert list(entries) == []


def test_parse_reads_older_layouts_by_header_name() -> None:
    # Releases before "Display Name" and "Section" existed; columns in another order.
    text = (
        "Grouping,Code,Classification,Specialization,Definition\n"
        "Allopathic & Osteopathic Physicians,207RC0000X,Internal Medicine,"
        "Cardiovascular Disease,An internist...\n"
        "Allopathic & Osteopathic Physicians,207R00000X,Internal Medicine,,\n"
    )
    first, second = _parse(text)
    assert first.code == "207RC0000X"
    assert first.display_name == "Cardiovascular Disease (Internal Medicine)"
    assert first.section == ""
    assert second.display_name == "Internal Medicine"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "taxonomy file is empty"),
        ("Code,Name\r\n207Q00000X,Family\r\n", "row 1: missing column grouping, classification"),
        (
            HEADER + "207Q00000X,Allopathic,Family Medicine\r\n",
            "row 2: expected 8 columns, found 3",
        ),
        (
            HEADER + "207Q00000X,A,B,,,,D,Individual,extra\r\n",
            "row 2: expected 8 columns, found 9",
        ),
        (
            HEADER + "207Q0000X,A,B,,,,D,Individual\r\n",
            "row 2: code '207Q0000X' is not a 10-character",
        ),
        (HEADER + "207Q00000X,,B,,,,D,Individual\r\n", "row 2: code 207Q00000X has no grouping"),
        (
            HEADER + "207Q00000X,A,,,,,D,Individual\r\n",
            "row 2: code 207Q00000X has no classification",
        ),
        (
            HEADER + "207Q00000X,A,B,,,,D,Individual\r\n\r\n207Q00000X,A,B,,,,D,Individual\r\n",
            "row 4: duplicate code 207Q00000X",
        ),
        (HEADER + '207Q00000X,A,B,,"unterminated\r\n', "row 2: not valid CSV"),
        (HEADER + '207Q00000X,A,B,"x"y,,,D,Individual\r\n', "row 2: not valid CSV"),
    ],
)
def test_parse_refuses_malformed_rows(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _parse(text)
    assert caught.value.message.startswith(message)
    assert caught.value.field == "file"


def test_parse_stops_at_the_first_bad_row() -> None:
    text = HEADER + "207Q00000X,A,B,,,,D,Individual\r\nbad,A,B,,,,D,Individual\r\n"
    entries = taxonomy_parse(io.StringIO(text, newline=""))
    assert next(entries).code == "207Q00000X"
    with pytest.raises(ValidationError, match="row 3"):
        next(entries)
