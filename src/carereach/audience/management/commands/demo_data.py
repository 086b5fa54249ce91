"""`carereach demo_data --hcps N --patients M`: a fictitious audience, loaded through the importer.

Rows come from `carereach.audience.demo` (555-01XX phones, example.* e-mail, valid NPIs), are
written to a temporary CSV file and imported with mode valid_only after the demo territories
they name are created; caregivers are then linked to patients (up to 5,000 of them). The same
seed run again merges into the contacts it made: nothing is added. `--csv-only PATH` writes
the file and stops, for looking at it or importing it by hand.
"""

from __future__ import annotations

import time
from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

from carereach.audience.demo import DEFAULT_SEED, demo_csv_write, demo_data_load, demo_rows
from carereach.audience.imports.services import Progress
from carereach.commands import CarereachCommand
from carereach.errors import ValidationError


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise ArgumentTypeError("expected 0 or more")
    return value


class Command(CarereachCommand):
    help = "Generate fictitious HCPs, patients and caregivers and import them (or write the CSV)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--hcps", type=_count, required=True, metavar="N")
        parser.add_argument("--patients", type=_count, required=True, metavar="M")
        parser.add_argument("--caregivers", type=_count, default=0, metavar="K")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help="same seed, same rows (%(default)s)"
        )
        parser.add_argument(
            "--csv-only", type=Path, metavar="PATH", help="write the CSV here and import nothing"
        )
        parser.add_argument(
            "--user",
            default="admin",
            help="who imports: a user allowed to import contacts (default: the demo admin)",
        )

    def run(self, *args: Any, **options: Any) -> None:
        hcps: int = options["hcps"]
        patients: int = options["patients"]
        caregivers: int = options["caregivers"]
        seed: int = options["seed"]
        started = time.monotonic()
        path: Path | None = options["csv_only"]
        if path is not None:
            try:
                with path.open("w", encoding="utf-8", newline="") as out:
                    rows = demo_rows(hcps=hcps, patients=patients, caregivers=caregivers, seed=seed)
                    summary = demo_csv_write(out, rows)
            except OSError as exc:
                raise ValidationError(f"{path}: {exc.strerror}", field="csv_only") from None
            self.stdout.write(
                f"wrote {summary.rows:,} rows to {path} in {time.monotonic() - started:.1f} s"
            )
            return
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise ValidationError(
                f"no active user {options['user']!r}: run `carereach demo --no-serve` for the "
                "demo users, or pass --user",
                field="user",
            )
        load = demo_data_load(
            hcps=hcps,
            patients=patients,
            caregivers=caregivers,
            seed=seed,
            actor=actor,
            progress=self._progress(),
        )
        imported = load.contact_import
        if load.territories_created:
            self.stdout.write(f"territories created: {', '.join(load.territories_created)}")
        self.stdout.write(
            f"import #{imported.pk} ({imported.status}): {imported.total_rows:,} rows, "
            f"{imported.created_rows:,} created, {imported.merged_rows:,} merged into existing "
            f"contacts, {imported.error_rows:,} errors, {time.monotonic() - started:.1f} s"
        )
        if load.links_created:
            self.stdout.write(f"caregiver links created: {load.links_created:,}")
        if imported.error_path:
            self.stdout.write(f"rows with errors: VAR_DIR/{imported.error_path}")

    def _progress(self) -> Progress:
        shown = [0]

        def report(done: int, total: int) -> None:
            step = max(total // 10, 1)
            if done >= shown[0] + step or done == total:
                shown[0] = done
                self.stdout.write(f"  {done:,} / {total:,} rows")
                self.stdout.flush()

        return report
