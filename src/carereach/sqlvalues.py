"""Long lists of values for `field__in=`, bound as one parameter instead of one per value.

Django's `IN` lookup prepares, checks and binds every value of the list on its own. For the
delivery engine's batches (thousands of ids, keys or addresses, several queries per batch) that
Python work costs more than the queries themselves. `many(values)` hands the whole list to the
database at once: a PostgreSQL array (`unnest`), or a JSON array on SQLite (`json_each`).

    Contact.objects.filter(pk__in=many(ids))
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from django.db import connection
from django.db.models.expressions import RawSQL


def many(values: Iterable[int] | Iterable[str]) -> RawSQL:
    """A subquery of `values` for `__in`; all ints or all strings."""
    items = list(values)
    if not items:
        return RawSQL("SELECT NULL WHERE 1 = 0", [])
    if connection.vendor == "postgresql":
        kind = "bigint" if isinstance(items[0], int) else "text"
        return RawSQL(f"SELECT unnest(%s::{kind}[])", [items])  # noqa: S611 - a fixed type name
    return RawSQL("SELECT value FROM json_each(%s)", [json.dumps(items)])
