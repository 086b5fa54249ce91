"""`carereach keys rotate`: re-encrypt every PHI field with the newest CARE_FIELD_KEYS key."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from carereach.commands import CarereachCommand
from carereach.security.services import field_keys_rotate


class Command(CarereachCommand):
    help = "Rotate field encryption keys: put the new key first in CARE_FIELD_KEYS, then run this."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        rotate = sub.add_parser("rotate", help="re-encrypt all rows in batches")
        rotate.add_argument("--batch-size", type=int, default=500)

    def run(self, *args: Any, **options: Any) -> None:
        report = field_keys_rotate(batch_size=options["batch_size"])
        self.stdout.write(
            f"re-encrypted {report.rows} rows across {len(report.columns)} encrypted columns"
        )
