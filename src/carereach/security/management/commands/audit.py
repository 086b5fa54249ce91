"""`carereach audit verify`: walk the hash chain and name the first broken entry."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from typing import Any

from carereach.commands import CarereachCommand
from carereach.security.audit import audit_verify


class Command(CarereachCommand):
    help = "Check the audit log's hash chain; exit 1 and name the entry if it is broken."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="verify the whole chain")

    def run(self, *args: Any, **options: Any) -> None:
        report = audit_verify()
        if report.ok:
            self.stdout.write(f"audit log intact: {report.checked} entries verified")
            return
        self.stderr.write(
            f"audit log broken at entry #{report.broken_id}: {report.reason} "
            f"({report.checked} entries before it verified)"
        )
        sys.exit(1)
