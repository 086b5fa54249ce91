"""`carereach survey-results CODE`: a survey's aggregates, one line each (no answers)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from carereach.commands import CarereachCommand
from carereach.engagement.models import Survey
from carereach.engagement.selectors import survey_results
from carereach.errors import NotFoundError


class Command(CarereachCommand):
    help = "Print a survey's asked and answered counts, its distribution and NPS or satisfaction."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("code", help="the survey's code")

    def run(self, *args: Any, **options: Any) -> None:
        survey = Survey.objects.filter(code=options["code"]).first()
        if survey is None:
            raise NotFoundError(f"No survey {options['code']!r}.", field="code")
        results = survey_results(survey=survey).as_dict()
        distribution = results.pop("distribution")
        for name, value in results.items():
            self.stdout.write(f"{name}: {value}")
        if isinstance(distribution, dict):
            pairs = " ".join(f"{k}={v}" for k, v in distribution.items())
            self.stdout.write(f"distribution: {pairs}")
