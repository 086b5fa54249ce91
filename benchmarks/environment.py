"""Where the benchmarks run: a throwaway database, Django set up against it, and machine facts.

Django is configured once per process, so one run uses one database: a fresh PostgreSQL database
(the default, dropped afterwards), a SQLite file in a temporary folder, or a URL the caller owns.
"""

from __future__ import annotations

import base64
import os
import platform
import secrets
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from benchmarks.harness import HarnessError, max_rss

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
REPOSITORY = Path(__file__).resolve().parent.parent


def vendor_of(url: str) -> str:
    """The Django vendor a DATABASE_URL selects, known before Django is set up."""
    return "sqlite" if urlsplit(url).scheme.startswith("sqlite") else "postgresql"


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, and drop it afterwards."""
    import psycopg
    from psycopg import sql

    name = f"carereach_bench_{os.getpid()}_{secrets.token_hex(3)}"
    parts = urlsplit(server_url)
    try:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except psycopg.Error as exc:
        where = parts.hostname or "localhost"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(
            f"cannot create a database on PostgreSQL at {where}:{parts.port or 5432} ({reason});"
            " pass --server, --database-url or --sqlite"
        ) from None
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        close_connections()
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def throwaway_sqlite() -> Iterator[str]:
    """Yield the URL of a SQLite file in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="carereach-bench-") as folder:
        try:
            yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        finally:
            close_connections()


def setup_django(database_url: str) -> str:
    """Point Django at the database, migrate it, and return its vendor.

    Keys are generated for this process when the environment has none: the benchmarks encrypt
    nothing that outlives the run.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "carereach.settings"
    if not os.environ.get("CARE_SECRET_KEY", "").strip():
        os.environ["CARE_SECRET_KEY"] = secrets.token_urlsafe(48)
    if not os.environ.get("CARE_FIELD_KEYS", "").strip():
        os.environ["CARE_FIELD_KEYS"] = base64.b64encode(secrets.token_bytes(32)).decode()
    os.environ.setdefault("CARE_LOG_LEVEL", "WARNING")
    os.environ["DATABASE_URL"] = database_url

    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    connection.ensure_connection()
    return connection.vendor


def close_connections() -> None:
    """Close Django's connections, if Django was set up, so the database can be dropped."""
    from django.apps import apps

    if apps.ready:
        from django.db import connections

        connections.close_all()


def load_average() -> float | None:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def machine_facts(*, load_at_start: float | None) -> dict[str, object]:
    """What a reader needs to weigh the figures: CPUs, load, versions, and the code measured."""
    import django
    from django.db import connection

    if connection.vendor == "postgresql":
        import psycopg

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            row = cursor.fetchone()
        database_version = f"PostgreSQL {row[0].split()[0] if row else '?'}"
        driver = f"psycopg {psycopg.__version__}"
    else:
        database_version = f"SQLite {sqlite3.sqlite_version}"
        driver = f"sqlite3 (Python {platform.python_version()})"
    affinity = getattr(os, "sched_getaffinity", None)
    return {
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(affinity(0)) if affinity else os.cpu_count(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(terse=True),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "django": django.get_version(),
        "database": database_version,
        "driver": driver,
        "commit": _commit(),
        "load_average_start": load_at_start,
        "load_average_end": load_average(),
        "process_peak_rss_mib": round(max_rss() / 2**20, 1),
    }


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def _commit() -> str:
    """The checked-out commit, marked "+changes" when the tree differs from it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if changes else head
