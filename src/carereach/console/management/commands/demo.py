"""`carereach demo`: migrate, seed demo users and data (idempotent), serve with background."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command

from carereach.commands import CarereachCommand
from carereach.console.demo import DEMO_PASSWORD, demo_seed
from carereach.console.serve import serve


class Command(CarereachCommand):
    help = "Set up and run the demo: SQLite, sandbox carrier, demo data, one process."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="seed, print, and exit")

    def run(self, *args: Any, **options: Any) -> None:
        Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)  # the SQLite file lives there
        call_command("migrate", interactive=False, verbosity=0)
        seeded = demo_seed()
        self.stdout.write(f"Carereach demo users (password for all: {DEMO_PASSWORD}):")
        for username, role in seeded.users:
            self.stdout.write(f"  {username:<12} {role}")
        for line in seeded.notes:
            self.stdout.write(line)
        if options["no_serve"]:
            return
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(f"Console: {url}/   API docs: {url}/api/v1/docs   Ctrl-C stops.")
        self.stdout.flush()
        serve(host=options["host"], port=options["port"], background=True)
