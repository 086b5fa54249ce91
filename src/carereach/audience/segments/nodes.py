"""The typed syntax tree of a segment query: frozen dataclasses, no Django.

Values are plain Python objects (``str``, ``int``, ``Decimal``, ``bool``, ``date``, ``datetime``)
plus two small types of our own: `Symbol` for a bare word (``hcp``, ``sms``) and `Duration` for
``30d``. Every node remembers where it started in the query (``pos`` and friends) so that checks
made after parsing can still point at the right character; positions take no part in equality, so
two queries that differ only in spacing or case of keywords parse to equal trees.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class Operator(StrEnum):
    """Every operator a condition may use, spelled as in a query."""

    EQ = "="  # equal
    NE = "!="  # not equal; also true when the field is empty (same as `not field = value`)
    LT = "<"  # less than
    LE = "<="  # less than or equal
    GT = ">"  # greater than
    GE = ">="  # greater than or equal
    IN = "in"  # equal to one of a list
    NOT_IN = "not in"  # equal to none of a list; also true when the field is empty
    IS_NULL = "is null"  # the field is empty (no value, no related row)
    IS_NOT_NULL = "is not null"  # the field has a value


COMPARISON_OPERATORS = frozenset(
    {Operator.EQ, Operator.NE, Operator.LT, Operator.LE, Operator.GT, Operator.GE}
)


class DurationUnit(StrEnum):
    """Units a duration literal may use."""

    HOURS = "h"  # 12h
    DAYS = "d"  # 30d
    WEEKS = "w"  # 2w


_UNIT_DELTAS = {
    DurationUnit.HOURS: timedelta(hours=1),
    DurationUnit.DAYS: timedelta(days=1),
    DurationUnit.WEEKS: timedelta(weeks=1),
}


@dataclasses.dataclass(frozen=True)
class Symbol:
    """A bare word used as a value (``hcp``, ``sms``); accepted wherever a string is."""

    name: str


@dataclasses.dataclass(frozen=True)
class Duration:
    """A length of time written as a number and a unit: ``30d``, ``12h``, ``2w``."""

    amount: int
    unit: DurationUnit

    def as_timedelta(self) -> timedelta:
        return self.amount * _UNIT_DELTAS[self.unit]

    def __str__(self) -> str:
        return f"{self.amount}{self.unit.value}"


Value = str | int | Decimal | bool | date | datetime | Duration | Symbol


def _position() -> int:
    return dataclasses.field(default=0, compare=False, repr=False)


def _positions() -> tuple[int, ...]:
    return dataclasses.field(default=(), compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class Compare:
    """``field op value`` for one of the six comparison operators."""

    field: str
    op: Operator
    value: Value
    pos: int = _position()
    op_pos: int = _position()
    value_pos: int = _position()

    def __post_init__(self) -> None:
        if self.op not in COMPARISON_OPERATORS:
            raise ValueError(f"Compare takes a comparison operator, not {self.op.value!r}")


@dataclasses.dataclass(frozen=True)
class In:
    """``field in (v1, v2, ...)``, or ``field not in (...)`` when `negated`."""

    field: str
    values: tuple[Value, ...]
    negated: bool = False
    pos: int = _position()
    op_pos: int = _position()
    value_positions: tuple[int, ...] = _positions()

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("In needs at least one value")

    @property
    def op(self) -> Operator:
        return Operator.NOT_IN if self.negated else Operator.IN


@dataclasses.dataclass(frozen=True)
class IsNull:
    """``field is null``, or ``field is not null`` when `negated`."""

    field: str
    negated: bool = False
    pos: int = _position()
    op_pos: int = _position()

    @property
    def op(self) -> Operator:
        return Operator.IS_NOT_NULL if self.negated else Operator.IS_NULL


@dataclasses.dataclass(frozen=True)
class Call:
    """A function predicate: ``name(positional, ..., keyword = value, ...)``.

    `kwargs` keeps the order written, as ``(name, value)`` pairs, so the node stays hashable.
    """

    name: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()
    pos: int = _position()
    arg_positions: tuple[int, ...] = _positions()
    kwarg_positions: tuple[int, ...] = _positions()  # where each keyword's name starts
    kwarg_value_positions: tuple[int, ...] = _positions()
    end_pos: int = _position()  # the closing parenthesis


@dataclasses.dataclass(frozen=True)
class And:
    """All of `items` hold (two or more; a chain ``a and b and c`` is one node)."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("And needs at least two items")


@dataclasses.dataclass(frozen=True)
class Or:
    """Any of `items` holds (two or more; a chain ``a or b or c`` is one node)."""

    items: tuple[Node, ...]

    def __post_init__(self) -> None:
        if len(self.items) < 2:
            raise ValueError("Or needs at least two items")


@dataclasses.dataclass(frozen=True)
class Not:
    """`item` does not hold."""

    item: Node
    pos: int = _position()


Node = Compare | In | IsNull | Call | And | Or | Not
Condition = Compare | In | IsNull
