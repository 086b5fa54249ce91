"""Set-based writes for the dispatch hot path: one statement per batch, not one per message.

On PostgreSQL each statement takes one array per column (`unnest`) through a cursor that binds
parameters on the server: the statement's text stays short and constant, so neither psycopg nor
the server re-parses thousands of placeholders per batch. SQLite (one worker, the embedded
default) gets the same statements over a VALUES list. `pk__any_of=ids` filters on a list of ids
the same way (`carereach.lookups`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection

from carereach import lookups  # noqa: F401 (registers `any_of`)
from carereach.messaging.models import Message, MessageEvent

CHUNK = 1000  # rows per statement on SQLite (its limit is 32,766 parameters)
_ARRAYS = {"int": "bigint", "text": "text", "time": "timestamptz", "json": "text"}


def _server_cursor() -> psycopg.Cursor[Any]:
    """A psycopg cursor on Django's connection (same transaction) binding on the server."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def messages_set(
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    where: str = "",
    params: Sequence[Any] = (),
    keep_if_null: frozenset[str] = frozenset(),
) -> set[int]:
    """UPDATE messages row by row from a list: each row is (id, one value per column); returns
    the ids updated. `columns` are (column, kind), kind one of int, text, time, json; a column
    in `keep_if_null` keeps its value where the row gives None. `where` (with `params`) is an
    extra condition on the message table, e.g. that the row is still ours."""
    if not rows:
        return set()
    table = Message._meta.db_table
    condition = f" AND {where}" if where else ""
    if connection.vendor == "postgresql":
        names = ["id", *(name for name, _ in columns)]
        kinds = ["int", *(kind for _, kind in columns)]
        arrays = [list(values) for values in zip(*rows, strict=True)]
        for n, kind in enumerate(kinds):
            if kind == "json":
                arrays[n] = [None if v is None else json.dumps(v) for v in arrays[n]]
        source = [
            f"v.{name}::jsonb" if kind == "json" else f"v.{name}"
            for name, kind in zip(names, kinds, strict=True)
        ]
        assignments = ", ".join(
            f"{name} = COALESCE({value}, {table}.{name})"
            if name in keep_if_null
            else f"{name} = {value}"
            for name, value in zip(names[1:], source[1:], strict=True)
        )
        unnest = ", ".join(f"%s::{_ARRAYS[kind]}[]" for kind in kinds)
        sql = (
            f"UPDATE {table} SET {assignments} FROM unnest({unnest}) AS v({', '.join(names)}) "  # noqa: S608
            f"WHERE {table}.id = v.id{condition} RETURNING {table}.id"
        )
        with _server_cursor() as cursor:
            cursor.execute(sql, [*arrays, *params], binary=True)
            return {pk for (pk,) in cursor.fetchall()}
    fields = {name: Message._meta.get_field(name) for name, _ in columns}
    placeholder = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    assignments = ", ".join(
        f"{name} = COALESCE(v.column{n}, {table}.{name})"
        if name in keep_if_null
        else f"{name} = v.column{n}"
        for n, (name, _) in enumerate(columns, start=2)
    )
    updated: set[int] = set()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        values: list[Any] = []
        for row in chunk:
            values.append(row[0])
            for (name, _), value in zip(columns, row[1:], strict=True):
                field = fields[name]
                if value is not None:
                    value = field.get_db_prep_value(value, connection)  # type: ignore[union-attr]
                values.append(value)
        listed = ", ".join([placeholder] * len(chunk))
        # Only our own table and column names are spliced in; every value is a parameter.
        sql = (
            f"UPDATE {table} SET {assignments} FROM (VALUES {listed}) AS v "  # noqa: S608
            f"WHERE {table}.id = v.column1{condition} RETURNING id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*values, *params])
            updated.update(pk for (pk,) in cursor.fetchall())
    return updated


def events_add(events: Iterable[tuple[int, str, datetime, dict[str, str]]]) -> None:
    """Append message events (message id, kind, at, detail) in one INSERT."""
    rows = list(events)
    if not rows:
        return
    table = MessageEvent._meta.db_table
    if connection.vendor == "postgresql":
        ids, kinds, ats, details = (list(column) for column in zip(*rows, strict=True))
        with _server_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (message_id, kind, at, detail) "  # noqa: S608
                "SELECT m, k, a, d::jsonb FROM "
                "unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::text[]) AS e(m, k, a, d)",
                [ids, kinds, ats, [json.dumps(d) for d in details]],
                binary=True,
            )
        return
    at_field = MessageEvent._meta.get_field("at")
    detail_field = MessageEvent._meta.get_field("detail")
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        values: list[Any] = []
        for message_id, kind, at, detail in chunk:
            values += [
                message_id,
                kind,
                at_field.get_db_prep_value(at, connection),
                detail_field.get_db_prep_value(detail, connection),
            ]
        listed = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (message_id, kind, at, detail) VALUES {listed}",  # noqa: S608
                values,
            )
