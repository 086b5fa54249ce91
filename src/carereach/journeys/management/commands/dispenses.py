"""`carereach dispenses import FILE`: pharmacy fills from a CSV file (see docs/journeys.md)."""

from __future__ import annotations

from typing import Any

from carereach.journeys.imports import dispenses_import
from carereach.journeys.management.commands._records import RecordsImportCommand


class Command(RecordsImportCommand):
    help = "Import dispensings from CSV; every bad row is named and nothing is written."
    noun = "dispensings"

    def run(self, *args: Any, **options: Any) -> None:
        text, actor = self.load(options)
        self.report(dispenses_import(text=text, actor=actor, valid_only=options["valid_only"]))
