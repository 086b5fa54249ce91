"""`carereach consent-import FILE [--dry-run] [--user NAME]`: acts of consent from a CSV file.

Every row is written or none. Problems print one a line (`row 17, column "ip": not an IP
address`), then one line naming how many; the exit status is then 2. The columns are in
docs/api.md ("Consent import").
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from carereach.commands import CarereachCommand
from carereach.consent.csvfiles import ImportRefused, problem_lines
from carereach.consent.imports import consent_import
from carereach.errors import NotFoundError


class Command(CarereachCommand):
    help = "Import acts of consent with their evidence from a UTF-8 CSV file: all rows or none."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="the CSV file; its first row names the columns")
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        parser.add_argument(
            "--user", help="act as this user (needs the capture_consent capability)"
        )

    def run(self, *args: Any, **options: Any) -> None:
        actor = user_named(options["user"])
        path = Path(options["file"])
        if not path.is_file():
            raise NotFoundError(f"No such file: {path}", field="file")
        with path.open("rb") as file:
            try:
                outcome = consent_import(
                    file=file, filename=path.name, actor=actor, dry_run=options["dry_run"]
                )
            except ImportRefused as refused:
                for line in problem_lines(refused):
                    self.stdout.write(line)
                raise
        if outcome.dry_run:
            self.stdout.write(
                f"{path.name}: {outcome.rows} rows, all valid; dry run, nothing written"
            )
        else:
            self.stdout.write(
                f"{path.name}: {outcome.rows} rows, {outcome.entries} ledger entries written "
                f"(batch {outcome.batch})"
            )


def user_named(name: str | None) -> User | None:
    if not name:
        return None
    user = get_user_model().objects.filter(username=name).first()
    if not isinstance(user, User):
        raise NotFoundError(f"No user named {name!r}.", field="user")
    return user
