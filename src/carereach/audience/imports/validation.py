"""The field rules for a batch of CSV rows, as plain data.

`check_rows` runs `drafts.contact_draft` on each row and touches no database, no Django model
and no shared state, so it runs on a thread or in a second process (`workers`). Planning turns
its output into `batch.PlannedRow` and `batch.RowProblem`.

A run that writes also gives it a `PhiSealer`: the PHI of each accepted patient or caregiver
row is encrypted (and the MRN's blind index computed) where the row is validated, so for a
large file that work runs on the second core too. The writer uses those values unless a later
row of the batch changed the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carereach.audience.drafts import PHI_FIELDS, ContactDraft, contact_draft
from carereach.audience.imports.reading import SourceRow
from carereach.security.crypto import keyring_for, normalize_for_index

CELL_SEPARATOR = "\x00"  # never in a stored file: the upload refuses NUL bytes
# A problem as the field rules report it: (field, value shown, reason). PHI values are blank.
Finding = tuple[str, str, str]
# An accepted row's PHI, encrypted: a patient's (first name, last name, birth date, MRN, the
# MRN's blind index under every key, newest first); a caregiver's (first name, last name).
Sealed = tuple[Any, ...]
# The PHI fields `PhiSealer` encrypts, by kind, in the order of `Sealed`.
SEALED_FIELDS = {
    "patient": ("first_name", "last_name", "date_of_birth", "mrn"),
    "caregiver": ("first_name", "last_name"),
}


@dataclass
class Checked:
    """A batch after the field rules."""

    size: int  # rows in the batch
    # (row, cells, draft, sealed PHI) of the accepted rows; from the validating process the
    # cells come joined by CELL_SEPARATOR (one string pickles far cheaper than a list of them).
    valid: list[tuple[int, list[str] | str, ContactDraft, Sealed | None]] = field(
        default_factory=list
    )
    # (row, cells, findings, territory code) of the rows the rules refused; the territory code
    # is checked later with the valid rows' codes, so one pass reports every problem of a row.
    refused: list[tuple[int, list[str], list[Finding], str]] = field(default_factory=list)


class PhiSealer:
    """Encrypts a row's PHI as `EncryptedTextField` would: the same keys (`masters`, the
    CARE_FIELD_KEYS in force, newest first) and each column's context (`contexts`, by kind and
    field name). Plain data both, so a second process can build its own."""

    def __init__(self, masters: tuple[bytes, ...], contexts: Mapping[str, Mapping[str, str]]):
        self.masters = masters
        self.contexts = {kind: dict(names) for kind, names in contexts.items()}
        self._ring = keyring_for(masters)

    def __reduce__(self) -> tuple[type[PhiSealer], tuple[object, ...]]:
        return PhiSealer, (self.masters, self.contexts)

    def seal(self, draft: ContactDraft) -> Sealed | None:
        names = SEALED_FIELDS.get(draft.kind)
        if names is None:
            return None
        contexts = self.contexts[draft.kind]
        encrypt = self._ring.encrypt
        sealed = [
            encrypt(value, context=contexts[name]) if (value := getattr(draft, name)) else None
            for name in names
        ]
        if draft.kind == "caregiver":
            return (sealed[0], sealed[1])
        mrn = draft.mrn
        hashes = tuple(self._ring.blind_index_candidates(normalize_for_index(mrn))) if mrn else ()
        return (sealed[0], sealed[1], sealed[2], sealed[3], hashes)


def check_rows(
    rows: list[SourceRow],
    columns: tuple[tuple[int, str], ...],
    sealer: PhiSealer | None = None,
) -> Checked:
    """`contact_draft` for each row; `columns` maps cell indexes to canonical fields."""
    checked = Checked(size=len(rows))
    valid, refused = checked.valid, checked.refused
    seal = sealer.seal if sealer is not None else None
    for number, cells in rows:
        fields = {name: cells[index] for index, name in columns}
        draft, found = contact_draft(fields)
        if draft is None:
            findings = [
                (p.field, "" if p.field in PHI_FIELDS else p.value, p.reason) for p in found
            ]
            refused.append((number, cells, findings, (fields.get("territory") or "").strip()))
        else:
            valid.append((number, cells, draft, seal(draft) if seal is not None else None))
    return checked
