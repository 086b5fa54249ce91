"""`carereach consent-disconnects FILE [--dry-run] [--user NAME]`: void consents on numbers
reported disconnected (a reassigned-numbers report).

Each row is `number,date` (a header row is allowed); the date is the disconnection, `2025-06-01`
or a time with its offset. Consents granted on a number before its disconnection are revoked
(method `reassigned`). Every row must be valid, or nothing is voided: problems print one a line,
and the exit status is 2.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from carereach.commands import CarereachCommand
from carereach.consent.csvfiles import ImportRefused, problem_lines
from carereach.consent.disconnects import consent_disconnects_import
from carereach.consent.management.commands.consent_import import user_named
from carereach.errors import NotFoundError


class Command(CarereachCommand):
    help = "Void consents on numbers reported disconnected since (number,date rows)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="a CSV file of number,date rows")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be voided, change nothing"
        )
        parser.add_argument("--user", help="act as this user (needs manage_programs)")

    def run(self, *args: Any, **options: Any) -> None:
        actor = user_named(options["user"])
        path = Path(options["file"])
        if not path.is_file():
            raise NotFoundError(f"No such file: {path}", field="file")
        with path.open("rb") as file:
            try:
                outcome = consent_disconnects_import(
                    file=file, actor=actor, dry_run=options["dry_run"]
                )
            except ImportRefused as refused:
                for line in problem_lines(refused):
                    self.stdout.write(line)
                raise
        consents = "consent" if outcome.voided == 1 else "consents"
        if outcome.dry_run:
            self.stdout.write(
                f"{path.name}: {outcome.rows} numbers; dry run: would void {outcome.voided} "
                f"{consents}, nothing changed"
            )
        else:
            self.stdout.write(
                f"{path.name}: {outcome.rows} numbers; voided {outcome.voided} {consents}"
            )
