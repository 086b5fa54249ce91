"""`carereach journeys list | tick`: the journeys and their enrolments; one scheduler pass."""

from __future__ import annotations

from typing import Any

from carereach.commands import CarereachCommand
from carereach.journeys.selectors import journeys_overview
from carereach.journeys.tasks import journeys_advance_due


class Command(CarereachCommand):
    help = "List journeys, or advance due enrolments once (`tick`)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["list", "tick"])

    def run(self, *args: Any, **options: Any) -> None:
        if options["action"] == "tick":
            self.stdout.write(f"{journeys_advance_due()} enrolments advanced")
            return
        for row in journeys_overview():
            state = "active" if row.journey.active else "inactive"
            self.stdout.write(
                f"{row.journey.code}\t{row.journey.kind}\t{state}\t{row.steps} steps\t"
                f"{row.active} active enrolments"
            )
