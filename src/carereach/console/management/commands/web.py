"""`carereach web`: serve the console and API (ASGI on uvicorn)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from carereach.commands import CarereachCommand
from carereach.console.serve import serve


class Command(CarereachCommand):
    help = "Serve the web console and REST API."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--with-background",
            action="store_true",
            help="also run the worker and scheduler in this process (the demo's one-process mode)",
        )

    def run(self, *args: Any, **options: Any) -> None:
        serve(host=options["host"], port=options["port"], background=options["with_background"])
