"""Side-by-side comparison of two versions: every field and body, line by line.

Pure: it takes two `VersionText`s (what a version says, as plain strings) and returns sections of
rows a page shows in two columns, left the older version, right the newer.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

RowKind = Literal["equal", "changed", "added", "removed"]


@dataclass(frozen=True)
class Row:
    kind: RowKind
    left_number: int | None
    left: str
    right_number: int | None
    right: str


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]

    @property
    def changed(self) -> bool:
        return any(row.kind != "equal" for row in self.rows)


@dataclass(frozen=True)
class VersionText:
    """What a version says, field by field, as `title → text`, in display order."""

    label: str
    fields: dict[str, str] = field(default_factory=dict)


def _rows(left: str, right: str) -> tuple[Row, ...]:
    a, b = left.splitlines(), right.splitlines()
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [
                Row("equal", i + 1, a[i], j + 1, b[j])
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            ]
            continue
        pairs = max(i2 - i1, j2 - j1)
        for offset in range(pairs):
            i, j = i1 + offset, j1 + offset
            has_left, has_right = i < i2, j < j2
            kind: RowKind = (
                "changed" if has_left and has_right else ("removed" if has_left else "added")
            )
            rows.append(
                Row(
                    kind,
                    i + 1 if has_left else None,
                    a[i] if has_left else "",
                    j + 1 if has_right else None,
                    b[j] if has_right else "",
                )
            )
    return tuple(rows)


def version_diff(old: VersionText, new: VersionText) -> list[Section]:
    """Sections for every field either version has, in the order they first appear."""
    titles = list(dict.fromkeys([*old.fields, *new.fields]))
    return [
        Section(title, _rows(old.fields.get(title, ""), new.fields.get(title, "")))
        for title in titles
    ]
