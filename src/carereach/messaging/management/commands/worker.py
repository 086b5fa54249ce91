"""`carereach worker`: claim and dispatch due messages until stopped (SIGINT/SIGTERM)."""

from __future__ import annotations

import signal
from typing import Any

from carereach.channels.registry import providers_check
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
        providers_check()  # a missing carrier setting stops the worker with one line, up front
        run_until_signalled(worker_loop())
