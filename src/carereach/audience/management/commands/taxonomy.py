"""`carereach taxonomy load FILE`: load or update the NUCC provider taxonomy code list."""

from __future__ import annotations

import re
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from carereach.audience.services import specialties_load
from carereach.audience.taxonomy import taxonomy_parse
from carereach.commands import CarereachCommand
from carereach.errors import ValidationError


class Command(CarereachCommand):
    help = "Load a NUCC taxonomy CSV (nucc_taxonomy_<version>.csv) into the specialty list."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="load or update from a NUCC CSV file")
        load.add_argument("file", type=Path)
        load.add_argument("--version", help="default: the number in the file name, e.g. 251")

    def run(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        version = options["version"] or _version_from_name(path.name)
        try:
            with path.open(encoding="utf-8-sig", newline="") as file:
                entries = list(taxonomy_parse(file))
        except FileNotFoundError:
            raise ValidationError(f"{path}: no such file", field="file") from None
        except UnicodeDecodeError:
            raise ValidationError(f"{path}: not UTF-8 text", field="file") from None
        report = specialties_load(entries=entries, version=version, actor=None)
        self.stdout.write(
            f"taxonomy {report.version}: {report.created} codes added, {report.updated} updated"
        )


def _version_from_name(name: str) -> str:
    match = re.search(r"(\d+(?:\.\d+)?)", name)
    if match is None:
        raise ValidationError("Give --version: the file name holds no version number.")
    return match.group(1)
