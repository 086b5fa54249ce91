"""The segment compiler: Q objects per operator and type, schema errors, predicates, and real SQL.

The first half uses a small test schema and compares `Q` objects (no database). The second half
runs the default contact schema against the audience models: one SQL query per segment, no
duplicate rows, and the answers the query language promises.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Exists, OuterRef, Q
from hypothesis import given, settings
from hypothesis import strategies as st

from carereach.audience.segments.compiler import (
    compile_segment,
    segment_filter,
    validate_segment,
)
from carereach.audience.segments.errors import SegmentSyntaxError
from carereach.audience.segments.fields import (
    CONTACT_KINDS,
    CONTACT_STATUSES,
    BoundCall,
    FieldSpec,
    Param,
    PredicateSpec,
    Schema,
    ValueType,
    contact_fields,
    default_contact_schema,
    register_predicate,
    unregister_predicate,
)
from carereach.audience.segments.nodes import And, Call, Compare, Operator, Symbol
from carereach.errors import ConfigError
from tests.audience import factories

NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)

BUILD_CALLS: list[tuple[Operator, Any]] = []


def _reachable(op: Operator, value: Any) -> Q:
    BUILD_CALLS.append((op, value))
    return Q(phone_count__gt=0) if value else Q(phone_count=0)


def _replied(call: BoundCall) -> Q:
    return Q(last_reply_at__gte=call.now - call.arguments["within"])


def _consented(call: BoundCall) -> Q:
    return Q(consent__channel=call.arguments["channel"], consent__program=call.arguments["program"])


def make_schema() -> Schema:
    schema = Schema(
        [
            FieldSpec(
                "kind", ValueType.ENUM, path="kind", choices=("hcp", "patient"), nullable=False
            ),
            FieldSpec("name", ValueType.STRING, path="display_name"),
            FieldSpec("age", ValueType.INTEGER, path="age"),
            FieldSpec("born", ValueType.DATE, path="born_on"),
            FieldSpec("created_at", ValueType.DATETIME, path="created_at"),
            FieldSpec("vip", ValueType.BOOLEAN, path="is_vip"),
            FieldSpec("reachable", ValueType.BOOLEAN, build=_reachable),
            FieldSpec(
                "zip",
                ValueType.STRING,
                path="zip",
                normalize=lambda value: value.upper(),
                operators=frozenset({Operator.EQ, Operator.LT}),
            ),
        ],
        time_zone=NEW_YORK,
    )
    schema.register_predicate(
        "replied",
        _replied,
        params=[Param("within", ValueType.DURATION, required=True, positional=False)],
    )
    schema.register_predicate(
        "consented",
        _consented,
        params=[
            Param("channel", ValueType.ENUM, required=True, choices=("sms", "email")),
            Param("program", ValueType.STRING, default="any"),
        ],
    )
    return schema


SCHEMA = make_schema()


def compile_(query: str, schema: Schema = SCHEMA) -> Q:
    return compile_segment(query, schema=schema, now=NOW)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


# -- conditions ---------------------------------------------------------------------------------


def test_equality_on_a_choice_field() -> None:
    assert compile_("kind = hcp") == Q(kind__exact="hcp")
    assert str(compile_("kind = hcp")) == "(AND: ('kind__exact', 'hcp'))"


def test_field_names_keywords_and_choices_are_case_insensitive() -> None:
    assert compile_("KIND = HCP") == compile_("kind = 'hcp'")


def test_negated_operators_are_negations_of_their_partners() -> None:
    assert compile_("kind != hcp") == ~Q(kind__exact="hcp")
    assert compile_("kind not in (hcp, patient)") == ~Q(kind__in=["hcp", "patient"])
    assert compile_("name is null") == ~Q(display_name__gt="")
    assert compile_("not kind = hcp") == compile_("kind != hcp")


def test_in() -> None:
    assert compile_("age in (1, 2, 3)") == Q(age__in=[1, 2, 3])


@pytest.mark.parametrize(
    ("op", "lookup"), [("<", "lt"), ("<=", "lte"), (">", "gt"), (">=", "gte"), ("=", "exact")]
)
def test_ordering_on_numbers_and_dates(op: str, lookup: str) -> None:
    assert compile_(f"age {op} 40") == Q(**{f"age__{lookup}": 40})
    assert compile_(f"born {op} 1980-05-01") == Q(**{f"born_on__{lookup}": date(1980, 5, 1)})


def test_is_null_on_text_also_means_empty_text() -> None:
    assert compile_("name is not null") == Q(display_name__gt="")
    assert compile_("age is not null") == Q(age__isnull=False)
    assert compile_("age is null") == ~Q(age__isnull=False)


def test_precedence_reaches_the_q() -> None:
    a, b, c = Q(age__exact=1), Q(kind__exact="hcp"), Q(is_vip__exact=True)
    assert compile_("age = 1 or kind = hcp and vip = true") == a | (b & c)
    assert compile_("(age = 1 or kind = hcp) and vip = true") == (a | b) & c
    assert compile_("not age = 1 and kind = hcp") == ~a & b
    assert compile_("age = 1 and kind = hcp and vip = true") == a & b & c


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "created_at = 2026-01-01",
            Q(created_at__gte=ny(2026, 1, 1), created_at__lt=ny(2026, 1, 2)),
        ),
        (
            "created_at != 2026-01-01",
            ~Q(created_at__gte=ny(2026, 1, 1), created_at__lt=ny(2026, 1, 2)),
        ),
        ("created_at < 2026-01-01", Q(created_at__lt=ny(2026, 1, 1))),
        ("created_at <= 2026-01-01", Q(created_at__lt=ny(2026, 1, 2))),
        ("created_at > 2026-01-01", Q(created_at__gte=ny(2026, 1, 2))),
        ("created_at >= 2026-01-01", Q(created_at__gte=ny(2026, 1, 1))),
        ("created_at >= 2026-01-01T09:30", Q(created_at__gte=ny(2026, 1, 1, 9, 30))),
        (
            "created_at < 2026-01-01T09:30:00Z",
            Q(created_at__lt=datetime(2026, 1, 1, 9, 30, tzinfo=UTC)),
        ),
        (
            "created_at in (2026-01-01, 2026-01-03T10:00Z)",
            Q(created_at__gte=ny(2026, 1, 1), created_at__lt=ny(2026, 1, 2))
            | Q(created_at__in=[datetime(2026, 1, 3, 10, tzinfo=UTC)]),
        ),
        ("created_at in (2026-01-03T10:00Z)",
         Q(created_at__in=[datetime(2026, 1, 3, 10, tzinfo=UTC)])),
    ],
)  # fmt: skip
def test_a_date_on_a_date_time_field_is_the_whole_day_in_the_schema_zone(
    query: str, expected: Q
) -> None:
    assert compile_(query) == expected


def test_day_bounds_follow_daylight_saving() -> None:
    q = compile_("created_at = 2026-03-08")  # New York springs forward: a 23-hour day
    start, end = (value for _, value in q.children)  # type: ignore[misc]
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)


def test_fields_built_by_a_callable_get_positive_operators_only() -> None:
    BUILD_CALLS.clear()
    assert compile_("reachable = true") == Q(phone_count__gt=0)
    assert compile_("reachable != true") == ~Q(phone_count__gt=0)
    assert compile_("reachable is null") == ~Q(phone_count=0)
    assert BUILD_CALLS == [
        (Operator.EQ, True),
        (Operator.EQ, True),
        (Operator.IS_NOT_NULL, None),
    ]


def test_normalizers_clean_values() -> None:
    assert compile_("zip = 'ab1'") == Q(zip__exact="AB1")


def test_custom_fields_are_json_keys_compared_null_safely() -> None:
    q = compile_('custom.region != "north"')
    assert q.negated
    (case,) = q.children
    assert "custom_fields__region__exact" in str(case)
    assert "Case(" in repr(case) or "CASE" in str(case).upper()


def test_custom_field_values_become_json_values() -> None:
    def operand(query: str) -> Any:
        (case,) = compile_(query).children
        (when,) = case.cases  # type: ignore[union-attr]
        ((_, value),) = when.condition.children
        return value

    assert operand("custom.score in (1, 2.5, true)") == [1, 2.5, True]
    assert operand("custom.since >= 2026-01-01") == "2026-01-01"
    assert operand("custom.Region = north") == "north"
    (case,) = compile_("custom.Region = north").children
    assert "custom_fields__Region__exact" in str(case)  # keys keep their case


def test_multi_valued_fields_need_the_root_model() -> None:
    schema = Schema([FieldSpec("tag", ValueType.STRING, path="tags__name", multi_valued=True)])
    with pytest.raises(ConfigError, match='field "tag" crosses a to-many relation'):
        compile_segment('tag = "vip"', schema=schema)
    schema.model = "nosuchapp.Contact"
    with pytest.raises(ConfigError, match=r"nosuchapp\.Contact"):
        compile_segment('tag = "vip"', schema=schema)


def test_validate_segment_checks_without_a_model() -> None:
    node = validate_segment('kind = hcp and tag = "vip"', schema=default_contact_schema())
    assert isinstance(node, And)
    with pytest.raises(SegmentSyntaxError, match="unknown field"):
        validate_segment("kinds = hcp", schema=default_contact_schema())


def test_compile_refuses_a_naive_clock() -> None:
    with pytest.raises(ValueError, match="aware"):
        compile_segment("kind = hcp", schema=SCHEMA, now=datetime(2026, 1, 1))  # noqa: DTZ001


# -- predicates ---------------------------------------------------------------------------------


def test_predicate_gets_converted_arguments_defaults_and_the_clock() -> None:
    assert compile_("replied(within = 2w)") == Q(last_reply_at__gte=NOW - timedelta(days=14))
    assert compile_("consented(SMS)") == Q(consent__channel="sms", consent__program="any")
    assert compile_("consented(email, 'podcast')") == compile_(
        "Consented(program = podcast, channel = email)"
    )
    assert compile_("not replied(within = 12h)") == ~Q(last_reply_at__gte=NOW - timedelta(hours=12))


def test_handler_receives_the_call_node() -> None:
    seen: list[BoundCall] = []

    def handler(call: BoundCall) -> Q:
        seen.append(call)
        return Q(pk__in=[])

    schema = Schema(time_zone=NEW_YORK)
    schema.register_predicate("probe", handler, params=[Param("n", ValueType.INTEGER)])
    compile_segment("probe(3)", schema=schema, now=NOW)
    (call,) = seen
    assert call.node == Call("probe", (3,))
    assert call.name == "probe"
    assert call.arguments == {"n": 3}
    assert (call.now, call.time_zone) == (NOW, NEW_YORK)


def test_module_registry_feeds_default_schemas() -> None:
    def handler(call: BoundCall) -> Q:
        return Q(pk__in=[])

    register_predicate("segments_test_probe", handler, description="test")
    try:
        assert default_contact_schema().predicate("segments_test_probe") is not None
        with pytest.raises(ValueError, match="already registered"):
            register_predicate("segments_test_probe", handler)
        register_predicate("segments_test_probe", handler, replace=True)
    finally:
        unregister_predicate("segments_test_probe")
    assert default_contact_schema().predicate("segments_test_probe") is None
    with pytest.raises(ValueError, match="lower-case word"):
        register_predicate("Bad-Name", handler)


# -- errors -------------------------------------------------------------------------------------

SCHEMA_ERRORS = [
    # (query, position, words in the message)
    ("kinds = hcp", 0, 'unknown field "kinds"; did you mean "kind"?'),
    ("kind = hcp and colour = 1", 15, 'unknown field "colour"'),
    ("kind < hcp", 5, 'operator "<" cannot be used with choice field "kind"; '
     "use one of =, !=, in, not in"),
    ("kind is null", 5, 'operator "is null" cannot be used with choice field "kind"'),
    ("vip > true", 4, 'operator ">" cannot be used with true or false field "vip"'),
    ("zip in ('1')", 4, 'operator "in" cannot be used with text field "zip"; use one of =, <'),
    ("kind = hcpp", 7, 'field "kind": expected one of hcp, patient, found "hcpp"; '
     'did you mean "hcp"?'),
    ("kind in (hcp, doctor)", 14, 'field "kind": expected one of hcp, patient, found "doctor"'),
    ("kind = 1", 7, 'field "kind": expected one of hcp, patient, found number 1'),
    ('age = "40"', 6, 'field "age": expected a whole number, found string "40"'),
    ("age = 2.5", 6, 'field "age": expected a whole number, found number 2.5'),
    ("age = true", 6, "found boolean true"),
    ('created_at = "yesterday"', 13, 'field "created_at": expected a date (YYYY-MM-DD) or '
     'date-time (YYYY-MM-DDTHH:MM), found string "yesterday"'),
    ("created_at = 30d", 13, "found duration 30d"),
    ("born = 2026-01-01T10:00", 7, 'field "born": expected a date (YYYY-MM-DD), found '
     "date-time 2026-01-01T10:00:00"),
    ("vip = 1", 6, 'field "vip": expected true or false, found number 1'),
    ("name = 2026-01-01", 7, 'field "name": expected text (e.g. "CA"), found date 2026-01-01'),
    ("custom.x = 3d", 11, 'field "custom.x": expected text, a number, true/false or a date'),
    ("custom.a__b = 1", 0, 'unknown field "custom.a__b"'),
    ("custom.x_ = 1", 0, 'unknown field "custom.x_"'),
    ("custon.region = 1", 0, 'unknown field "custon.region"; did you mean "custom.region"?'),
    ("replyd(within = 1d)", 0, 'unknown function "replyd"; did you mean "replied"?'),
    ("kind(hcp)", 0, '"kind" is a field, not a function; write e.g. kind = "..."'),
    ("zzz()", 0, 'unknown function "zzz" (functions: consented, replied)'),
    ("replied(7d)", 8, "replied() takes no positional arguments; name them, e.g. "
     "replied(within = ...)"),
    ("consented(sms, 'p', 3)", 20, "consented() takes at most 2 positional arguments, found 3"),
    ("replied(withn = 7d)", 8, 'replied() has no argument "withn"; did you mean "within"? '
     "(arguments: within)"),
    ("consented(sms, channel = email)", 15, 'argument "channel" of consented() is given twice'),
    ("replied()", 8, 'replied() needs the argument "within" (duration)'),
    ("consented(program = 'p')", 23, 'consented() needs the argument "channel"'),
    ("replied(within = 7)", 17, 'argument "within" of replied(): expected a duration such as '
     "12h, 30d or 2w, found number 7"),
    ("consented(fax)", 10, 'argument "channel" of consented(): expected one of sms, email, '
     'found "fax"'),
]  # fmt: skip


@pytest.mark.parametrize(("query", "position", "words"), SCHEMA_ERRORS)
def test_schema_errors(query: str, position: int, words: str) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        compile_(query)
    assert caught.value.position == position, caught.value.message
    assert words in caught.value.message
    with pytest.raises(SegmentSyntaxError):
        validate_segment(query, schema=SCHEMA)


DEFAULT_SCHEMA_ERRORS = [
    ('kind = hcp and specilty in ("208000000X")', 15,
     'unknown field "specilty"; did you mean "specialty"?'),
    ('state = "california"', 8, 'field "state": invalid value string "california": expected '
     'a state code such as "CA"'),
    ('specialty = "207Q0000"', 12, "expected a NUCC taxonomy code such as 207Q00000X"),
    ("npi = 1234567893", 6, 'field "npi": expected text (e.g. "CA"), found number 1234567893'),
    ('npi = "12345"', 6, "an NPI is 10 digits"),
    ('time_zone = "Mars/Olympus_Mons"', 12, "expected an IANA time zone"),
    ('time_zone = "../etc/passwd"', 12, "expected an IANA time zone"),
    ('language = "english!"', 11, "expected a BCP 47 language tag"),
    ('persona = "busy parent"', 10, "expected a persona slug"),
    ('tag = "  "', 6, "expected non-empty text"),
    ("status = inactive", 9, "expected one of active, unreachable, deceased, merged"),
    ("kind is null", 5, 'operator "is null" cannot be used'),
    ("postal_code > 90000", 14, 'field "postal_code": expected text'),
    ("frobnicate(sms)", 0, 'unknown function "frobnicate"'),
]  # fmt: skip


@pytest.mark.parametrize(("query", "position", "words"), DEFAULT_SCHEMA_ERRORS)
def test_default_schema_errors(query: str, position: int, words: str) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        validate_segment(query, schema=default_contact_schema())
    assert caught.value.position == position, caught.value.message
    assert words in caught.value.message


def test_default_schema_normalizes_values() -> None:
    schema = default_contact_schema()
    assert compile_segment("language = 'EN-us'", schema=schema) == Q(language__exact="en-US")
    assert compile_segment("language = zh_hant_tw", schema=schema) == Q(
        language__exact="zh-Hant-TW"
    )
    assert compile_segment("persona = 'Busy-Parent'", schema=schema) == Q(
        persona__exact="busy-parent"
    )
    assert compile_segment("npi = '1234567893'", schema=schema) == Q(hcp__npi__exact="1234567893")
    assert compile_segment("territory is null", schema=schema) == ~Q(territory__code__gt="")
    assert compile_segment("time_zone = 'America/New_York'", schema=schema) == Q(
        time_zone__exact="America/New_York"
    )


def test_schema_refuses_malformed_definitions() -> None:
    with pytest.raises(ValueError, match="exactly one of path or build"):
        FieldSpec("a", ValueType.STRING)
    with pytest.raises(ValueError, match="exactly one of path or build"):
        FieldSpec("a", ValueType.STRING, path="a", build=_reachable)
    with pytest.raises(ValueError, match="without choices"):
        FieldSpec("a", ValueType.ENUM, path="a")
    with pytest.raises(ValueError, match="durations are for predicate arguments"):
        FieldSpec("a", ValueType.DURATION, path="a")
    with pytest.raises(ValueError, match="already defined"):
        Schema(
            [
                FieldSpec("a", ValueType.STRING, path="a"),
                FieldSpec("A", ValueType.INTEGER, path="b"),
            ]
        )
    with pytest.raises(ValueError, match="reserved for custom fields"):
        Schema([FieldSpec("a.b", ValueType.STRING, path="a")])
    with pytest.raises(ValueError, match="already registered"):
        SCHEMA.register_predicate("replied", _replied)
    with pytest.raises(ValueError, match="lower-case word"):
        Schema(predicates=[PredicateSpec("Replied", _replied)])
    with pytest.raises(ValueError, match="positional 'b' after named"):
        PredicateSpec(
            "p",
            _replied,
            (Param("a", ValueType.STRING, positional=False), Param("b", ValueType.STRING)),
        )
    with pytest.raises(ValueError, match="declares a parameter twice"):
        PredicateSpec("p", _replied, (Param("a", ValueType.STRING), Param("a", ValueType.STRING)))
    assert Schema(custom_prefix=None).field("custom.region") is None  # fmt: skip


def test_default_schema_matches_the_audience_models() -> None:
    from carereach.audience.models import ContactKind, ContactStatus

    assert set(CONTACT_KINDS) == set(ContactKind.values)
    assert set(CONTACT_STATUSES) == set(ContactStatus.values)


_fragments = st.sampled_from(
    [
        "kind", "KIND", "name", "age", "born", "created_at", "vip", "reachable", "zip",
        "custom.x", "custom.a__b", "replied", "consented", "zzz", "tag", "state", "specialty",
        "npi", "language", "time_zone", "persona", "territory", "postal_code", "status",
        "(", ")", ",", "=", "!=", "<", ">=", "and", "or", "not", "in", "is", "null", "true",
        "within", "channel", "program", "'x'", '"CA"', "'207q00000x'", "'America/New_York'",
        "hcp", "sms", "1", "2.5", "-3", "2026-01-01", "2026-01-01T10:00", "30d", "1234567893",
    ]
)  # fmt: skip


@settings(max_examples=400)
@given(st.lists(_fragments, max_size=14).map(" ".join))
def test_checking_raises_only_segment_syntax_errors(text: str) -> None:
    for schema in (SCHEMA, default_contact_schema()):
        error: SegmentSyntaxError | None = None
        try:
            validate_segment(text, schema=schema)
        except SegmentSyntaxError as raised:
            error = raised
        assert error is None or 0 <= error.position <= len(text)


def test_validate_returns_the_tree() -> None:
    assert validate_segment("kind = hcp", schema=SCHEMA) == Compare(
        "kind", Operator.EQ, Symbol("hcp")
    )


# -- against the audience models and a database -------------------------------------------------


@pytest.fixture
def contacts(db: None) -> dict[str, int]:
    from carereach.audience.models import (
        Contact,
        HcpProfile,
        PostalAddress,
        Specialty,
        Tag,
        Territory,
    )

    west = Territory.objects.create(code="west", name="West")
    tags = {name: Tag.objects.create(name=name) for name in ("vip", "a", "b")}
    # The migration loads them, but a transactional test on the same worker flushes them.
    factories.specialties()
    pediatrics = Specialty.objects.get(code="208000000X")
    family = Specialty.objects.get(code="207Q00000X")

    def contact(created: datetime, **fields: Any) -> Contact:
        return Contact.objects.create(created_at=created, updated_at=created, **fields)

    def address(person: Contact, state: str, postal_code: str) -> None:
        PostalAddress.objects.create(
            contact=person, line1="1 Main St", city="Town", state=state, postal_code=postal_code
        )

    c1 = contact(
        datetime(2026, 2, 1, 10, tzinfo=UTC),
        kind="hcp",
        language="en-US",
        territory=west,
        custom_fields={"region": "north"},
    )
    c1.tags.set([tags["vip"], tags["a"], tags["b"]])
    HcpProfile.objects.create(contact=c1, npi="1234567893").specialties.set([pediatrics])
    address(c1, "CA", "94110")
    address(c1, "CA", "94016")  # two addresses in one state: still one member

    c2 = contact(datetime(2025, 12, 31, 23, 30, tzinfo=UTC), kind="hcp", language="en")
    c2.tags.set([tags["a"]])
    HcpProfile.objects.create(contact=c2, npi=None).specialties.set([family])
    address(c2, "NY", "10001")

    c3 = contact(
        datetime(2026, 1, 1, 5, tzinfo=UTC),
        kind="patient",
        status="deceased",
        persona="busy-parent",
        language="es",
        custom_fields={"region": None},
    )
    c3.tags.set([tags["vip"]])
    address(c3, "CA", "90001")

    contact(
        datetime(2026, 1, 1, tzinfo=UTC),
        kind="patient",
        persona="busy-parent",
        language="es",
        custom_fields={"region": "south", "score": 7},
    )
    contact(datetime(2026, 3, 1, tzinfo=UTC), kind="caregiver", custom_fields={"score": 3})
    ids = Contact.objects.order_by("created_at").values_list("pk", flat=True)
    by_creation = dict(zip(["c2", "c4", "c3", "c1", "c5"], ids, strict=True))
    return by_creation


MEMBERS = [
    ('kind = hcp and specialty in ("208000000X", "207Q00000X") and state = "CA"', {"c1"}),
    ('kind = patient and persona = "busy-parent" and language = "es"', {"c3", "c4"}),
    ('(tag = "vip" or custom.region != "north") and not status = "deceased"',
     {"c1", "c2", "c4", "c5"}),
    ("created_at >= 2026-01-01 and npi is not null", {"c1"}),
    ('tag = "a" and tag = "b"', {"c1"}),
    ('tag = "VIP"', {"c1", "c3"}),
    ("tag is null", {"c4", "c5"}),
    ('tag not in ("vip")', {"c2", "c4", "c5"}),
    ('state = "CA"', {"c1", "c3"}),
    ('state != "ca"', {"c2", "c4", "c5"}),
    ('state = "CA" and state = "NY"', set()),
    ("state is not null", {"c1", "c2", "c3"}),
    ('postal_code >= "90000" and postal_code < "94100"', {"c1", "c3"}),
    ("specialty is not null", {"c1", "c2"}),
    ('custom.region = "north"', {"c1"}),
    ('custom.region != "north"', {"c2", "c3", "c4", "c5"}),
    ('not custom.region in ("north", "south")', {"c2", "c3", "c5"}),
    ("custom.region is null", {"c2", "c3", "c5"}),
    ("custom.region is not null", {"c1", "c4"}),
    ("custom.score > 5", {"c4"}),
    ("custom.score <= 5", {"c5"}),
    ("persona is null", {"c1", "c2", "c5"}),
    ('territory = "west"', {"c1"}),
    ("territory is null", {"c2", "c3", "c4", "c5"}),
    ("npi is null", {"c2", "c3", "c4", "c5"}),
    ("created_at = 2026-01-01", {"c3", "c4"}),
    ("created_at < 2026-01-01", {"c2"}),
    ("language = 'EN-us'", {"c1"}),
    ("not (kind = hcp or kind = patient)", {"c5"}),
    ("status in (active, unreachable)", {"c1", "c2", "c4", "c5"}),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), MEMBERS)
def test_members(
    contacts: dict[str, int],
    django_assert_num_queries: Callable[..., Any],
    query: str,
    expected: set[str],
) -> None:
    from carereach.audience.models import Contact

    members = segment_filter(Contact.objects.all(), query, default_contact_schema())
    names = {name for name, pk in contacts.items()}
    with django_assert_num_queries(1):
        found = list(members.values_list("pk", flat=True))
    assert len(found) == len(set(found)), "duplicate rows"
    assert {name for name in names if contacts[name] in found} == expected
    assert "DISTINCT" not in str(members.query)


def test_count_is_one_query_without_duplicates(
    contacts: dict[str, int], django_assert_num_queries: Callable[..., Any]
) -> None:
    from carereach.audience.models import Contact

    members = segment_filter(
        Contact.objects.all(), 'state = "CA" or tag = "a"', default_contact_schema()
    )
    with django_assert_num_queries(1):
        assert members.count() == 3
    sql = str(members.query)
    assert sql.count("EXISTS") == 2
    assert "JOIN" not in sql.split("WHERE")[0]  # the outer query reads contacts alone


def test_the_schema_zone_decides_which_day_a_date_is(contacts: dict[str, int]) -> None:
    from carereach.audience.models import Contact

    schema = default_contact_schema(time_zone=NEW_YORK)
    members = segment_filter(Contact.objects.all(), "created_at = 2026-01-01", schema)
    assert set(members.values_list("pk", flat=True)) == {contacts["c3"]}


def test_segment_filter_narrows_a_scoped_queryset(contacts: dict[str, int]) -> None:
    from carereach.audience.models import Contact

    scoped = Contact.objects.filter(kind="patient")
    members = segment_filter(scoped, 'state = "CA"', default_contact_schema())
    assert list(members.values_list("pk", flat=True)) == [contacts["c3"]]


def test_predicates_plug_in_with_exists_on_their_own_tables(contacts: dict[str, int]) -> None:
    from carereach.audience.models import Contact, PostalAddress

    def lives_in(call: BoundCall) -> Q:
        addresses = PostalAddress.objects.filter(
            contact=OuterRef("pk"), state=call.arguments["state"]
        )
        return Q(Exists(addresses))

    register_predicate(
        "segments_test_lives_in",
        lives_in,
        params=[Param("state", ValueType.STRING, required=True, normalize=str.upper)],
    )
    try:
        schema = default_contact_schema()
    finally:
        unregister_predicate("segments_test_lives_in")
    query = "segments_test_lives_in('ny') or kind = caregiver"
    members = segment_filter(Contact.objects.all(), query, schema)
    assert set(members.values_list("pk", flat=True)) == {contacts["c2"], contacts["c5"]}
    negated = segment_filter(Contact.objects.all(), "not segments_test_lives_in(ca)", schema)
    assert set(negated.values_list("pk", flat=True)) == {
        contacts["c2"],
        contacts["c4"],
        contacts["c5"],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("spec", contact_fields(), ids=lambda spec: spec.name)
def test_every_default_field_compiles_against_the_models(spec: FieldSpec) -> None:
    from carereach.audience.models import Contact

    samples = {
        ValueType.ENUM: spec.choices[0] if spec.choices else "",
        ValueType.DATETIME: "2026-01-01",
        ValueType.STRING: {
            "language": "'es'",
            "time_zone": "'UTC'",
            "persona": "'busy-parent'",
            "npi": "'1234567893'",
            "specialty": "'207Q00000X'",
            "state": "'CA'",
        }.get(spec.name, "'x'"),
    }
    value = samples[spec.type]
    for op in sorted(spec.allowed_operators):
        if op in (Operator.IS_NULL, Operator.IS_NOT_NULL):
            query = f"{spec.name} {op.value}"
        elif op in (Operator.IN, Operator.NOT_IN):
            query = f"{spec.name} {op.value} ({value})"
        else:
            query = f"{spec.name} {op.value} {value}"
        members = segment_filter(Contact.objects.all(), query, default_contact_schema())
        members.count()  # runs the SQL: every ORM path resolves on every backend we test


# -- the SQL shape: each multi-valued condition reads its own table ------------------------------


def _exists_parts(sql: str) -> list[str]:
    return [part.split(" LIMIT 1")[0] for part in sql.split("EXISTS(")[1:]]


def test_multi_valued_conditions_read_their_own_tables_alone(contacts: dict[str, int]) -> None:
    from carereach.audience.models import Contact, Specialty

    query = 'kind = hcp and specialty in ("208000000X", "207Q00000X") and state = "CA"'
    members = segment_filter(Contact.objects.all(), query, default_contact_schema())
    state, specialty = sorted(_exists_parts(str(members.query)), key=lambda p: "postal" not in p)
    for part in (state, specialty):
        assert '"audience_contact"' not in part.split("WHERE")[0]  # no join back to contacts
    assert '"audience_postaladdress" U0 WHERE' in state
    assert 'U0."contact_id" = ("audience_contact"."id")' in state
    ids = sorted(
        Specialty.objects.filter(code__in=["208000000X", "207Q00000X"]).values_list("pk", flat=True)
    )
    assert f'U0."specialty_id" IN ({ids[0]}, {ids[1]})' in specialty  # no join to the codes
    assert '"audience_specialty"' not in specialty
    assert set(members.values_list("pk", flat=True)) == {contacts["c1"]}


def test_codes_and_names_are_read_once_when_the_query_is_compiled(
    contacts: dict[str, int], django_assert_num_queries: Callable[..., Any]
) -> None:
    from carereach.audience.models import Contact

    schema = default_contact_schema()
    with django_assert_num_queries(2):  # the specialty ids, then the tag ids
        members = segment_filter(
            Contact.objects.all(), 'specialty = "208000000X" or tag in ("a", "b")', schema
        )
    with django_assert_num_queries(0):
        segment_filter(Contact.objects.all(), 'state = "CA" and kind = hcp', schema)
    with django_assert_num_queries(1):
        assert members.count() == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('specialty = "ZZZZZZZZZX"', set()),  # a well-formed code nobody has: no id at all
        ('specialty != "ZZZZZZZZZX"', {"c1", "c2", "c3", "c4", "c5"}),
        ('tag = "nosuch"', set()),
        ('tag not in ("nosuch", "b")', {"c2", "c3", "c4", "c5"}),
        ('tag in ("nosuch", "vip")', {"c1", "c3"}),
        ('specialty = "207Q00000X" or tag = "nosuch"', {"c2"}),
    ],
)
def test_values_without_ids_match_nothing_in_one_query(
    contacts: dict[str, int],
    django_assert_num_queries: Callable[..., Any],
    query: str,
    expected: set[str],
) -> None:
    from carereach.audience.models import Contact

    members = segment_filter(Contact.objects.all(), query, default_contact_schema())
    with django_assert_num_queries(1):
        found = set(members.values_list("pk", flat=True))
    assert {name for name, pk in contacts.items() if pk in found} == expected


def test_a_path_it_cannot_correlate_alone_joins_the_root_again(contacts: dict[str, int]) -> None:
    from django.contrib.auth.models import User

    from carereach.audience.models import Contact, Territory

    rep = User.objects.create(username="west-rep")
    Territory.objects.get(code="west").reps.add(rep)
    schema = Schema(
        [FieldSpec("rep", ValueType.STRING, path="territory__reps__username", multi_valued=True)]
    )
    members = segment_filter(Contact.objects.all(), 'rep = "west-rep"', schema)
    (part,) = _exists_parts(str(members.query))
    assert '"audience_contact" U0' in part  # through the contact's territory: joined again
    assert set(members.values_list("pk", flat=True)) == {contacts["c1"]}
    negated = segment_filter(Contact.objects.all(), 'rep != "west-rep"', schema)
    assert contacts["c1"] not in set(negated.values_list("pk", flat=True))
    assert negated.count() == 4
