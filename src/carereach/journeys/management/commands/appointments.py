"""`carereach appointments import FILE`: appointments from a CSV file (see docs/journeys.md)."""

from __future__ import annotations

from typing import Any

from carereach.journeys.imports import appointments_import
from carereach.journeys.management.commands._records import RecordsImportCommand


class Command(RecordsImportCommand):
    help = "Import appointments from CSV; every bad row is named and nothing is written."
    noun = "appointments"

    def run(self, *args: Any, **options: Any) -> None:
        text, actor = self.load(options)
        self.report(appointments_import(text=text, actor=actor, valid_only=options["valid_only"]))
