"""Turns a segment query into tokens. Hand-written: one pass, exact positions, plain errors.

Words: names are ASCII letters, digits and ``_`` (not starting with a digit), optionally joined
by dots (``custom.region``). The keywords ``and or not in is null true false`` are recognised in
any case and only as whole undotted words.

Literals: strings in double or single quotes with the escapes ``\\\\ \\" \\' \\n \\r \\t`` and
``\\uXXXX``; integers and decimals (``42``, ``-3``, ``2.5``); dates ``YYYY-MM-DD``; date-times
``YYYY-MM-DDTHH:MM[:SS]`` with an optional ``Z`` or ``+HH:MM`` offset; durations ``12h``, ``30d``,
``2w``. Punctuation: ``( ) , = != < <= > >=``.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

from carereach.audience.segments.errors import SegmentSyntaxError
from carereach.audience.segments.nodes import Duration, DurationUnit

MAX_QUERY_LENGTH = 10_000  # characters; a segment is a sentence, not a data file
MAX_NUMBER_DIGITS = 30  # longer runs of digits are almost certainly a pasted identifier

KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false"})


class TokenKind(StrEnum):
    """What a token is; the value is how errors name it."""

    NAME = "name"  # field, function or bare value: kind, custom.region, hcp
    KEYWORD = "keyword"  # and, or, not, in, is, null, true, false (value is lower case)
    STRING = "string"  # "text" or 'text'
    NUMBER = "number"  # 42, -3, 2.5
    DATE = "date"  # 2026-01-01
    DATETIME = "date-time"  # 2026-01-01T09:30, 2026-01-01T09:30:00Z
    DURATION = "duration"  # 30d
    OPERATOR = "operator"  # = != < <= > >=
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    END = "end of query"


TokenValue = str | int | Decimal | date | datetime | Duration


@dataclasses.dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # exactly as written in the query
    value: TokenValue  # decoded: lower-case keyword, unescaped string, parsed literal
    pos: int  # 0-based offset of the first character

    def describe(self) -> str:
        """How an error message names this token: ``"and"``, ``number 42``, ``end of query``."""
        if self.kind is TokenKind.END:
            return "end of query"
        if self.kind in (TokenKind.KEYWORD, TokenKind.OPERATOR) or self.kind in _PUNCTUATION:
            return f'"{self.text}"'
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        if self.kind is TokenKind.STRING:
            return f"string {text}"
        if self.kind is TokenKind.NAME:
            return f'name "{text}"'
        return f"{self.kind.value} {text}"


_PUNCTUATION = frozenset({TokenKind.LPAREN, TokenKind.RPAREN, TokenKind.COMMA})

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*", re.ASCII)
# A literal that starts with a digit (or a minus and a digit) runs to the first character that
# cannot belong to any literal; the run is then matched whole, so `30x` or `2026-1-1` fail as one
# bad literal instead of lexing as several confusing tokens.
_LITERAL_RUN = re.compile(r"-?[0-9][0-9A-Za-z_.:+\-]*", re.ASCII)
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_DATETIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?",
    re.ASCII,
)
_DURATION = re.compile(r"([0-9]+)([A-Za-z]+)", re.ASCII)
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "r": "\r", "t": "\t"}
_OPERATORS = ("!=", "<=", ">=", "=", "<", ">")


def tokenize(query: str) -> list[Token]:
    """Return the tokens of `query`, ending with one END token; raise SegmentSyntaxError."""
    if len(query) > MAX_QUERY_LENGTH:
        raise SegmentSyntaxError(
            f"query is {len(query)} characters long; the limit is {MAX_QUERY_LENGTH}",
            query=query,
            position=MAX_QUERY_LENGTH,
        )
    return list(_Lexer(query).tokens())


class _Lexer:
    def __init__(self, query: str) -> None:
        self.query = query
        self.pos = 0

    def error(self, detail: str, position: int) -> SegmentSyntaxError:
        return SegmentSyntaxError(detail, query=self.query, position=position)

    def tokens(self) -> list[Token]:
        query = self.query
        out: list[Token] = []
        while True:
            while self.pos < len(query) and query[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(query):
                out.append(Token(TokenKind.END, "", "", self.pos))
                return out
            out.append(self.next_token())

    def next_token(self) -> Token:
        query, start = self.query, self.pos
        char = query[start]
        if char in "\"'":
            return self.string()
        if char == "(":
            self.pos += 1
            return Token(TokenKind.LPAREN, char, char, start)
        if char == ")":
            self.pos += 1
            return Token(TokenKind.RPAREN, char, char, start)
        if char == ",":
            self.pos += 1
            return Token(TokenKind.COMMA, char, char, start)
        run = _LITERAL_RUN.match(query, start)
        if run:
            self.pos = run.end()
            return self.literal(run.group(), start)
        name = _NAME.match(query, start)
        if name:
            self.pos = name.end()
            text = name.group()
            if self.pos < len(query) and query[self.pos] == ".":
                raise self.error(f'expected a name after "{text}."', self.pos + 1)
            if text.lower() in KEYWORDS:
                return Token(TokenKind.KEYWORD, text, text.lower(), start)
            return Token(TokenKind.NAME, text, text, start)
        for operator in _OPERATORS:
            if query.startswith(operator, start):
                self.pos += len(operator)
                return Token(TokenKind.OPERATOR, operator, operator, start)
        if char == "!":
            raise self.error('unexpected character "!"; did you mean "!=" or "not"?', start)
        if char == "-":
            raise self.error('unexpected character "-"; a minus sign must touch a number', start)
        shown = char if char.isprintable() else f"U+{ord(char):04X}"
        raise self.error(f'unexpected character "{shown}"', start)

    def string(self) -> Token:
        query, start = self.query, self.pos
        quote = query[start]
        parts: list[str] = []
        index = start + 1
        while index < len(query):
            char = query[index]
            if char == quote:
                self.pos = index + 1
                return Token(TokenKind.STRING, query[start : self.pos], "".join(parts), start)
            if char == "\\":
                index = self.escape(index, parts)
                continue
            parts.append(char)
            index += 1
        raise self.error(
            f"unterminated string: expected a closing {quote} before end of query", start
        )

    def escape(self, index: int, parts: list[str]) -> int:
        """Decode the escape at `index` (a backslash) into `parts`; return the next index."""
        query = self.query
        if index + 1 >= len(query):
            raise self.error("expected a character after the backslash, found end of query", index)
        code = query[index + 1]
        if code in _ESCAPES:
            parts.append(_ESCAPES[code])
            return index + 2
        if code == "u":
            digits = query[index + 2 : index + 6]
            if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                parts.append(chr(int(digits, 16)))
                return index + 6
            raise self.error(r"expected four hex digits after \u", index)
        shown = code if code.isprintable() else f"U+{ord(code):04X}"
        raise self.error(
            f'unknown escape "\\{shown}" in string; use \\\\ for a backslash, '
            "\\\" or \\' for a quote, \\n, \\r, \\t or \\uXXXX",
            index,
        )

    def literal(self, text: str, start: int) -> Token:
        if _NUMBER.fullmatch(text):
            digits = len(text.replace("-", "").replace(".", ""))
            if digits > MAX_NUMBER_DIGITS:
                raise self.error(
                    f"number has {digits} digits; the limit is {MAX_NUMBER_DIGITS} "
                    "(quote identifiers such as NPIs)",
                    start,
                )
            value: TokenValue = Decimal(text) if "." in text else int(text)
            return Token(TokenKind.NUMBER, text, value, start)
        if match := _DATE.fullmatch(text):
            return Token(TokenKind.DATE, text, self.parse_date(match, text, start), start)
        if match := _DATETIME.fullmatch(text):
            return Token(TokenKind.DATETIME, text, self.parse_datetime(match, text, start), start)
        if match := _DURATION.fullmatch(text):
            unit = match.group(2)
            try:
                duration_unit = DurationUnit(unit)
            except ValueError:
                raise self.error(
                    f'bad duration "{text}": unknown unit "{unit}"; '
                    "use h (hours), d (days) or w (weeks), e.g. 30d",
                    start,
                ) from None
            amount = match.group(1)
            if len(amount) > 6:
                raise self.error(f'bad duration "{text}": at most 6 digits', start)
            return Token(TokenKind.DURATION, text, Duration(int(amount), duration_unit), start)
        if text.startswith("-") and _DURATION.fullmatch(text[1:]):
            raise self.error(f'bad duration "{text}": a duration cannot be negative', start)
        if re.match(r"-?[0-9]{4}-", text):
            raise self.error(
                f'bad date "{text}": expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM]',
                start,
            )
        if re.fullmatch(r"-?[0-9]+[A-Za-z_]\w*", text, re.ASCII):
            raise self.error(
                f'bad duration "{text}": expected a whole number and a unit h, d or w, e.g. 30d',
                start,
            )
        raise self.error(
            f'bad number "{text}": expected digits with an optional fraction, e.g. 42 or 2.5',
            start,
        )

    def parse_date(self, match: re.Match[str], text: str, start: int) -> date:
        year, month, day = (int(part) for part in match.groups())
        try:
            return date(year, month, day)
        except ValueError as exc:
            raise self.error(f'bad date "{text}": {exc}', start) from None

    def parse_datetime(self, match: re.Match[str], text: str, start: int) -> datetime:
        year, month, day, hour, minute = (int(part) for part in match.groups()[:5])
        second = int(match.group(6) or 0)
        offset = match.group(7)
        tzinfo: timezone | None = None
        if offset == "Z":
            tzinfo = UTC
        elif offset:
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise self.error(f'bad date-time "{text}": offset out of range', start)
            tzinfo = timezone(sign * timedelta(hours=hours, minutes=minutes))
        try:
            return datetime(year, month, day, hour, minute, second, tzinfo=tzinfo)
        except ValueError as exc:
            raise self.error(f'bad date-time "{text}": {exc}', start) from None
