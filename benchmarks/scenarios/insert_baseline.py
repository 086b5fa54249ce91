"""insert_baseline: raw insert speed into an outbox-shaped table, the yardstick for later scenarios.

The messages outbox does not exist yet, so a stand-in table of the same shape is created with raw
SQL (bench_outbox) and filled with N rows four ways on PostgreSQL (COPY, the baseline; one
`INSERT ... SELECT FROM unnest(...)` per batch; psycopg executemany; Django's bulk_create) and two
ways on SQLite (executemany, the baseline; bulk_create). Each way starts from an empty table in
one transaction, and rows come from a generator, so memory stays flat however large N is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, models, transaction

from benchmarks.harness import Context, batched, scenario

TABLE = "bench_outbox"
BATCH = 5_000
CYCLE = 1_440  # distinct created/due times, reused round-robin

POSTGRES_DDL = """
CREATE TABLE bench_outbox (
    id bigserial PRIMARY KEY,
    idempotency_key text NOT NULL UNIQUE,
    contact_id bigint NOT NULL,
    channel text NOT NULL,
    status text NOT NULL,
    body text NOT NULL,
    created_at timestamptz NOT NULL,
    due_at timestamptz NOT NULL
)
"""
SQLITE_DDL = """
CREATE TABLE bench_outbox (
    id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    idempotency_key text NOT NULL UNIQUE,
    contact_id bigint NOT NULL,
    channel text NOT NULL,
    status text NOT NULL,
    body text NOT NULL,
    created_at datetime NOT NULL,
    due_at datetime NOT NULL
)
"""
COPY_SQL = (
    "COPY bench_outbox (idempotency_key, contact_id, channel, status, body, created_at, due_at)"
    " FROM STDIN"
)
UNNEST_SQL = (
    "INSERT INTO bench_outbox"
    " (idempotency_key, contact_id, channel, status, body, created_at, due_at)"
    " SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[],"
    " %s::timestamptz[], %s::timestamptz[])"
)
INSERT_SQL = (
    "INSERT INTO bench_outbox"
    " (idempotency_key, contact_id, channel, status, body, created_at, due_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s)"
)

FIRST_NAMES = ("Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo")
CLINICS = ("Northside Clinic", "Riverside Health", "Elm St Practice", "Harbor Pediatrics")
CHANNELS = ("sms", "sms", "sms", "email", "voice")
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

Row = tuple[str, int, str, str, str, object, object]


def outbox_rows(count: int, *, times_as_text: bool = False) -> Iterator[Row]:
    """`count` queued reminders, ~120-character bodies, keys in no particular order.

    Keys are a bijective scramble of the row number, so the unique index takes them in random
    order as it would hashed idempotency keys. Times are aware UTC datetimes, or the naive UTC text
    Django stores in SQLite when `times_as_text`.
    """
    created = [START + timedelta(seconds=k) for k in range(CYCLE)]
    due = [START + timedelta(days=1, minutes=5 * k) for k in range(CYCLE)]
    when = [d.strftime("%a %d %b at %H:%M") for d in due]
    if times_as_text:
        created_values: list[object] = [str(d.replace(tzinfo=None)) for d in created]
        due_values: list[object] = [str(d.replace(tzinfo=None)) for d in due]
    else:
        created_values, due_values = list(created), list(due)
    for i in range(count):
        k = i % CYCLE
        j = (i * 7) % CYCLE
        yield (
            f"rem-{(i * 2654435761) & 0xFFFFFFFF:08x}-{i >> 32}",
            1 + i % 250_000,
            CHANNELS[i % 5],
            "queued",
            f"Hi {FIRST_NAMES[i % 10]}, {CLINICS[i % 4]} here: your visit is {when[j]}."
            " Reply C to confirm, R to reschedule, STOP to opt out.",
            created_values[k],
            due_values[j],
        )


@functools.cache
def outbox_model() -> type[models.Model]:
    """A model over the stand-in table, defined in this process only: it never meets migrations."""
    meta = type("Meta", (), {"app_label": "messaging", "db_table": TABLE, "managed": False})
    attrs: dict[str, object] = {
        "__module__": __name__,
        "Meta": meta,
        "id": models.BigAutoField(primary_key=True),
        "idempotency_key": models.TextField(unique=True),
        "contact_id": models.BigIntegerField(),
        "channel": models.TextField(),
        "status": models.TextField(),
        "body": models.TextField(),
        "created_at": models.DateTimeField(),
        "due_at": models.DateTimeField(),
    }
    return type("BenchOutbox", (models.Model,), attrs)


def insert_copy(count: int) -> None:
    """One COPY statement, streamed row by row from the generator (psycopg 3 cursor.copy)."""
    with transaction.atomic(), driver_cursor() as cursor, cursor.copy(COPY_SQL) as copy:
        for row in outbox_rows(count):
            copy.write_row(row)


def insert_unnest(count: int) -> None:
    """One `INSERT ... SELECT FROM unnest(arrays)` per batch: seven parameters, any batch size."""
    with transaction.atomic(), driver_cursor() as cursor:
        for batch in batched(outbox_rows(count), BATCH):
            cursor.execute(UNNEST_SQL, [list(column) for column in zip(*batch, strict=True)])


def insert_executemany(count: int) -> None:
    """The driver's executemany over one INSERT: psycopg 3 pipelines it, sqlite3 loops in C."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with driver_cursor() as cursor:
                cursor.executemany(INSERT_SQL, outbox_rows(count))
        else:
            rows = outbox_rows(count, times_as_text=True)
            driver_connection().executemany(INSERT_SQL.replace("%s", "?"), rows)


def insert_orm(count: int) -> None:
    """Django's bulk_create, 5,000 instances per call (Django splits them to fit SQLite's limit)."""
    model = outbox_model()
    manager = model._default_manager
    with transaction.atomic():
        for batch in batched(outbox_rows(count), BATCH):
            manager.bulk_create(
                [
                    model(
                        idempotency_key=key,
                        contact_id=contact_id,
                        channel=channel,
                        status=status,
                        body=body,
                        created_at=created_at,
                        due_at=due_at,
                    )
                    for key, contact_id, channel, status, body, created_at, due_at in batch
                ],
                batch_size=BATCH,
            )


def driver_connection() -> Any:
    """The driver's own connection under Django's (psycopg or sqlite3), in Django's transaction.

    The raw ways use it directly: Django's PostgreSQL cursors bind parameters on the client, which
    would spell 5,000-element arrays out as SQL text, and its SQLite cursor's executemany keeps
    every row of a generator alive (itertools.tee), so memory would grow with N.
    """
    connection.ensure_connection()
    return connection.connection


def driver_cursor() -> Any:
    """A psycopg cursor with server-side binding on Django's connection."""
    import psycopg

    return psycopg.Cursor(driver_connection())


def reset_table() -> None:
    """Drop and recreate the stand-in table so every way starts from empty, then settle disk."""
    ddl = POSTGRES_DDL if connection.vendor == "postgresql" else SQLITE_DDL
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_outbox")
        cursor.execute(ddl)
        if connection.vendor == "postgresql":
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            superuser = cursor.fetchone()
            if superuser and superuser[0]:
                cursor.execute("CHECKPOINT")  # no earlier figure's dirty pages in this one's time


def check_count(label: str, expected: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_outbox")
        row = cursor.fetchone()
    found = row[0] if row else 0
    if found != expected:
        raise RuntimeError(f"insert_baseline/{label} left {found} rows, expected {expected}")


@scenario("insert_baseline")
def insert_baseline(ctx: Context) -> None:
    """Rows/s into an outbox-shaped table: COPY or executemany (baseline) against the ORM."""
    count = ctx.sized(small=100_000, full=1_000_000)
    ways: list[tuple[str, Callable[[], None], bool]]
    if ctx.database == "postgresql":
        ways = [
            ("copy", functools.partial(insert_copy, count), True),
            ("insert_unnest", functools.partial(insert_unnest, count), False),
            ("executemany", functools.partial(insert_executemany, count), False),
            ("orm_bulk_create", functools.partial(insert_orm, count), False),
        ]
    else:
        ways = [
            ("executemany", functools.partial(insert_executemany, count), True),
            ("orm_bulk_create", functools.partial(insert_orm, count), False),
        ]
    try:
        for label, insert, baseline in ways:
            reset_table()
            ctx.measure(label, count, insert, baseline=baseline)
            check_count(label, count)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_outbox")
