"""The one error a segment query raises, with where in the query it went wrong."""

from __future__ import annotations

from carereach.errors import ValidationError


class SegmentSyntaxError(ValidationError):
    """A segment query that cannot be read or does not fit the schema.

    `position` is the 0-based character offset of the fault; `line` and `column` are 1-based.
    `detail` is the message without the position prefix (for showing under a caret); `message`
    is ``position N: <detail>``. Messages quote the query's own words, never contact data.
    `field` defaults to ``query``, the name of the segment text in the API and the console;
    ``as_dict()`` adds ``position``, ``line`` and ``column`` so a client can place a caret.
    """

    def __init__(self, detail: str, *, query: str, position: int, field: str = "query") -> None:
        position = max(0, min(position, len(query)))
        line = query.count("\n", 0, position) + 1
        column = position - (query.rfind("\n", 0, position) + 1) + 1
        super().__init__(f"position {position}: {detail}", field=field)
        self.detail = detail
        self.position = position
        self.line = line
        self.column = column

    def as_dict(self) -> dict[str, object]:
        data = super().as_dict()
        data["position"] = self.position
        data["line"] = self.line
        data["column"] = self.column
        return data
