"""Reading CSV files of consent acts or disconnected numbers: rows, problems, refusals.

A file is read as a strict UTF-8 CSV stream (a byte-order mark is allowed), row by row, so
memory stays bounded whatever its size. Rows are spreadsheet rows: the header is row 1. Problems
name the row, the column and the reason; a value is echoed only for columns that cannot hold
PHI. At most `MAX_PROBLEMS` are kept; all are counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from django.utils import timezone

from carereach.errors import ValidationError

MAX_PROBLEMS = 200  # listed in the answer; every problem is counted
ENCODING = "utf-8-sig"


@dataclass(frozen=True)
class RowProblem:
    row: int  # spreadsheet row: the header is row 1
    column: str
    value: str  # "" when the column may hold PHI
    reason: str

    def line(self) -> str:
        where = f'row {self.row}, column "{self.column}"' if self.column else f"row {self.row}"
        shown = f' "{self.value}"' if self.value else ""
        return f"{where}:{shown} {self.reason}"

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "message": self.reason}


class ImportRefused(ValidationError):
    """Nothing was written: the file or some of its rows break a rule (`problems` say which)."""

    code = "import_refused"

    def __init__(self, problems: list[RowProblem], total: int, *, what: str = "") -> None:
        first = problems[0].line() if problems else ""
        noun = "problem" if total == 1 else "problems"
        super().__init__(f"Nothing imported{what}: {total} {noun}. First: {first}", field="file")
        self.problems = problems
        self.total = total

    def as_dict(self) -> dict[str, object]:
        data = super().as_dict()
        data["errors"] = [problem.as_dict() for problem in self.problems]
        data["error_count"] = self.total
        return data


class Problems:
    """The problems of one file; `shown`: the columns whose values may be echoed back."""

    def __init__(self, *, shown: frozenset[str]) -> None:
        self.kept: list[RowProblem] = []
        self.total = 0
        self.shown = shown

    def add(self, row: int, column: str, value: str, reason: str) -> None:
        self.total += 1
        if len(self.kept) < MAX_PROBLEMS:
            shown = value[:60] if column in self.shown else ""
            self.kept.append(RowProblem(row, column, shown, reason))

    def refuse(self, what: str = "") -> ImportRefused:
        kept = sorted(self.kept, key=lambda problem: problem.row)  # stable: a row's in order
        return ImportRefused(kept, self.total, what=what)


def text_stream(file: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(file, encoding=ENCODING, errors="strict", newline="")


def file_refused(reason: str) -> ImportRefused:
    return ImportRefused([RowProblem(1, "", "", reason)], 1)


def read_rows(file: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) for every row, header included; refuses what is not UTF-8 CSV."""
    reader = csv.reader(text_stream(file), strict=True)
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if any("\x00" in cell for cell in cells):
                raise file_refused(f"not CSV: binary content at row {number}")
            yield number, cells
    except UnicodeDecodeError:
        raise file_refused(
            f"the file is not UTF-8 text (near row {number + 1}): save it as “CSV UTF-8”"
        ) from None
    except csv.Error as error:
        raise file_refused(f"not CSV: {error} (line {reader.line_num})") from None


def blank(cells: list[str]) -> bool:
    return not cells or all(not cell.strip() for cell in cells)


def moment(value: str) -> datetime:
    """An ISO 8601 time with its offset (`2025-03-01T14:00:00-05:00`, or `…Z`)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("expected a time like 2025-03-01T14:00:00-05:00") from None
    if timezone.is_naive(moment):
        raise ValueError("give the time with its offset, e.g. 2025-03-01T14:00:00-05:00 or …Z")
    return moment


def problem_lines(error: ImportRefused) -> list[str]:
    """One line per problem kept, and how many more there were."""
    lines = [problem.line() for problem in error.problems]
    if error.total > len(error.problems):
        lines.append(f"… {error.total - len(error.problems)} more problems")
    return lines
