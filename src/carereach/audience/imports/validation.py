"""The field rules for a batch of CSV rows, as plain data.

`check_rows` runs `drafts.contact_draft` on each row and touches no database, no Django model
and no shared state, so it runs on a thread or in a second process (`workers`). Planning turns
its output into `batch.PlannedRow` and `batch.RowProblem`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from carereach.audience.drafts import PHI_FIELDS, ContactDraft, contact_draft
from carereach.audience.imports.reading import SourceRow

# A problem as the field rules report it: (field, value shown, reason). PHI values are blank.
Finding = tuple[str, str, str]


@dataclass
class Checked:
    """A batch after the field rules."""

    size: int  # rows in the batch
    valid: list[tuple[int, list[str], ContactDraft]] = field(default_factory=list)
    # (row, cells, findings, territory code) of the rows the rules refused; the territory code
    # is checked later with the valid rows' codes, so one pass reports every problem of a row.
    refused: list[tuple[int, list[str], list[Finding], str]] = field(default_factory=list)


def check_rows(rows: list[SourceRow], columns: tuple[tuple[int, str], ...]) -> Checked:
    """`contact_draft` for each row; `columns` maps cell indexes to canonical fields."""
    checked = Checked(size=len(rows))
    valid, refused = checked.valid, checked.refused
    for number, cells in rows:
        fields = {name: cells[index] for index, name in columns}
        draft, found = contact_draft(fields)
        if draft is None:
            findings = [
                (p.field, "" if p.field in PHI_FIELDS else p.value, p.reason) for p in found
            ]
            refused.append((number, cells, findings, (fields.get("territory") or "").strip()))
        else:
            valid.append((number, cells, draft))
    return checked
