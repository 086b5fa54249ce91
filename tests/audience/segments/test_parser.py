"""The segment query parser and printer: shapes, precedence, literals, and every syntax error."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carereach.audience.segments.errors import SegmentSyntaxError
from carereach.audience.segments.lexer import KEYWORDS, MAX_QUERY_LENGTH, TokenKind, tokenize
from carereach.audience.segments.nodes import (
    COMPARISON_OPERATORS,
    And,
    Call,
    Compare,
    Duration,
    DurationUnit,
    In,
    IsNull,
    Node,
    Not,
    Operator,
    Or,
    Symbol,
    Value,
)
from carereach.audience.segments.parser import MAX_DEPTH, parse_segment
from carereach.audience.segments.printer import format_segment, format_value
from carereach.errors import ValidationError


def eq(field: str, value: Value) -> Compare:
    return Compare(field, Operator.EQ, value)


# -- the examples from the design ---------------------------------------------------------------


def test_hcp_specialty_state() -> None:
    node = parse_segment(
        'kind = hcp and specialty in ("208000000X", "207Q00000X") and state = "CA"'
    )
    assert node == And(
        (
            eq("kind", Symbol("hcp")),
            In("specialty", ("208000000X", "207Q00000X")),
            eq("state", "CA"),
        )
    )


def test_patient_persona_language() -> None:
    node = parse_segment('kind = patient and persona = "busy-parent" and language = "es"')
    assert node == And(
        (eq("kind", Symbol("patient")), eq("persona", "busy-parent"), eq("language", "es"))
    )


def test_grouping_custom_field_and_not() -> None:
    node = parse_segment('(tag = "vip" or custom.region != "north") and not status = "deceased"')
    assert node == And(
        (
            Or((eq("tag", "vip"), Compare("custom.region", Operator.NE, "north"))),
            Not(eq("status", "deceased")),
        )
    )


def test_date_and_is_not_null() -> None:
    node = parse_segment("created_at >= 2026-01-01 and npi is not null")
    assert node == And(
        (Compare("created_at", Operator.GE, date(2026, 1, 1)), IsNull("npi", negated=True))
    )


def test_function_calls() -> None:
    node = parse_segment(
        'clicked(content = "x", within = 30d) and consented(sms, "podcast") and replied()'
    )
    assert node == And(
        (
            Call("clicked", (), (("content", "x"), ("within", Duration(30, DurationUnit.DAYS)))),
            Call("consented", (Symbol("sms"), "podcast")),
            Call("replied"),
        )
    )


def test_call_mixes_positional_and_keyword_arguments() -> None:
    node = parse_segment("consented(sms, program = 'podcast')")
    assert node == Call("consented", (Symbol("sms"),), (("program", "podcast"),))


# -- operators and precedence ------------------------------------------------------------------


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_comparison_operators(op: str) -> None:
    assert parse_segment(f"age {op} 40") == Compare("age", Operator(op), 40)


def test_operators_need_no_spaces() -> None:
    assert parse_segment("age>=40 and kind!=hcp") == And(
        (Compare("age", Operator.GE, 40), Compare("kind", Operator.NE, Symbol("hcp")))
    )


def test_in_and_not_in() -> None:
    assert parse_segment("kind in (hcp)") == In("kind", (Symbol("hcp"),))
    assert parse_segment("kind not in (hcp, patient)") == In(
        "kind", (Symbol("hcp"), Symbol("patient")), negated=True
    )


def test_is_null_and_is_not_null() -> None:
    assert parse_segment("npi is null") == IsNull("npi")
    assert parse_segment("npi is not null") == IsNull("npi", negated=True)


def test_and_binds_tighter_than_or() -> None:
    assert parse_segment("a = 1 or b = 2 and c = 3") == Or(
        (eq("a", 1), And((eq("b", 2), eq("c", 3))))
    )
    assert parse_segment("a = 1 and b = 2 or c = 3") == Or(
        (And((eq("a", 1), eq("b", 2))), eq("c", 3))
    )


def test_not_binds_tighter_than_and() -> None:
    assert parse_segment("not a = 1 and b = 2") == And((Not(eq("a", 1)), eq("b", 2)))
    assert parse_segment("not not a = 1") == Not(Not(eq("a", 1)))


def test_parentheses_override_precedence() -> None:
    assert parse_segment("(a = 1 or b = 2) and c = 3") == And(
        (Or((eq("a", 1), eq("b", 2))), eq("c", 3))
    )
    assert parse_segment("not (a = 1 and b = 2)") == Not(And((eq("a", 1), eq("b", 2))))


def test_chains_are_one_node_and_explicit_groups_are_kept() -> None:
    assert parse_segment("a = 1 and b = 2 and c = 3") == And((eq("a", 1), eq("b", 2), eq("c", 3)))
    assert parse_segment("a = 1 and (b = 2 and c = 3)") == And(
        (eq("a", 1), And((eq("b", 2), eq("c", 3))))
    )
    assert parse_segment("((a = 1))") == eq("a", 1)


def test_keywords_are_case_insensitive() -> None:
    lower = parse_segment("not a is not null and b not in (1) or c = true and d = false")
    upper = parse_segment("NOT a IS NOT NULL AND b NOT IN (1) OR c = TRUE And d = False")
    assert lower == upper


def test_spacing_and_newlines_do_not_matter() -> None:
    assert parse_segment("a=1\n  and\tb = 2") == parse_segment("a = 1 and b = 2")


# -- literals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ('"CA"', "CA"),
        ("'CA'", "CA"),
        ('""', ""),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'it\'s'", "it's"),
        ("'say \"hi\"'", 'say "hi"'),
        ('"it\'s"', "it's"),
        (r'"back\\slash"', "back\\slash"),
        (r'"a\nb\tc\rd"', "a\nb\tc\rd"),
        (r'"caf\u00e9"', "café"),
        ('"café ☕"', "café ☕"),
        ("42", 42),
        ("-3", -3),
        ("0", 0),
        ("2.50", Decimal("2.50")),
        ("-0.5", Decimal("-0.5")),
        ("true", True),
        ("False", False),
        ("2026-01-31", date(2026, 1, 31)),
        ("2026-01-31T09:30", datetime(2026, 1, 31, 9, 30)),  # noqa: DTZ001 (read in schema zone)
        ("2026-01-31T09:30:15Z", datetime(2026, 1, 31, 9, 30, 15, tzinfo=UTC)),
        (
            "2026-01-31T09:30-05:00",
            datetime(2026, 1, 31, 9, 30, tzinfo=timezone(timedelta(hours=-5))),
        ),
        ("12h", Duration(12, DurationUnit.HOURS)),
        ("30d", Duration(30, DurationUnit.DAYS)),
        ("2w", Duration(2, DurationUnit.WEEKS)),
        ("hcp", Symbol("hcp")),
        ("HCP", Symbol("HCP")),
        ("_x1", Symbol("_x1")),
    ],
)
def test_literals(literal: str, value: Value) -> None:
    node = parse_segment(f"f = {literal}")
    assert isinstance(node, Compare)
    assert node.value == value
    assert type(node.value) is type(value)


def test_duration_as_timedelta() -> None:
    assert Duration(2, DurationUnit.WEEKS).as_timedelta() == timedelta(days=14)
    assert Duration(12, DurationUnit.HOURS).as_timedelta() == timedelta(hours=12)


def test_dotted_field_names() -> None:
    assert parse_segment('custom.region = "north"') == eq("custom.region", "north")
    assert parse_segment("a.b.c is null") == IsNull("a.b.c")


def test_dotted_keywords_are_names() -> None:
    assert parse_segment("custom.and = 1") == eq("custom.and", 1)


def test_positions_are_kept_but_not_compared() -> None:
    node = parse_segment('kind = hcp and  state = "CA"')
    assert isinstance(node, And)
    second = node.items[1]
    assert isinstance(second, Compare)
    assert (second.pos, second.op_pos, second.value_pos) == (16, 22, 24)
    in_node = parse_segment("x in (1,  2)")
    assert isinstance(in_node, In)
    assert in_node.value_positions == (6, 10)
    call = parse_segment("f(a, k = 1)")
    assert isinstance(call, Call)
    assert (call.pos, call.arg_positions, call.kwarg_positions, call.kwarg_value_positions) == (
        0,
        (2,),
        (5,),
        (9,),
    )
    assert call.end_pos == 10


def test_tokens() -> None:
    kinds = [token.kind for token in tokenize("a.b != 'x' (1, 2w)")]
    assert kinds == [
        TokenKind.NAME,
        TokenKind.OPERATOR,
        TokenKind.STRING,
        TokenKind.LPAREN,
        TokenKind.NUMBER,
        TokenKind.COMMA,
        TokenKind.DURATION,
        TokenKind.RPAREN,
        TokenKind.END,
    ]


# -- errors ------------------------------------------------------------------------------------


def test_error_is_a_validation_error_with_position_line_and_column() -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse_segment('kind = hcp\nand state = "CA\n')
    error = caught.value
    assert isinstance(error, ValidationError)
    assert error.position == 23
    assert (error.line, error.column) == (2, 13)
    assert error.message == (
        'position 23: unterminated string: expected a closing " before end of query'
    )
    assert error.detail.startswith("unterminated string")
    assert error.as_dict() == {
        "code": "invalid",
        "message": error.message,
        "field": "query",
        "position": 23,
        "line": 2,
        "column": 13,
    }


def test_missing_value_message_names_what_was_expected_and_found() -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse_segment("kind = hcp and state =")
    assert caught.value.message == ('position 22: expected a value after "=", found end of query')


SYNTAX_ERRORS = [
    # (query, position, words in the message)
    ("", 0, "empty query"),
    ("   \n ", 5, "empty query"),
    ('kind = "hcp', 7, 'unterminated string: expected a closing "'),
    ("kind = 'hcp", 7, "unterminated string: expected a closing '"),
    ('kind = "hcp\\', 11, "after the backslash, found end of query"),
    (r'kind = "a\qb"', 9, r'unknown escape "\q"'),
    (r'kind = "\u12"', 8, r"four hex digits after \u"),
    ("kind =", 6, 'expected a value after "=", found end of query'),
    ("kind = = hcp", 7, 'expected a value after "=", found "="'),
    ("kind = and", 7, 'expected a value after "=", found "and"'),
    ("kind = (hcp)", 7, 'expected a value after "=", found "("'),
    ("kind", 4, 'expected an operator (=, !=, <, <=, >, >=, in, not in, is null, is not null) '
     'after name "kind", found end of query'),
    ('tag contains "x"', 4, 'unknown operator "contains"'),
    ("kind == hcp", 6, 'expected a value after "=", found "="'),
    ("kind ! hcp", 5, 'unexpected character "!"; did you mean "!=" or "not"?'),
    ("kind @ hcp", 5, 'unexpected character "@"'),
    ("kind = hcp;", 10, 'unexpected character ";"'),
    ("a = - 1", 4, "a minus sign must touch a number"),
    ("kind = null", 7, 'use "is null" or "is not null" to test for an empty field, not "= null"'),
    ("kind in (null)", 9, 'null is not a value here; use "is null"'),
    ("kind is hcp", 8, 'expected "null" after "is", found name "hcp"'),
    ("kind is not", 11, 'expected "null" after "not", found end of query'),
    ("kind not = hcp", 9, 'expected "in" after "not", found "="'),
    ("kind in hcp", 8, 'expected "(" to start a list of values after "in", found name "hcp"'),
    ("kind in ()", 9, 'expected a value after "(", found ")"'),
    ("kind in (hcp,)", 13, 'expected a value after ",", found ")"'),
    ("kind in (hcp patient)", 13, 'expected "," or ")" after name "hcp", found name "patient"; '
     "the list at position 8 is not closed"),
    ("kind in (hcp", 12, "the list at position 8 is not closed"),
    ("kind = custom.region", 7, "a field cannot be compared with another field"),
    ("created_at >= 2026-02-30", 14, 'bad date "2026-02-30": day is out of range for month'),
    ("created_at >= 2026-13-01", 14, 'bad date "2026-13-01": month must be in 1..12'),
    ("created_at >= 2026-1-1", 14, 'bad date "2026-1-1": expected YYYY-MM-DD'),
    ("created_at >= 2026-01-01T25:00", 14, 'bad date-time "2026-01-01T25:00"'),
    ("created_at >= 2026-01-01T10:00+24:00", 14, "offset out of range"),
    ("replied(within = 30x)", 17, 'bad duration "30x": unknown unit "x"; use h (hours), d '),
    ("replied(within = 30days)", 17, 'bad duration "30days": unknown unit "days"'),
    ("replied(within = -3d)", 17, 'bad duration "-3d": a duration cannot be negative'),
    ("replied(within = 1234567d)", 17, "at most 6 digits"),
    ("replied(within = 3_d)", 17, 'bad duration "3_d": expected a whole number and a unit'),
    ("age = 1.2.3", 6, 'bad number "1.2.3"'),
    ("age = 1" + "0" * 40, 6, "number has 41 digits"),
    ("(kind = hcp", 11, 'expected ")" after name "hcp", found end of query; '
     'the "(" at position 0 is not closed'),
    ("((kind = hcp)", 13, 'the "(" at position 0 is not closed'),
    ("kind = hcp)", 10, 'unbalanced ")": there is no "(" for it to close'),
    ("()", 1, 'expected a condition (a field name, a function or "(") after "(", found ")"'),
    (")", 0, 'expected a condition (a field name, a function or "("), found ")"'),
    ("kind = hcp hcp", 11, 'expected "and", "or" or end of query after name "hcp", '
     'found name "hcp"'),
    ("kind = hcp and", 14, 'expected a condition (a field name, a function or "(") after "and"'),
    ("kind = hcp or or b = 1", 14, 'after "or", found "or"'),
    ("and kind = hcp", 0, 'expected a condition (a field name, a function or "("), found "and"'),
    ("not", 3, 'expected a condition (a field name, a function or "(") after "not"'),
    ("42 = age", 0, "found number 42"),
    ('"kind" = hcp', 0, 'found string "kind"'),
    ("custom. = 1", 7, 'expected a name after "custom."'),
    ("f(a = 1, b)", 9, "positional argument follows keyword argument in f(...)"),
    ("f(a = 1, A = 2)", 9, 'argument "A" is given twice'),
    ("f(a.b = 1)", 2, 'argument names have no dots: "a.b"'),
    ("f(1 2)", 4, 'expected "," or ")" after number 1, found number 2; the arguments of f( at '
     "position 1 are not closed"),
    ("f(1", 3, "are not closed"),
    ("f(,)", 2, 'expected a value after "(", found ","'),
    ("a = 1 and f(", 12, 'expected a value after "(", found end of query'),
]  # fmt: skip


@pytest.mark.parametrize(("query", "position", "words"), SYNTAX_ERRORS)
def test_syntax_errors(query: str, position: int, words: str) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        parse_segment(query)
    assert caught.value.position == position, caught.value.message
    assert words in caught.value.message
    assert caught.value.message.startswith(f"position {position}: ")


def test_nesting_is_limited() -> None:
    parse_segment("(" * MAX_DEPTH + "a = 1" + ")" * MAX_DEPTH)
    with pytest.raises(SegmentSyntaxError, match="nests deeper than"):
        parse_segment("(" * (MAX_DEPTH + 1) + "a = 1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(SegmentSyntaxError, match="nests deeper than"):
        parse_segment("not " * 1000 + "a = 1")


def test_length_is_limited() -> None:
    with pytest.raises(SegmentSyntaxError, match="the limit is") as caught:
        parse_segment("a = 1 or " * (MAX_QUERY_LENGTH // 9 + 1) + "a = 1")
    assert caught.value.position == MAX_QUERY_LENGTH


def test_unprintable_characters_are_named_by_code_point() -> None:
    with pytest.raises(SegmentSyntaxError, match=r'unexpected character "U\+0007"'):
        parse_segment("a = 1 \x07")


def test_non_ascii_digits_and_letters_are_not_names_or_numbers() -> None:
    with pytest.raises(SegmentSyntaxError, match="unexpected character"):
        parse_segment("a = ٣")
    with pytest.raises(SegmentSyntaxError, match="unexpected character"):
        parse_segment("café = 1")


# -- printer -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        (
            "kind = hcp AND specialty IN ('208000000X','207Q00000X') and state='CA'",
            'kind = hcp and specialty in ("208000000X", "207Q00000X") and state = "CA"',
        ),
        (
            "(tag = 'vip' or custom.region != 'north') and not status = 'deceased'",
            '(tag = "vip" or custom.region != "north") and not status = "deceased"',
        ),
        ("a = 1 or (b = 2 or c = 3)", "a = 1 or (b = 2 or c = 3)"),
        ("(a = 1 or b = 2) or c = 3", "(a = 1 or b = 2) or c = 3"),
        ("a = 1 or b = 2 and c = 3", "a = 1 or b = 2 and c = 3"),
        ("not (a = 1 or b = 2)", "not (a = 1 or b = 2)"),
        ("not not a IS NOT NULL", "not not a is not null"),
        ("x not in (1, 2.50, -3)", "x not in (1, 2.50, -3)"),
        ("f( sms ,program='p', within=30d )", 'f(sms, program = "p", within = 30d)'),
        ("t >= 2026-01-01T09:30", "t >= 2026-01-01T09:30:00"),
        ("t >= 2026-01-01T09:30:00+00:00", "t >= 2026-01-01T09:30:00Z"),
        ("t < 2026-01-01T09:30-05:30", "t < 2026-01-01T09:30:00-05:30"),
        (r"s = 'a\"b\\c' and t = '\u0001'", r's = "a\"b\\c" and t = "\u0001"'),
        ("replied()", "replied()"),
    ],
)
def test_canonical_printing(query: str, canonical: str) -> None:
    assert format_segment(parse_segment(query)) == canonical
    assert parse_segment(canonical) == parse_segment(query)


@pytest.mark.parametrize(
    "node",
    [
        eq("and", 1),
        eq("a b", 1),
        eq("a", Symbol("or")),
        eq("a", Symbol("x.y")),
        Call("not"),
        Call("f", (), (("in", 1),)),
        eq("a", datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=UTC)),
        eq("a", datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30)))),
        eq("a", Decimal("NaN")),
    ],
)
def test_printer_refuses_trees_no_query_produces(node: Node) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (the message varies by case)
        format_segment(node)


def test_format_value() -> None:
    assert format_value(Decimal("1E-7")) == "0.0000001"
    assert format_value(Decimal("5")) == "5.0"
    assert format_value(date(5, 1, 2)) == "0005-01-02"


def test_nodes_refuse_malformed_shapes() -> None:
    with pytest.raises(ValueError, match="comparison operator"):
        Compare("a", Operator.IN, 1)
    with pytest.raises(ValueError, match="at least one value"):
        In("a", ())
    with pytest.raises(ValueError, match="at least two"):
        And((eq("a", 1),))
    with pytest.raises(ValueError, match="at least two"):
        Or(())


# -- properties --------------------------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True).filter(
    lambda name: name.lower() not in KEYWORDS
)
_fields = st.one_of(_names, st.builds(lambda a, b: f"{a}.{b}", _names, _names))
_offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
)
_values: st.SearchStrategy[Value] = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, min_value=-(10**6), max_value=10**6
    ),
    st.booleans(),
    st.dates(),
    st.datetimes().map(lambda moment: moment.replace(microsecond=0)),
    st.datetimes(
        min_value=datetime(2, 1, 1),  # noqa: DTZ001 (hypothesis bounds are naive)
        max_value=datetime(9998, 12, 31),  # noqa: DTZ001
        timezones=_offsets,
    ).map(lambda moment: moment.replace(microsecond=0)),
    st.builds(Duration, st.integers(min_value=0, max_value=999_999), st.sampled_from(DurationUnit)),
    _names.map(Symbol),
)
_leaves: st.SearchStrategy[Node] = st.one_of(
    st.builds(Compare, _fields, st.sampled_from(sorted(COMPARISON_OPERATORS)), _values),
    st.builds(
        In, _fields, st.lists(_values, min_size=1, max_size=3).map(tuple), negated=st.booleans()
    ),
    st.builds(IsNull, _fields, negated=st.booleans()),
    st.builds(
        Call,
        _names,
        st.lists(_values, max_size=3).map(tuple),
        st.lists(
            st.tuples(_names, _values), max_size=3, unique_by=lambda pair: pair[0].lower()
        ).map(tuple),
    ),
)
_trees: st.SearchStrategy[Node] = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
        st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
        st.builds(Not, children),
    ),
    max_leaves=10,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_trees)
def test_printing_then_parsing_gives_the_same_tree(node: Node) -> None:
    assert parse_segment(format_segment(node)) == node


_fragments = st.sampled_from(
    [
        "kind", "custom.region", "f", "(", ")", ",", "=", "!=", "<", "<=", ">=", ">", "!", "-",
        "and", "OR", "not", "in", "is", "null", "true", '"x', '"y"', "'z'", "\\", '"\\u00', "1",
        "-2", "3.5", "2026-01-01", "2026-02-30", "2026-01-01T10:00Z", "30d", "7x", ".", " ",
        "\n", "é", "٣", "\x00",
    ]
)  # fmt: skip


@settings(max_examples=500)
@given(st.one_of(st.text(max_size=60), st.lists(_fragments, max_size=25).map("".join)))
def test_parser_raises_only_segment_syntax_errors(text: str) -> None:
    result = _parse_or_error(text)
    if isinstance(result, SegmentSyntaxError):
        assert 0 <= result.position <= len(text)
        assert result.line >= 1
        assert result.column >= 1
    else:
        assert parse_segment(format_segment(result)) == result


@given(st.lists(_fragments, max_size=25).map(" ".join))
def test_spaced_token_soup_raises_only_segment_syntax_errors(text: str) -> None:
    result = _parse_or_error(text)
    if not isinstance(result, SegmentSyntaxError):
        assert parse_segment(format_segment(result)) == result


def _parse_or_error(text: str) -> Node | SegmentSyntaxError:
    """The tree, or the error; anything else the parser raises fails the test."""
    try:
        return parse_segment(text)
    except SegmentSyntaxError as error:
        return error


def test_dotted_function_name_is_a_syntax_error() -> None:
    # Found by hypothesis: the parser took it, and the printer then refused it.
    with pytest.raises(SegmentSyntaxError, match=r'function names have no dots: "custom\.region"'):
        parse_segment("custom.region ( )")
