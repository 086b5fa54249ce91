"""The base of every `carereach` management command: one-line errors, exit status 2."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from carereach.errors import CarereachError


class CarereachCommand(BaseCommand):
    """Subclasses implement `run`; a CarereachError becomes `error: <message>` and exit 2."""

    def handle(self, *args: Any, **options: Any) -> str | None:
        try:
            return self.run(*args, **options)
        except CarereachError as exc:
            where = f" ({exc.field})" if exc.field else ""
            self.stderr.write(f"error{where}: {exc.message}")
            sys.exit(2)

    def run(self, *args: Any, **options: Any) -> str | None:
        raise NotImplementedError
