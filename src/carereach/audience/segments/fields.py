"""What a segment query may name: fields, their types and operators, and function predicates.

A `Schema` is the registry the compiler works against. It is a plain object passed in, so tests
and other apps can build their own; `default_contact_schema()` is the one for contacts.

Fields
    A `FieldSpec` maps a query name to either an ORM path (``hcp__npi``; the compiler appends the
    lookup) or a callable building a `Q`. It carries the value type, the operators allowed, and an
    optional normalizer that cleans a value or rejects it with ``ValueError("why")``.
    ``multi_valued=True`` marks a path that crosses a to-many relation; the compiler checks such a
    condition with ``EXISTS`` so that the query stays one SQL statement with no duplicate rows, and
    so that ``tag = "a" and tag = "b"`` means two tags, not one tag with two names.
    ``custom.<key>`` names a key of the contact's JSON ``custom_fields``. ``resolve_ids=True``
    on a multi-valued path that ends in a unique key of a lookup table (``tags__name``,
    ``hcp__specialties__code``) lets the compiler read the ids for ``=`` and ``in`` when it
    compiles, and compare the link table's foreign key with them.

Predicates
    A function in a query (``consented(sms, "podcast")``, ``clicked(within = 30d)``) is a
    `PredicateSpec`: a name, declared parameters, and a handler that receives a `BoundCall` (the
    node, its arguments checked and converted, the compile clock) and returns a `Q`, usually
    ``Q(Exists(SomeEvent.objects.filter(contact=OuterRef("pk"), ...)))``. Apps above ``audience``
    (consent, analytics) plug theirs in with the module-level `register_predicate` from their
    ``AppConfig.ready()``; every schema made by `default_contact_schema()` afterwards offers them.
    A handler must return a condition that is true or false for every contact (``EXISTS`` is):
    ``not`` is applied to it as is.

The default contact schema assumes this model layout (``carereach.audience.models`` has it; the
compiler tests compile every field against those models, so a drift fails there):

- ``Contact`` (the queryset's model; primary key ``pk``): ``kind`` one of `CONTACT_KINDS` and
  ``status`` one of `CONTACT_STATUSES`, both not null; ``language`` a BCP 47 tag in canonical
  case (``"es"``, ``"en-US"``); ``time_zone`` IANA name or empty; ``persona`` slug or empty
  (``"busy-parent"``); ``created_at`` aware date-time, not null; ``custom_fields`` JSONField
  holding an object; ``tags`` many-to-many to ``Tag`` whose ``name`` is lower case;
  ``territory`` nullable foreign key to ``Territory`` with ``code``. Empty text and NULL are the
  same to ``is null``.
- ``HcpProfile``: one-to-one to Contact with ``related_name="hcp"``; ``npi`` (10 digits as text,
  nullable); ``specialties`` many-to-many to ``Specialty`` with ``code`` (NUCC taxonomy code).
- ``PostalAddress``: foreign key to Contact with ``related_name="postal_addresses"``; ``state``
  (upper-case code, e.g. USPS) and ``postal_code`` (upper case).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps
from django.db.models import Model, Q

from carereach.audience.segments.nodes import Call, Duration, Operator, Symbol, Value
from carereach.audience.segments.printer import format_value

CONTACT_KINDS = ("hcp", "patient", "caregiver")
CONTACT_STATUSES = ("active", "unreachable", "deceased", "merged")


class ValueType(StrEnum):
    """The kind of value a field or argument holds; the value is how messages name it."""

    STRING = "text"  # quoted text; a bare word is accepted too
    ENUM = "choice"  # one of a fixed set of lower-case words
    INTEGER = "whole number"  # 42, -3
    DATE = "date"  # 2026-01-01
    DATETIME = "date or date-time"  # a bare date on a date-time field means that whole day
    BOOLEAN = "true or false"
    DURATION = "duration"  # 30d; for predicate arguments (given to handlers as a timedelta)
    JSON = "JSON value"  # custom fields: text, number, true/false or a date (compared as text)


_ALL_OPERATORS = frozenset(Operator)
_NULL_OPERATORS = frozenset({Operator.IS_NULL, Operator.IS_NOT_NULL})
_ORDERING = frozenset({Operator.LT, Operator.LE, Operator.GT, Operator.GE})
_EQUALITY = frozenset({Operator.EQ, Operator.NE, Operator.IN, Operator.NOT_IN}) | _NULL_OPERATORS

DEFAULT_OPERATORS: Mapping[ValueType, frozenset[Operator]] = {
    ValueType.STRING: _EQUALITY,
    ValueType.ENUM: _EQUALITY,
    ValueType.INTEGER: _ALL_OPERATORS,
    ValueType.DATE: _ALL_OPERATORS,
    ValueType.DATETIME: _ALL_OPERATORS,
    ValueType.BOOLEAN: frozenset({Operator.EQ, Operator.NE}) | _NULL_OPERATORS,
    ValueType.DURATION: frozenset(),
    ValueType.JSON: _ALL_OPERATORS,
}

Normalizer = Callable[[Any], Any]
"""Cleans a converted value (``"ca"`` → ``"CA"``) or raises ``ValueError("why it is wrong")``."""

QBuilder = Callable[[Operator, Any], Q]
"""Builds the condition for a field without an ORM path.

Called only with the positive operators ``= < <= > >= in is not null``; the compiler makes
``!=``, ``not in`` and ``is null`` by negating, so the result must be true or false for every row
(not SQL NULL). The value is converted and normalized; a list for ``in``, None for ``is not null``.
"""


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """A field a query may name."""

    name: str  # as written in queries, lower case (``specialty``)
    type: ValueType
    path: str | None = None  # ORM path from the contact, without a lookup (``hcp__npi``)
    build: QBuilder | None = None  # instead of `path`
    choices: tuple[str, ...] = ()  # for ENUM
    operators: frozenset[Operator] | None = None  # default: DEFAULT_OPERATORS[type]
    nullable: bool = True  # False drops `is null` and `is not null`
    normalize: Normalizer | None = None
    multi_valued: bool = False  # `path` crosses a to-many relation: checked with EXISTS
    resolve_ids: bool = False  # `=`/`in` on a lookup table's unique key compare its ids
    json_key: bool = False  # `path` ends in a JSON key: compiled null-safely
    description: str = ""

    def __post_init__(self) -> None:
        if (self.path is None) == (self.build is None):
            raise ValueError(f"field {self.name!r} needs exactly one of path or build")
        if self.type is ValueType.ENUM and not self.choices:
            raise ValueError(f"field {self.name!r} is a choice field without choices")
        if self.type is ValueType.DURATION:
            raise ValueError(f"field {self.name!r}: durations are for predicate arguments")

    @property
    def allowed_operators(self) -> frozenset[Operator]:
        allowed = DEFAULT_OPERATORS[self.type] if self.operators is None else self.operators
        return allowed if self.nullable else allowed - _NULL_OPERATORS


@dataclasses.dataclass(frozen=True)
class Param:
    """A parameter of a predicate."""

    name: str  # lower case
    type: ValueType
    required: bool = False
    default: Any = None  # handed to the handler when the query leaves the argument out
    positional: bool = True  # may be given without its name, in declaration order
    choices: tuple[str, ...] = ()  # for ENUM
    normalize: Normalizer | None = None
    description: str = ""


@dataclasses.dataclass(frozen=True)
class BoundCall:
    """What a predicate handler receives: the call, its checked arguments, and the context."""

    node: Call
    name: str  # lower case
    arguments: Mapping[str, Any]  # every declared parameter: converted value or its default
    now: datetime  # the compile clock, aware; use it for `within = 30d`
    time_zone: tzinfo  # the schema's zone for turning dates into instants


PredicateHandler = Callable[[BoundCall], Q]


@dataclasses.dataclass(frozen=True)
class PredicateSpec:
    """A function a query may call."""

    name: str  # lower case
    handler: PredicateHandler
    params: tuple[Param, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        names = [param.name for param in self.params]
        if len(set(names)) != len(names):
            raise ValueError(f"predicate {self.name!r} declares a parameter twice")
        seen_keyword_only = False
        for param in self.params:
            if not param.positional:
                seen_keyword_only = True
            elif seen_keyword_only:
                raise ValueError(f"predicate {self.name!r}: positional {param.name!r} after named")


_CUSTOM_KEY = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*", re.ASCII)
_PREDICATE_NAME = re.compile(r"[a-z_][a-z0-9_]*", re.ASCII)


class Schema:
    """The fields and predicates a compiler accepts, and how they map to the ORM.

    `model` is the root model (or its ``"app_label.Model"``), needed to compile conditions on
    multi-valued fields with EXISTS; `segment_filter` supplies the queryset's model instead.
    `custom_prefix` (``custom``) opens ``custom.<key>`` fields on the JSON field `custom_path`;
    None turns them off. `time_zone` decides which instants a date such as ``2026-01-01`` covers.
    """

    def __init__(
        self,
        fields: Iterable[FieldSpec] = (),
        *,
        predicates: Iterable[PredicateSpec] = (),
        model: type[Model] | str | None = None,
        custom_prefix: str | None = "custom",
        custom_path: str = "custom_fields",
        time_zone: tzinfo = UTC,
    ) -> None:
        self._fields: dict[str, FieldSpec] = {}
        self._predicates: dict[str, PredicateSpec] = {}
        self.model = model
        self.custom_prefix = custom_prefix.lower() if custom_prefix else None
        self.custom_path = custom_path
        self.time_zone = time_zone
        for spec in fields:
            self.add_field(spec)
        for predicate in predicates:
            self.add_predicate(predicate)

    def add_field(self, spec: FieldSpec) -> None:
        name = spec.name.lower()
        if name in self._fields:
            raise ValueError(f"field {name!r} is already defined")
        if "." in name:
            raise ValueError(f"field {name!r}: dotted names are reserved for custom fields")
        self._fields[name] = spec

    def add_predicate(self, spec: PredicateSpec, *, replace: bool = False) -> None:
        if not _PREDICATE_NAME.fullmatch(spec.name):
            raise ValueError(f"predicate name {spec.name!r} must be a lower-case word")
        if spec.name in self._predicates and not replace:
            raise ValueError(f"predicate {spec.name!r} is already registered")
        self._predicates[spec.name] = spec

    def register_predicate(
        self,
        name: str,
        handler: PredicateHandler,
        *,
        params: Iterable[Param] = (),
        description: str = "",
        replace: bool = False,
    ) -> PredicateSpec:
        spec = PredicateSpec(name, handler, tuple(params), description)
        self.add_predicate(spec, replace=replace)
        return spec

    # -- lookups used by the compiler ----------------------------------------------------------

    def field(self, name: str) -> FieldSpec | None:
        """The spec for `name` as written in a query (case-insensitive, custom keys excepted)."""
        spec = self._fields.get(name.lower())
        if spec is not None or self.custom_prefix is None:
            return spec
        prefix, dot, key = name.partition(".")
        if not dot or prefix.lower() != self.custom_prefix or not _CUSTOM_KEY.fullmatch(key):
            return None
        return FieldSpec(
            name=f"{self.custom_prefix}.{key}",
            type=ValueType.JSON,
            path=f"{self.custom_path}__{key}",
            json_key=True,
            description=f"custom field {key!r}",
        )

    def predicate(self, name: str) -> PredicateSpec | None:
        return self._predicates.get(name.lower())

    @property
    def fields(self) -> Mapping[str, FieldSpec]:
        return dict(self._fields)

    @property
    def predicates(self) -> Mapping[str, PredicateSpec]:
        return dict(self._predicates)

    def suggest_field(self, name: str) -> str | None:
        """The closest known field name, for ``did you mean``."""
        candidates = list(self._fields)
        prefix, dot, key = name.partition(".")
        if dot and self.custom_prefix:
            if prefix.lower() != self.custom_prefix and closest(prefix, [self.custom_prefix]):
                return f"{self.custom_prefix}.{key}"
            if not _CUSTOM_KEY.fullmatch(key):
                return None
        return closest(name, candidates)

    def suggest_predicate(self, name: str) -> str | None:
        return closest(name, list(self._predicates))

    def resolve_model(self) -> type[Model] | None:
        if isinstance(self.model, str):
            return apps.get_model(self.model)
        return self.model


def closest(word: str, candidates: list[str]) -> str | None:
    """The candidate most like `word` (case-insensitive), if any is close enough."""
    matches = difflib.get_close_matches(word.lower(), candidates, n=1, cutoff=0.6)
    return matches[0] if matches else None


# -- converting literals ---------------------------------------------------------------------------


class ValueProblem(ValueError):
    """A literal that does not fit its type; the compiler adds the position and the subject."""


def describe_value(value: Value) -> str:
    """How messages name a literal: ``string "x"``, ``number 4``, ``word hcp``."""
    if isinstance(value, bool):
        kind = "boolean"
    elif isinstance(value, int | Decimal):
        kind = "number"
    elif isinstance(value, datetime):
        kind = "date-time"
    elif isinstance(value, date):
        kind = "date"
    elif isinstance(value, Duration):
        kind = "duration"
    elif isinstance(value, Symbol):
        kind = "word"
    else:
        kind = "string"
    try:
        text = format_value(value)
    except ValueError:
        text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def coerce_value(
    value: Value,
    value_type: ValueType,
    *,
    choices: tuple[str, ...] = (),
    normalize: Normalizer | None = None,
    time_zone: tzinfo = UTC,
) -> Any:
    """Convert literal `value` to what `value_type` holds; raise ValueProblem saying why not.

    Text comes back as ``str``, choices lower-cased, date-times aware (naive ones are read in
    `time_zone`), a date for a DATETIME stays a ``date`` (the compiler widens it to the day),
    durations become ``timedelta``, and JSON numbers with a fraction become ``float``.
    """
    converted = _convert(value, value_type, choices)
    if isinstance(converted, datetime) and converted.tzinfo is None:
        converted = converted.replace(tzinfo=time_zone)
    if normalize is not None:
        try:
            converted = normalize(converted)
        except ValueProblem:
            raise
        except ValueError as exc:
            raise ValueProblem(f"invalid value {describe_value(value)}: {exc}") from None
    return converted


def _convert(value: Value, value_type: ValueType, choices: tuple[str, ...]) -> Any:
    text = value.name if isinstance(value, Symbol) else value if isinstance(value, str) else None
    if value_type is ValueType.STRING and text is not None:
        return text
    if value_type is ValueType.ENUM and text is not None:
        word = text.lower()
        if word in choices:
            return word
        hint = closest(word, list(choices))
        suggestion = f'; did you mean "{hint}"?' if hint else ""
        raise ValueProblem(f'expected one of {", ".join(choices)}, found "{text}"{suggestion}')
    if value_type is ValueType.INTEGER and isinstance(value, int) and not isinstance(value, bool):
        return value
    if value_type is ValueType.DATE and isinstance(value, date) and not isinstance(value, datetime):
        return value
    if value_type is ValueType.DATETIME and isinstance(value, date):
        return value
    if value_type is ValueType.BOOLEAN and isinstance(value, bool):
        return value
    if value_type is ValueType.DURATION and isinstance(value, Duration):
        return value.as_timedelta()
    if value_type is ValueType.JSON and not isinstance(value, Duration):
        return _json_value(value)
    raise ValueProblem(
        f"expected {_expectation(value_type, choices)}, found {describe_value(value)}"
    )


def _json_value(value: Value) -> Any:
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):  # datetime too: stored in JSON as ISO text
        return value.isoformat()
    return value


def _expectation(value_type: ValueType, choices: tuple[str, ...]) -> str:
    phrases = {
        ValueType.STRING: 'text (e.g. "CA")',
        ValueType.ENUM: "one of " + ", ".join(choices),
        ValueType.INTEGER: "a whole number",
        ValueType.DATE: "a date (YYYY-MM-DD)",
        ValueType.DATETIME: "a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM)",
        ValueType.BOOLEAN: "true or false",
        ValueType.DURATION: "a duration such as 12h, 30d or 2w",
        ValueType.JSON: "text, a number, true/false or a date",
    }
    return phrases[value_type]


# -- the module-level predicate registry --------------------------------------------------------

_REGISTERED_PREDICATES: dict[str, PredicateSpec] = {}


def register_predicate(
    name: str,
    handler: PredicateHandler,
    *,
    params: Iterable[Param] = (),
    description: str = "",
    replace: bool = False,
) -> PredicateSpec:
    """Offer predicate `name` in every schema `default_contact_schema()` makes from now on.

    Call from ``AppConfig.ready()`` of the app that owns the data (consent, analytics).
    Registering a name twice is an error unless `replace` (tests use it to stub a predicate).
    """
    spec = PredicateSpec(name, handler, tuple(params), description)
    if not _PREDICATE_NAME.fullmatch(name):
        raise ValueError(f"predicate name {name!r} must be a lower-case word")
    if name in _REGISTERED_PREDICATES and not replace:
        raise ValueError(f"predicate {name!r} is already registered")
    _REGISTERED_PREDICATES[name] = spec
    return spec


def unregister_predicate(name: str) -> None:
    """Remove a predicate registered with `register_predicate` (for tests)."""
    _REGISTERED_PREDICATES.pop(name, None)


# -- the default contact schema -------------------------------------------------------------------


def _pattern(
    regex: str, explanation: str, *, upper: bool = False, lower: bool = False
) -> Normalizer:
    compiled = re.compile(regex, re.ASCII)

    def normalize(value: Any) -> Any:
        text = str(value).strip()
        text = text.upper() if upper else text.lower() if lower else text
        if not compiled.fullmatch(text):
            raise ValueError(explanation)
        return text

    return normalize


def _time_zone(value: Any) -> Any:
    text = str(value).strip()
    try:
        ZoneInfo(text)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError('expected an IANA time zone such as "America/New_York"') from None
    return text


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", re.ASCII)


def _language(value: Any) -> Any:
    """A BCP 47 tag in canonical case (RFC 5646 2.1.1): ``en-us`` → ``en-US``."""
    text = str(value).strip().replace("_", "-")
    if not _LANGUAGE_TAG.fullmatch(text):
        raise ValueError('expected a BCP 47 language tag such as "es" or "en-US"')
    primary, *rest = text.split("-")
    parts = [primary.lower()]
    for part in rest:
        if len(part) == 2 and part.isalpha():
            parts.append(part.upper())  # region
        elif len(part) == 4 and part.isalpha():
            parts.append(part.title())  # script
        else:
            parts.append(part.lower())
    return "-".join(parts)


def _non_empty(value: Any) -> Any:
    text = str(value).strip()
    if not text:
        raise ValueError("expected non-empty text")
    return text


def contact_fields() -> list[FieldSpec]:
    """The built-in contact fields (see the module docstring for the models they assume)."""
    ordered = frozenset({Operator.LT, Operator.LE, Operator.GT, Operator.GE})
    return [
        FieldSpec("kind", ValueType.ENUM, path="kind", choices=CONTACT_KINDS, nullable=False,
                  description="hcp, patient or caregiver"),
        FieldSpec("status", ValueType.ENUM, path="status", choices=CONTACT_STATUSES,
                  nullable=False, description="lifecycle status"),
        FieldSpec("language", ValueType.STRING, path="language", normalize=_language,
                  description="preferred language, BCP 47"),
        FieldSpec("time_zone", ValueType.STRING, path="time_zone", normalize=_time_zone,
                  description="IANA time zone"),
        FieldSpec("persona", ValueType.STRING, path="persona",
                  normalize=_pattern(r"[a-z0-9]+(?:-[a-z0-9]+)*",
                                     'expected a persona slug such as "busy-parent"', lower=True),
                  description="persona slug"),
        FieldSpec("created_at", ValueType.DATETIME, path="created_at", nullable=False,
                  description="when the contact was created"),
        FieldSpec("tag", ValueType.STRING, path="tags__name", multi_valued=True, resolve_ids=True,
                  normalize=lambda value: _non_empty(value).lower(), description="has this tag"),
        FieldSpec("npi", ValueType.STRING, path="hcp__npi",
                  normalize=_pattern(r"[0-9]{10}", "an NPI is 10 digits"),
                  description="National Provider Identifier (HCPs)"),
        FieldSpec("specialty", ValueType.STRING, path="hcp__specialties__code", multi_valued=True,
                  resolve_ids=True,
                  normalize=_pattern(r"[0-9A-Z]{9}X",
                                     "expected a NUCC taxonomy code such as 207Q00000X",
                                     upper=True),
                  description="has this NUCC specialty (HCPs)"),
        FieldSpec("state", ValueType.STRING, path="postal_addresses__state", multi_valued=True,
                  normalize=_pattern(r"[A-Z0-9]{1,3}", 'expected a state code such as "CA"',
                                     upper=True),
                  description="has a postal address in this state"),
        FieldSpec("postal_code", ValueType.STRING, path="postal_addresses__postal_code",
                  multi_valued=True, operators=DEFAULT_OPERATORS[ValueType.STRING] | ordered,
                  normalize=lambda value: _non_empty(value).upper(),
                  description="has a postal address with this postal code"),
        FieldSpec("territory", ValueType.STRING, path="territory__code", normalize=_non_empty,
                  description="code of the contact's territory"),
    ]  # fmt: skip


def default_contact_schema(*, time_zone: tzinfo = UTC) -> Schema:
    """The schema for ``audience.Contact``, with every predicate registered so far."""
    return Schema(
        contact_fields(),
        predicates=list(_REGISTERED_PREDICATES.values()),
        model="audience.Contact",
        time_zone=time_zone,
    )


def day_bounds(day: date, time_zone: tzinfo) -> tuple[datetime, datetime]:
    """The first instant of `day` and of the next day in `time_zone` (a half-open range)."""
    start = datetime(day.year, day.month, day.day, tzinfo=time_zone)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=time_zone)
    return start, end
