"""`carereach worker`: claim and dispatch due messages until stopped (SIGINT/SIGTERM)."""

from __future__ import annotations

import signal
from typing import Any

from carereach.commands import CarereachCommand
from carereach.messaging.runtime import Loop, worker_loop


def run_until_signalled(loop: Loop) -> None:
    def stop(signum: int, frame: object) -> None:
        loop.halt()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    loop.run()


class Command(CarereachCommand):
    help = "Run a background worker: dispatch due messages, write heartbeats."

    def run(self, *args: Any, **options: Any) -> None:
        run_until_signalled(worker_loop())
