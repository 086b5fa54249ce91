"""One multi-row INSERT for a batch of rows, on PostgreSQL and SQLite alike.

The ingest path writes hundreds of small rows a second in batches; building model instances for
`bulk_create` costs more client CPU than the database spends storing them. Callers pass values
already prepared for the database (encrypted, datetimes adapted with
`connection.ops.adapt_datetimefield_value`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

# SQLite allows 32,766 bound values per statement (3.32+); stay well under it.
MAX_VALUES = 30_000


def insert_rows(
    *,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],  # values ready for the driver
    ignore_conflicts: bool = False,
) -> int:
    """INSERT the rows (in as few statements as fit); returns how many rows were inserted.

    With `ignore_conflicts`, a row that breaks a unique constraint (also one of the same batch)
    is skipped (`ON CONFLICT DO NOTHING`, which both databases support).
    """
    if not rows:
        return 0
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    head = f"INSERT INTO {quote(table)} ({names}) VALUES "  # noqa: S608 - quoted model names
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_statement = max(1, MAX_VALUES // len(columns))
    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params: list[Any] = [value for row in chunk for value in row]
            cursor.execute(head + ", ".join([one] * len(chunk)) + tail, params)
            inserted += max(cursor.rowcount, 0)
    return inserted
