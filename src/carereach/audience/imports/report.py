"""What an import tells its user: counts, problems, merges and conflicts, and the error CSV.

The report is stored as JSON on the import and shown by the CLI, the API and the console. It
keeps the first 1,000 problems, merges and conflicts (the counts are always complete) and
never holds the value of a PHI field. The error CSV holds every bad row as given (PHI
included: it is for fixing the rows and importing them again) plus `row` and `errors`.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from carereach.audience.imports.batch import BatchPlan, RowProblem
from carereach.audience.imports.mapping import ColumnPlan
from carereach.audience.imports.reading import SourceRow

REPORT_LIMIT = 1000
ROW_NUMBERS = "spreadsheet rows: the header is row 1, the first data row is row 2"


def problem_line(problem: dict[str, Any]) -> str:
    """`row 17, column "Phone": bad phone "12" (too short)`: one problem for a person."""
    label = str(problem["field"]).removeprefix("custom.").replace("_", " ")
    label = {"npi": "NPI", "mrn": "MRN"}.get(label, label)
    value = f' "{problem["value"]}"' if problem["value"] else ""
    return (
        f'row {problem["row"]}, column "{problem["column"]}": '
        f"bad {label}{value} ({problem['reason']})"
    )


class ImportReport:
    def __init__(self, *, columns: ColumnPlan, dry_run: bool) -> None:
        self.columns = columns
        self.dry_run = dry_run
        self.rows = self.valid_rows = self.error_rows = 0
        self.created_rows = self.merged_rows = 0
        self.problem_count = self.conflict_count = 0
        self.merged_by: Counter[str] = Counter()
        self.problems: list[dict[str, Any]] = []
        self.merges: list[dict[str, Any]] = []
        self.conflicts: list[dict[str, Any]] = []

    def add(self, plan: BatchPlan) -> None:
        """Count a batch; call it after the batch is written so new contacts have their ids."""
        self.rows += plan.size
        self.error_rows += len(plan.bad)
        self.valid_rows += plan.size - len(plan.bad)
        self.created_rows += plan.created_rows
        self.merged_rows += plan.merged_rows
        for _, problems in plan.bad:
            self.problem_count += len(problems)
            room = REPORT_LIMIT - len(self.problems)
            self.problems.extend(_problem(p) for p in problems[: max(room, 0)])
        for merge in plan.merges:
            self.merged_by[merge.key] += 1
            if len(self.merges) < REPORT_LIMIT:
                entry: dict[str, Any] = {
                    "row": merge.row,
                    "contact_id": merge.target.contact_id,
                    "key": merge.key,
                }
                if merge.target.origin_row:
                    entry["created_by_row"] = merge.target.origin_row
                self.merges.append(entry)
        self.conflict_count += len(plan.conflicts)
        for conflict in plan.conflicts[: max(REPORT_LIMIT - len(self.conflicts), 0)]:
            entry = {
                "row": conflict.row,
                "contact_id": conflict.target.contact_id,
                "column": conflict.column,
                "field": conflict.field,
                "value": conflict.value,
                "reason": conflict.reason,
            }
            if conflict.target.origin_row:
                entry["created_by_row"] = conflict.target.origin_row
            self.conflicts.append(entry)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid_rows": self.valid_rows,
            "error_rows": self.error_rows,
            "problems": self.problem_count,
            "created": self.created_rows,
            "merged": self.merged_rows,
            "merged_by": {key: self.merged_by[key] for key in ("npi", "mrn", "phone", "email")},
            "conflicts": self.conflict_count,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "row_numbers": ROW_NUMBERS,
            "summary": self.summary(),
            "mapping": self.columns.mapping,
            "unmapped_columns": list(self.columns.unmapped),
            "problems": self.problems,
            "problems_truncated": self.problem_count > len(self.problems),
            "merges": self.merges,
            "conflicts": self.conflicts,
        }


def _problem(problem: RowProblem) -> dict[str, Any]:
    return {
        "row": problem.row,
        "column": problem.column,
        "field": problem.field,
        "value": problem.value,
        "reason": problem.reason,
    }


class ErrorFile:
    """The bad rows with their original cells, then `row` and `errors`; opened on first use."""

    def __init__(self, path: Path, header: tuple[str, ...]) -> None:
        self.path = path
        taken = {name.casefold() for name in header}
        extra = [name if name not in taken else f"import {name}" for name in ("row", "errors")]
        self.header = [*header, *extra]
        self.rows = 0
        self._file: TextIO | None = None
        self._writer: Any = None

    def add(self, bad: list[tuple[SourceRow, list[RowProblem]]]) -> None:
        if not bad:
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.path.unlink(missing_ok=True)
            self.path.touch(mode=0o600)
            self._file = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = csv.writer(self._file)
            self._writer.writerow(self.header)
        for (number, cells), problems in bad:
            errors = "; ".join(f"{p.column}: {p.reason}" for p in problems)
            self._writer.writerow([*cells, number, errors])
            self.rows += 1

    def close(self) -> bool:
        """Close the file; True when it holds at least one row."""
        if self._file is not None:
            self._file.close()
            self._file = None
        return self.rows > 0
