"""`carereach letters batch [--date YYYY-MM-DD] [--out DIR]`: the day's letter batch.

Makes the batch of that day (default today) from the letters collected and not printed yet, or
finds the one made before, and writes `letters-<date>.pdf` and `letters-<date>.csv` (the
manifest) into DIR when given. The files hold names and postal addresses: keep DIR private.
"""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import date
from pathlib import Path
from typing import Any

from django.utils import timezone

from carereach.channels.services import letter_batch_pdf
from carereach.commands import CarereachCommand
from carereach.errors import ValidationError
from carereach.messaging.services.letters import letters_batch


class Command(CarereachCommand):
    help = "Make (or find) a day's letter batch: one PDF and a CSV manifest for the mail house."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        batch = sub.add_parser("batch", help="the batch of one day")
        batch.add_argument("--date", help="YYYY-MM-DD (default: today, UTC)")
        batch.add_argument("--out", help="a directory to write the PDF and the manifest into")

    def run(self, *args: Any, **options: Any) -> None:
        raw = options.get("date") or timezone.now().date().isoformat()
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise ValidationError(
                f"not a date: {raw!r} (expected YYYY-MM-DD)", field="date"
            ) from None
        out = Path(options["out"]) if options.get("out") else None
        if out is not None and not out.is_dir():
            raise ValidationError(f"no such directory: {out}", field="out")
        batch = letters_batch(day=day)
        if batch is None:
            self.stdout.write(f"letters {day}: no letters waiting")
            return
        line = f"letters {day}: {batch.letters} letters, {batch.pages} pages"
        if out is not None:
            pdf = out / f"letters-{day}.pdf"
            manifest = out / f"letters-{day}.csv"
            pdf.write_bytes(letter_batch_pdf(batch))
            manifest.write_text(batch.manifest or "", encoding="utf-8")
            line += f" -> {pdf}, {manifest}"
        self.stdout.write(line)
