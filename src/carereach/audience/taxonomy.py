"""The NUCC Health Care Provider Taxonomy: the specialty vocabulary for HCPs.

The official code set ships as a CSV beside this module (`data/nucc_taxonomy_<version>.csv`,
provenance in `data/README.md`), so validating a specialty needs neither the network nor the
database. `taxonomy_parse` is the one reader of that format: the loader below uses it, and so
will `carereach taxonomy load FILE` when a newer release is dropped in.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TextIO

from carereach.errors import ConfigError, ValidationError

SYSTEM = "http://nucc.org/provider-taxonomy"  # FHIR code system URI

_CODE = re.compile(r"[0-9A-Z]{9}X")  # 10 characters; NUCC codes always end in X
_FILE_NAME = re.compile(r"nucc_taxonomy_(\d+)(\d)\.csv")  # 251 -> release 25.1
_REQUIRED = ("code", "grouping", "classification", "specialization")
_OPTIONAL = ("display name", "section")  # added by NUCC in later releases; older files lack them


@dataclass(frozen=True, slots=True)
class TaxonomyEntry:
    """One taxonomy code and the three levels that name it (definitions are not kept)."""

    code: str  # 207Q00000X
    grouping: str  # level I: Allopathic & Osteopathic Physicians
    classification: str  # level II: Family Medicine
    specialization: str  # level III, "" at the classification level: Geriatric Medicine
    display_name: str  # NUCC's own label: Geriatric Medicine (Family Medicine) Physician
    section: str = ""  # Individual or Non-Individual; "" in files before the column existed


def taxonomy_parse(file: TextIO) -> Iterator[TaxonomyEntry]:
    """Stream entries from a NUCC taxonomy CSV, raising on the first malformed row.

    Columns are found by header name (any order, any case, extra columns ignored), so files
    from older and newer releases read alike. Rows are numbered as a spreadsheet shows them:
    the header is row 1. Open the file with `newline=""` so quoted line breaks survive.
    """
    reader = csv.reader(file, strict=True)  # a stray quote is an error, not part of a cell
    row_number = 1
    try:
        header = next(reader, None)
        if header is None:
            raise ValidationError("taxonomy file is empty", field="file")
        names = [name.strip().lstrip("\ufeff").lower() for name in header]
        missing = [name for name in _REQUIRED if name not in names]
        if missing:
            raise ValidationError(
                f"row 1: missing column {', '.join(missing)} (is this a NUCC taxonomy CSV?)",
                field="file",
            )
        index = {name: names.index(name) for name in (*_REQUIRED, *_OPTIONAL) if name in names}
        seen: set[str] = set()
        for row in reader:
            row_number += 1
            if not any(cell.strip() for cell in row):
                continue
            entry = _entry(row, index, header_width=len(header), row_number=row_number)
            if entry.code in seen:
                raise ValidationError(
                    f"row {row_number}: duplicate code {entry.code}", field="file"
                )
            seen.add(entry.code)
            yield entry
    except csv.Error as error:
        raise ValidationError(
            f"row {row_number + 1}: not valid CSV ({error})", field="file"
        ) from None


def _entry(
    row: list[str], index: dict[str, int], *, header_width: int, row_number: int
) -> TaxonomyEntry:
    def fail(reason: str) -> ValidationError:
        return ValidationError(f"row {row_number}: {reason}", field="file")

    if len(row) != header_width:
        raise fail(f"expected {header_width} columns, found {len(row)}")
    cell = {name: row[position].strip() for name, position in index.items()}
    code = cell["code"].upper()
    if not _CODE.fullmatch(code):
        raise fail(f"code {cell['code'][:20]!r} is not a 10-character taxonomy code ending in X")
    for level in ("grouping", "classification"):
        if not cell[level]:
            raise fail(f"code {code} has no {level}")
    specialization = cell["specialization"]
    display_name = cell.get("display name") or (
        f"{specialization} ({cell['classification']})" if specialization else cell["classification"]
    )
    return TaxonomyEntry(
        code=code,
        grouping=cell["grouping"],
        classification=cell["classification"],
        specialization=specialization,
        display_name=display_name,
        section=cell.get("section", ""),
    )


# --- The shipped release -------------------------------------------------------------------------


@cache
def _shipped() -> tuple[str, dict[str, TaxonomyEntry]]:
    """(version, entries by code) of the newest release in data/; read once per process."""
    folder = resources.files("carereach.audience") / "data"
    releases = []
    for item in folder.iterdir():
        match = _FILE_NAME.fullmatch(item.name)
        if match:
            releases.append(((int(match[1]), int(match[2])), item))
    if not releases:
        raise ConfigError(
            "the shipped NUCC taxonomy (audience/data/nucc_taxonomy_*.csv) is missing"
        )
    (major, minor), newest = max(releases, key=lambda release: release[0])
    with io.TextIOWrapper(newest.open("rb"), encoding="utf-8-sig", newline="") as file:
        entries = {entry.code: entry for entry in taxonomy_parse(file)}
    return f"{major}.{minor}", entries


def taxonomy_version() -> str:
    """The NUCC release shipped with this build, e.g. "25.1" (FHIR Coding.version)."""
    return _shipped()[0]


@cache
def taxonomy_codes() -> frozenset[str]:
    """Every code in the shipped release, for membership checks on import."""
    return frozenset(_shipped()[1])


def taxonomy_entries() -> tuple[TaxonomyEntry, ...]:
    """All entries in the shipped file's order (grouped by NUCC), for pickers and exports."""
    return tuple(_shipped()[1].values())


def taxonomy_lookup(code: str) -> TaxonomyEntry | None:
    """The entry for a code (case and surrounding space ignored), or None if NUCC has none."""
    return _shipped()[1].get(code.strip().upper())
