"""Recursive-descent parser from segment query text to the tree in `nodes`.

Grammar (EBNF; keywords in any case; docs/segments.md has the full reference)::

    query      = or_expr END ;
    or_expr    = and_expr { "or" and_expr } ;
    and_expr   = not_expr { "and" not_expr } ;
    not_expr   = "not" not_expr | primary ;
    primary    = "(" or_expr ")" | call | condition ;
    call       = NAME "(" [ argument { "," argument } ] ")" ;
    argument   = [ NAME "=" ] value ;
    condition  = field ( compare_op value
                       | [ "not" ] "in" "(" value { "," value } ")"
                       | "is" [ "not" ] "null" ) ;
    field      = NAME ;                       (* may be dotted: custom.region *)
    compare_op = "=" | "!=" | "<" | "<=" | ">" | ">=" ;
    value      = STRING | NUMBER | DATE | DATETIME | DURATION | "true" | "false" | NAME ;

Precedence, tightest first: ``not``, ``and``, ``or``. The parser checks only the shape of the
query; whether a field, operator, value or function fits the schema is checked by the compiler,
which reports through the same `SegmentSyntaxError` with positions kept in the tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from carereach.audience.segments.errors import SegmentSyntaxError
from carereach.audience.segments.lexer import Token, TokenKind, tokenize
from carereach.audience.segments.nodes import (
    And,
    Call,
    Compare,
    In,
    IsNull,
    Node,
    Not,
    Operator,
    Or,
    Symbol,
    Value,
)

MAX_DEPTH = 50  # nested parentheses and `not`s; deeper is a machine's query or an attack

OPERATOR_LIST = "=, !=, <, <=, >, >=, in, not in, is null, is not null"


def parse_segment(query: str) -> Node:
    """Parse `query` into a tree; raise SegmentSyntaxError with the position of the fault."""
    return _Parser(query).parse()


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.index = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    @property
    def previous(self) -> Token | None:
        return self.tokens[self.index - 1] if self.index else None

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.current
        if token.kind is not TokenKind.END:
            self.index += 1
        return token

    def at(self, kind: TokenKind) -> bool:
        return self.current.kind is kind

    def at_keyword(self, word: str) -> bool:
        return self.at(TokenKind.KEYWORD) and self.current.value == word

    def error(self, detail: str, position: int) -> SegmentSyntaxError:
        return SegmentSyntaxError(detail, query=self.query, position=position)

    def expected(self, what: str, note: str = "") -> SegmentSyntaxError:
        """``expected <what> after <previous token>, found <current token>[; <note>]``."""
        after = f" after {self.previous.describe()}" if self.previous else ""
        found = self.current.describe()
        note = f"; {note}" if note else ""
        return self.error(f"expected {what}{after}, found {found}{note}", self.current.pos)

    @contextmanager
    def nested(self, opener: Token) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"query nests deeper than {MAX_DEPTH} levels", opener.pos)
        try:
            yield
        finally:
            self.depth -= 1

    # -- grammar -------------------------------------------------------------------------------

    def parse(self) -> Node:
        if self.at(TokenKind.END):
            raise self.error(
                'empty query: expected a condition such as kind = hcp or tag = "vip"',
                self.current.pos,
            )
        node = self.or_expr()
        token = self.current
        if token.kind is TokenKind.RPAREN:
            raise self.error('unbalanced ")": there is no "(" for it to close', token.pos)
        if token.kind is not TokenKind.END:
            raise self.expected('"and", "or" or end of query')
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.at_keyword("or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.at_keyword("and"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        if self.at_keyword("not"):
            token = self.advance()
            with self.nested(token):
                return Not(self.not_expr(), pos=token.pos)
        return self.primary()

    def primary(self) -> Node:
        token = self.current
        if token.kind is TokenKind.LPAREN:
            self.advance()
            with self.nested(token):
                node = self.or_expr()
            if not self.at(TokenKind.RPAREN):
                raise self.expected('")"', f'the "(" at position {token.pos} is not closed')
            self.advance()
            return node
        if token.kind is TokenKind.NAME:
            if self.peek().kind is TokenKind.LPAREN:
                return self.call()
            return self.condition()
        raise self.expected('a condition (a field name, a function or "(")')

    def condition(self) -> Node:
        field = self.advance()
        name = field.text
        token = self.current
        if token.kind is TokenKind.OPERATOR:
            self.advance()
            value, value_pos = self.value()
            return Compare(
                name,
                Operator(token.text),
                value,
                pos=field.pos,
                op_pos=token.pos,
                value_pos=value_pos,
            )
        if self.at_keyword("in") or self.at_keyword("not"):
            negated = self.at_keyword("not")
            self.advance()
            if negated:
                if not self.at_keyword("in"):
                    raise self.expected('"in"')
                self.advance()
            values, positions = self.value_list()
            return In(
                name, values, negated=negated, pos=field.pos, op_pos=token.pos,
                value_positions=positions,
            )  # fmt: skip
        if self.at_keyword("is"):
            self.advance()
            negated = self.at_keyword("not")
            if negated:
                self.advance()
            if not self.at_keyword("null"):
                raise self.expected('"null"')
            self.advance()
            return IsNull(name, negated=negated, pos=field.pos, op_pos=token.pos)
        if token.kind is TokenKind.NAME:
            raise self.error(
                f'unknown operator "{token.text}"; expected one of {OPERATOR_LIST}', token.pos
            )
        raise self.expected(f"an operator ({OPERATOR_LIST})")

    def value(self) -> tuple[Value, int]:
        token = self.current
        kind = token.kind
        if kind in (
            TokenKind.STRING,
            TokenKind.NUMBER,
            TokenKind.DATE,
            TokenKind.DATETIME,
            TokenKind.DURATION,
        ):
            self.advance()
            return token.value, token.pos
        if kind is TokenKind.KEYWORD and token.value in ("true", "false"):
            self.advance()
            return token.value == "true", token.pos
        if kind is TokenKind.KEYWORD and token.value == "null":
            previous = self.previous
            if previous is not None and previous.kind is TokenKind.OPERATOR:
                raise self.error(
                    f'use "is null" or "is not null" to test for an empty field, '
                    f'not "{previous.text} null"',
                    token.pos,
                )
            raise self.error(
                'null is not a value here; use "is null" to test for an empty field', token.pos
            )
        if kind is TokenKind.NAME:
            if "." in token.text:
                raise self.error(
                    f'expected a value, found name "{token.text}" '
                    "(a field cannot be compared with another field; quote text that has dots)",
                    token.pos,
                )
            self.advance()
            return Symbol(token.text), token.pos
        raise self.expected("a value")

    def value_list(self) -> tuple[tuple[Value, ...], tuple[int, ...]]:
        if not self.at(TokenKind.LPAREN):
            raise self.expected('"(" to start a list of values')
        opener = self.advance()
        values: list[Value] = []
        positions: list[int] = []
        while True:
            value, position = self.value()
            values.append(value)
            positions.append(position)
            if self.at(TokenKind.COMMA):
                self.advance()
                continue
            if self.at(TokenKind.RPAREN):
                self.advance()
                return tuple(values), tuple(positions)
            raise self.expected('"," or ")"', f"the list at position {opener.pos} is not closed")

    def call(self) -> Call:
        name = self.advance()
        if "." in name.text:
            raise self.error(f'function names have no dots: "{name.text}"', name.pos)
        opener = self.advance()
        args: list[Value] = []
        arg_positions: list[int] = []
        kwargs: list[tuple[str, Value]] = []
        kwarg_positions: list[int] = []
        kwarg_value_positions: list[int] = []
        if not self.at(TokenKind.RPAREN):
            while True:
                token = self.current
                is_keyword_argument = (
                    token.kind is TokenKind.NAME
                    and self.peek().kind is TokenKind.OPERATOR
                    and self.peek().text == "="
                )
                if is_keyword_argument:
                    if "." in token.text:
                        raise self.error(f'argument names have no dots: "{token.text}"', token.pos)
                    key = token.text
                    if any(existing.lower() == key.lower() for existing, _ in kwargs):
                        raise self.error(f'argument "{key}" is given twice', token.pos)
                    self.advance()
                    self.advance()
                    value, value_pos = self.value()
                    kwargs.append((key, value))
                    kwarg_positions.append(token.pos)
                    kwarg_value_positions.append(value_pos)
                else:
                    if kwargs:
                        raise self.error(
                            f"positional argument follows keyword argument in {name.text}(...)",
                            token.pos,
                        )
                    value, value_pos = self.value()
                    args.append(value)
                    arg_positions.append(value_pos)
                if self.at(TokenKind.COMMA):
                    self.advance()
                    continue
                if self.at(TokenKind.RPAREN):
                    break
                raise self.expected(
                    '"," or ")"',
                    f"the arguments of {name.text}( at position {opener.pos} are not closed",
                )
        closer = self.advance()
        return Call(
            name.text,
            tuple(args),
            tuple(kwargs),
            pos=name.pos,
            arg_positions=tuple(arg_positions),
            kwarg_positions=tuple(kwarg_positions),
            kwarg_value_positions=tuple(kwarg_value_positions),
            end_pos=closer.pos,
        )
