"""Shared by `carereach appointments import` and `carereach dispenses import`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from carereach.commands import CarereachCommand
from carereach.errors import ValidationError
from carereach.journeys.imports import ImportReport


class RecordsImportCommand(CarereachCommand):
    noun = "records"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["import"])
        parser.add_argument("file", help="a UTF-8 CSV file with a header row")
        parser.add_argument("--user", default="", help="the user the import is recorded as")
        parser.add_argument(
            "--valid-only", action="store_true", help="write the valid rows even if some are bad"
        )

    def load(self, options: dict[str, Any]) -> tuple[str, User | None]:
        path = Path(options["file"])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ValidationError(f"No file at {path}.", field="file") from None
        except UnicodeDecodeError:
            raise ValidationError("The file is not UTF-8 text.", field="file") from None
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise ValidationError(f"No user named {options['user']}.", field="user")
        return text, actor

    def report(self, report: ImportReport[Any]) -> None:
        for line in report.errors:
            self.stderr.write(line)
        self.stdout.write(
            f"{report.written} {self.noun} written, {len(report.errors)} rows refused"
        )
        if report.errors:
            raise ValidationError(
                f"{len(report.errors)} rows refused"
                + ("" if report.written else "; nothing was written"),
                field="file",
            )
