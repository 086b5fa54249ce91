"""python -m benchmarks: run the scenarios on one database and write the results files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import cast

from benchmarks import environment, harness, report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=(
            "Run the benchmark scenarios and write benchmarks/results/latest.{json,md}. By default"
            " a throwaway PostgreSQL database is created on the server and dropped afterwards."
        ),
    )
    parser.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="run only these scenarios (and the ones they take their baseline from)",
    )
    parser.add_argument(
        "--scale",
        choices=("small", "full"),
        default="full",
        help="full for the published figures (default); small for a quick check",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--database-url",
        metavar="URL",
        help="an existing database to use instead (migrated; not dropped; bench_* tables removed)",
    )
    target.add_argument(
        "--sqlite",
        action="store_true",
        help="run the scenarios that support SQLite on a temporary file",
    )
    parser.add_argument(
        "--server",
        default=environment.DEFAULT_SERVER,
        metavar="URL",
        help="PostgreSQL server for the throwaway database (default: %(default)s)",
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--no-save", action="store_true", help="print the figures; write no results files"
    )
    return parser.parse_args(argv)


def database(args: argparse.Namespace) -> AbstractContextManager[str]:
    if args.database_url:
        return nullcontext(cast(str, args.database_url))
    if args.sqlite:
        return environment.throwaway_sqlite()
    return environment.throwaway_postgres(args.server)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        registry = harness.discover()
        if args.list:
            for entry in registry.values():
                print(f"{entry.name:<24} {', '.join(entry.databases):<20} {entry.summary}")
            return 0
        vendor = "sqlite" if args.sqlite else "postgresql"
        if args.database_url:
            vendor = environment.vendor_of(args.database_url)
        planned, skipped = harness.plan(registry, args.only, vendor)
        for entry in skipped:
            print(f"{entry.name}: skipped, runs on {', '.join(entry.databases)} only")
        if not planned:
            raise harness.HarnessError(f"no scenario to run on {vendor}")
        load_at_start = environment.load_average()
        with database(args) as url:
            connected = environment.setup_django(url)
            if connected != vendor:
                raise harness.HarnessError(f"expected a {vendor} database, got {connected}")
            figures = harness.run(planned, database=vendor, scale=args.scale)
            machine = environment.machine_facts(load_at_start=load_at_start)
    except harness.HarnessError as exc:
        print(f"benchmarks: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmarks: interrupted", file=sys.stderr)
        return 130
    run = report.run_record(
        database=vendor,
        scale=args.scale,
        scenarios=[entry.name for entry in planned],
        figures=figures,
        machine=machine,
    )
    print()
    print(report.render_run(run))
    if not args.no_save:
        for path in report.save(run):
            print(f"wrote {path.relative_to(environment.REPOSITORY)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
