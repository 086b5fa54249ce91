"""Writes a tree from `nodes` back as query text that parses to an equal tree.

Used to show a stored segment in one canonical spelling (lower-case keywords, double quotes,
single spaces) and, in the tests, to check the parser against generated trees. Parentheses are
written only where precedence needs them or where the tree groups a chain explicitly, so
``a and (b and c)`` keeps its shape.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

from carereach.audience.segments.lexer import KEYWORDS
from carereach.audience.segments.nodes import (
    And,
    Call,
    Compare,
    Duration,
    In,
    IsNull,
    Node,
    Not,
    Or,
    Symbol,
    Value,
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Binding strength: a child binding more loosely than its parent needs parentheses.
_OR, _AND, _NOT, _ATOM = 1, 2, 3, 4


def format_segment(node: Node) -> str:
    """Return canonical query text for `node`; raise ValueError for a tree no query produces."""
    if isinstance(node, Or):
        return " or ".join(_wrap(item, above=_OR) for item in node.items)
    if isinstance(node, And):
        return " and ".join(_wrap(item, above=_AND) for item in node.items)
    if isinstance(node, Not):
        return "not " + _wrap(node.item, above=_NOT - 1)
    if isinstance(node, Compare):
        return f"{_field(node.field)} {node.op.value} {format_value(node.value)}"
    if isinstance(node, In):
        values = ", ".join(format_value(value) for value in node.values)
        return f"{_field(node.field)} {node.op.value} ({values})"
    if isinstance(node, IsNull):
        return f"{_field(node.field)} {node.op.value}"
    return _call(node)


def format_value(value: Value) -> str:
    """Return `value` as a literal: ``"text"``, ``42``, ``2.5``, ``2026-01-01``, ``30d``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} has no literal")
        text = format(value, "f")
        return text if "." in text else text + ".0"
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, Symbol):
        if not _NAME.fullmatch(value.name) or value.name.lower() in KEYWORDS:
            raise ValueError(f"{value.name!r} cannot be written as a bare word; use a string")
        return value.name
    return _string(value)


def _wrap(node: Node, *, above: int) -> str:
    text = format_segment(node)
    return f"({text})" if _strength(node) <= above else text


def _strength(node: Node) -> int:
    if isinstance(node, Or):
        return _OR
    if isinstance(node, And):
        return _AND
    if isinstance(node, Not):
        return _NOT
    return _ATOM


def _field(name: str) -> str:
    if not _DOTTED_NAME.fullmatch(name) or name.lower() in KEYWORDS:
        raise ValueError(f"{name!r} is not a field name")
    return name


def _call(node: Call) -> str:
    if not _NAME.fullmatch(node.name) or node.name.lower() in KEYWORDS:
        raise ValueError(f"{node.name!r} is not a function name")
    parts = [format_value(value) for value in node.args]
    for key, value in node.kwargs:
        if not _NAME.fullmatch(key) or key.lower() in KEYWORDS:
            raise ValueError(f"{key!r} is not an argument name")
        parts.append(f"{key} = {format_value(value)}")
    return f"{node.name}({', '.join(parts)})"


def _string(value: str) -> str:
    out = []
    for char in value:
        if char in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _datetime(value: datetime) -> str:
    if value.microsecond:
        raise ValueError("date-time literals have whole seconds")
    text = (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
        f"T{value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    )
    offset = value.utcoffset()
    if offset is None:
        return text
    if offset % timedelta(minutes=1):
        raise ValueError("date-time offsets are whole minutes")
    if offset == timedelta(0):
        return text + "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
