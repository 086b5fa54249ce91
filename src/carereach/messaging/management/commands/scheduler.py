"""`carereach scheduler`: fire due triggers; one leader across machines (advisory lock)."""

from __future__ import annotations

from typing import Any

from carereach.commands import CarereachCommand
from carereach.messaging.management.commands.worker import run_until_signalled
from carereach.messaging.runtime import scheduler_loop


class Command(CarereachCommand):
    help = "Run the scheduler: fire due campaign and journey steps; one leader at a time."

    def run(self, *args: Any, **options: Any) -> None:
        run_until_signalled(scheduler_loop())
