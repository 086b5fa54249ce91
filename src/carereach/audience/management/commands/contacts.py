"""`carereach contacts import FILE [--mapping H=F ...] [--mode M] [--dry-run] [--user NAME]`.

Prints one line per problem (`row 17, column "Phone": bad phone "12" (too short)`), the
conflicts kept, and a summary. Exit status 2 when the file is refused or, in all_or_nothing
mode, when any row is bad (nothing was written). A progress bar goes to stderr on a terminal.
"""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from carereach.audience.imports.report import problem_line
from carereach.audience.imports.services import (
    contact_import_run,
    contact_import_upload,
    contact_import_validate,
)
from carereach.audience.models import ContactImport, ImportMode, ImportStatus
from carereach.commands import CarereachCommand
from carereach.errors import NotFoundError, ValidationError

BAR_WIDTH = 30


class Command(CarereachCommand):
    help = "Import contacts from a CSV file (see docs/api.md for the columns)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import contacts from a UTF-8 CSV file")
        imp.add_argument("file", help="the CSV file; its first row names the columns")
        imp.add_argument(
            "--mapping",
            action="append",
            default=[],
            metavar="HEADER=FIELD",
            help="map a CSV column to a field (custom.<name> for custom fields; empty: ignore)",
        )
        imp.add_argument(
            "--mode",
            choices=ImportMode.values,
            default=ImportMode.ALL_OR_NOTHING,
            help="all_or_nothing (default): write nothing if any row is bad; "
            "valid_only: write the good rows, list the bad ones in an error file",
        )
        imp.add_argument("--dry-run", action="store_true", help="report, write nothing")
        imp.add_argument("--user", help="act as this user (needs the import capability)")

    def run(self, *args: Any, **options: Any) -> None:
        actor = _user(options["user"])
        path = Path(options["file"])
        if not path.is_file():
            raise NotFoundError(f"No such file: {path}", field="file")
        with path.open("rb") as file:
            contact_import = contact_import_upload(
                file=file,
                filename=path.name,
                mapping=_mapping(options["mapping"]),
                mode=options["mode"],
                actor=actor,
            )
        bar = _Bar(self.stderr) if sys.stderr.isatty() else None
        progress = bar.update if bar is not None else None
        if options["dry_run"]:
            contact_import = contact_import_validate(
                contact_import=contact_import, progress=progress
            )
        else:
            contact_import = contact_import_run(
                contact_import=contact_import, actor=actor, progress=progress
            )
        if bar is not None:
            bar.done()
        self._print_report(contact_import, dry_run=options["dry_run"])
        if contact_import.mode == ImportMode.ALL_OR_NOTHING and contact_import.error_rows:
            sys.exit(2)

    def _print_report(self, contact_import: ContactImport, *, dry_run: bool) -> None:
        report = contact_import.report
        for problem in report.get("problems", []):
            self.stdout.write(problem_line(problem))
        summary = report.get("summary", {})
        if report.get("problems_truncated"):
            shown = len(report.get("problems", []))
            self.stdout.write(f"… {summary.get('problems', 0) - shown} more problems")
        for conflict in report.get("conflicts", []):
            self.stdout.write(
                f'row {conflict["row"]}, column "{conflict["column"]}": {conflict["reason"]}'
            )
        merged_by = summary.get("merged_by", {})
        keys = ", ".join(f"{key} {count}" for key, count in merged_by.items() if count)
        by = f" (by {keys})" if keys else ""
        created, merged = summary.get("created", 0), summary.get("merged", 0)
        if contact_import.status == ImportStatus.FAILED:
            outcome = "nothing imported: in all_or_nothing mode every row must be valid"
        elif dry_run:
            outcome = f"dry run, nothing written: would create {created}, merge {merged}{by}"
        else:
            outcome = f"created {created}, merged {merged}{by}"
        self.stdout.write(
            f"{contact_import.filename}: {summary.get('rows', 0)} rows, "
            f"{summary.get('valid_rows', 0)} valid, {summary.get('error_rows', 0)} with "
            f"problems; {outcome}; {summary.get('conflicts', 0)} conflicts kept "
            f"(import #{contact_import.pk})"
        )
        if contact_import.error_path:
            self.stdout.write(f"bad rows written to {contact_import.error_path} (under VAR_DIR)")


def _user(name: str | None) -> User | None:
    if not name:
        return None
    user = get_user_model().objects.filter(username=name).first()
    if not isinstance(user, User):
        raise NotFoundError(f"No user named {name!r}.", field="user")
    return user


def _mapping(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        header, equals, field = pair.rpartition("=")
        if not equals or not header.strip():
            raise ValidationError(
                f"--mapping {pair!r}: expected HEADER=FIELD (FIELD empty to ignore)",
                field="mapping",
            )
        mapping[header.strip()] = field.strip()
    return mapping


class _Bar:
    """`[##########..........]  45,000/100,000 rows` redrawn in place after every batch."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def update(self, processed: int, total: int) -> None:
        filled = BAR_WIDTH * processed // total if total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {processed:,}/{total:,} rows", ending="")
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("")
