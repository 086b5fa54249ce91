"""`field__any_of=[...]`: a list of values as one array parameter on PostgreSQL.

`field__in=[...]` spells out one placeholder per value: with a batch of a thousand ids the
statement's text differs every time, and psycopg and the server parse thousands of placeholders
per statement. `any_of` sends `field = ANY(%s)` with the list as one array; SQLite gets the
usual `IN (...)`. Registered on every field when this module is imported.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Lookup
from django.db.models.sql.compiler import SQLCompiler


@models.Field.register_lookup
class AnyOf(Lookup[Any]):
    """`field__any_of=[...]`: one array parameter on PostgreSQL instead of one per value."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [list(value)]

    def as_sql(self, compiler: SQLCompiler, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if connection.vendor != "postgresql":
            values = list(self.rhs)
            if not values:
                return "1 = 0", []
            return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]
