"""Compiles a segment query to one Django `Q`, checked against a `Schema`.

Two passes. `check` resolves every name against the schema and converts every literal, with no
Django involved, so a console can validate a query as it is typed (`validate_segment`). `build`
turns the checked tree into a `Q`: one condition per leaf, combined with ``&``, ``|`` and ``~``.
Whatever the query, the result filters a contact queryset in one SQL statement:

- a condition on a multi-valued field (tags, specialties, addresses) becomes ``EXISTS`` on the
  table holding the values, correlated with the contact on that table alone:
  ``EXISTS(SELECT 1 FROM postaladdress U0 WHERE U0.contact_id = contact.id AND U0.state =
  'CA')``, so there are no duplicate rows to remove with DISTINCT, counts stay exact, every
  condition is checked on its own (``tag = "a" and tag = "b"`` finds contacts with both tags),
  and the planner reads that table's own index and statistics (a path it cannot correlate that
  way gets the contact table joined again inside the EXISTS);
- a field marked `resolve_ids` (codes and names of lookup tables: specialties, tags) turns
  ``=`` and ``in`` into the rows' ids when the query is compiled (one small query), so the
  condition is ``specialty_id IN (29, 144)`` on the link table, which its statistics can
  estimate, rather than a join through the lookup table, which they cannot;
- ``!=``, ``not in`` and ``is null`` are the negations of ``=``, ``in`` and ``is not null``,
  so ``state != "CA"`` also finds contacts with no address in California, including none at all;
- a condition on a custom JSON key is wrapped in ``CASE WHEN ... THEN true ELSE false END``,
  because a missing key makes a bare comparison SQL NULL, which ``not`` would not flip;
- a date compared with a date-time field means that whole day in the schema's time zone:
  ``created_at = 2026-01-01`` is ``>= 2026-01-01T00:00`` and ``< 2026-01-02T00:00``.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    Field,
    ForeignKey,
    ManyToManyField,
    ManyToOneRel,
    Model,
    OneToOneRel,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.constants import LOOKUP_SEP

from carereach.audience.segments.errors import SegmentSyntaxError
from carereach.audience.segments.fields import (
    BoundCall,
    FieldSpec,
    Param,
    PredicateSpec,
    Schema,
    ValueProblem,
    ValueType,
    closest,
    coerce_value,
    day_bounds,
)
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
)
from carereach.audience.segments.nodes import Value as Literal
from carereach.audience.segments.parser import parse_segment
from carereach.errors import ConfigError

M = TypeVar("M", bound=Model)

# `!=`, `not in` and `is null` are built as the negation of their positive partner.
_NEGATIONS = {
    Operator.NE: Operator.EQ,
    Operator.NOT_IN: Operator.IN,
    Operator.IS_NULL: Operator.IS_NOT_NULL,
}
_LOOKUPS = {
    Operator.EQ: "exact",
    Operator.LT: "lt",
    Operator.LE: "lte",
    Operator.GT: "gt",
    Operator.GE: "gte",
    Operator.IN: "in",
}


def validate_segment(query: str, *, schema: Schema) -> Node:
    """Parse and check `query` against `schema`; return its tree or raise SegmentSyntaxError."""
    node = parse_segment(query)
    _Checker(query, schema, datetime.now(tz=UTC)).check(node)
    return node


def compile_segment(
    query: str,
    *,
    schema: Schema,
    model: type[Model] | None = None,
    now: datetime | None = None,
) -> Q:
    """Compile `query` to a `Q` over the schema's root model.

    `model` overrides ``schema.model`` (it is needed only for multi-valued fields). `now` is the
    clock predicates see (``within = 30d``); it defaults to the current time.
    """
    return compile_node(parse_segment(query), query=query, schema=schema, model=model, now=now)


def compile_node(
    node: Node,
    *,
    schema: Schema,
    query: str = "",
    model: type[Model] | None = None,
    now: datetime | None = None,
) -> Q:
    """Compile an already parsed tree (`query` is its text, for error positions)."""
    if now is not None and now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    checked = _Checker(query, schema, now or datetime.now(tz=UTC)).check(node)
    return _Builder(schema, model).build(checked)


def segment_filter(
    queryset: QuerySet[M], query: str, schema: Schema, *, now: datetime | None = None
) -> QuerySet[M]:
    """Narrow `queryset` to the contacts `query` selects: one SQL query, no DISTINCT needed."""
    return queryset.filter(compile_segment(query, schema=schema, model=queryset.model, now=now))


# -- pass 1: check names and values --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _FieldLeaf:
    spec: FieldSpec
    op: Operator
    operand: Any  # converted value; a list for `in`; None for the null tests


@dataclasses.dataclass(frozen=True)
class _PredicateLeaf:
    spec: PredicateSpec
    call: BoundCall


@dataclasses.dataclass(frozen=True)
class _All:
    items: tuple[_Checked, ...]


@dataclasses.dataclass(frozen=True)
class _Any:
    items: tuple[_Checked, ...]


@dataclasses.dataclass(frozen=True)
class _Negation:
    item: _Checked


_Checked = _FieldLeaf | _PredicateLeaf | _All | _Any | _Negation


class _Checker:
    def __init__(self, query: str, schema: Schema, now: datetime) -> None:
        self.query = query
        self.schema = schema
        self.now = now

    def error(self, detail: str, position: int) -> SegmentSyntaxError:
        return SegmentSyntaxError(detail, query=self.query, position=position)

    def check(self, node: Node) -> _Checked:
        if isinstance(node, And):
            return _All(tuple(self.check(item) for item in node.items))
        if isinstance(node, Or):
            return _Any(tuple(self.check(item) for item in node.items))
        if isinstance(node, Not):
            return _Negation(self.check(node.item))
        if isinstance(node, Call):
            return self.call(node)
        return self.condition(node)

    def condition(self, node: Compare | In | IsNull) -> _FieldLeaf:
        spec = self.field(node.field, node.pos)
        op = node.op
        if op not in spec.allowed_operators:
            allowed = ", ".join(o.value for o in Operator if o in spec.allowed_operators)
            raise self.error(
                f'operator "{op.value}" cannot be used with {spec.type.value} field '
                f'"{spec.name}"; use one of {allowed}',
                node.op_pos,
            )
        if isinstance(node, IsNull):
            return _FieldLeaf(spec, op, None)
        subject = f'field "{spec.name}"'
        if isinstance(node, In):
            positions = node.value_positions or (node.pos,) * len(node.values)
            values = [
                self.value(value, spec.type, spec.choices, spec.normalize, subject, position)
                for value, position in zip(node.values, positions, strict=False)
            ]
            return _FieldLeaf(spec, op, values)
        value = self.value(
            node.value, spec.type, spec.choices, spec.normalize, subject, node.value_pos
        )
        return _FieldLeaf(spec, op, value)

    def field(self, name: str, position: int) -> FieldSpec:
        spec = self.schema.field(name)
        if spec is not None:
            return spec
        suggestion = self.schema.suggest_field(name)
        hint = f'; did you mean "{suggestion}"?' if suggestion else ""
        raise self.error(f'unknown field "{name}"{hint}', position)

    def value(
        self,
        value: Literal,
        value_type: ValueType,
        choices: tuple[str, ...],
        normalize: Any,
        subject: str,
        position: int,
    ) -> Any:
        try:
            return coerce_value(
                value,
                value_type,
                choices=choices,
                normalize=normalize,
                time_zone=self.schema.time_zone,
            )
        except ValueProblem as exc:
            raise self.error(f"{subject}: {exc}", position) from None

    def call(self, node: Call) -> _PredicateLeaf:
        spec = self.schema.predicate(node.name)
        if spec is None:
            raise self.error(self.unknown_function(node.name), node.pos)
        name = spec.name
        positional = [param for param in spec.params if param.positional]
        if len(node.args) > len(positional):
            extra = _position(node.arg_positions, len(positional), node.pos)
            if not positional:
                detail = f"{name}() takes no positional arguments; name them, e.g. {_example(spec)}"
            else:
                detail = (
                    f"{name}() takes at most {len(positional)} positional "
                    f"argument{'s' if len(positional) > 1 else ''}, found {len(node.args)}"
                )
            raise self.error(detail, extra)
        bound: dict[str, Any] = {}
        for index, (param, value) in enumerate(zip(positional, node.args, strict=False)):
            position = _position(node.arg_positions, index, node.pos)
            bound[param.name] = self.argument(name, param, value, position)
        by_name = {param.name: param for param in spec.params}
        for index, (key, value) in enumerate(node.kwargs):
            key_position = _position(node.kwarg_positions, index, node.pos)
            found = by_name.get(key.lower())
            if found is None:
                raise self.error(self.unknown_argument(spec, key), key_position)
            if found.name in bound:
                raise self.error(
                    f'argument "{found.name}" of {name}() is given twice', key_position
                )
            position = _position(node.kwarg_value_positions, index, key_position)
            bound[found.name] = self.argument(name, found, value, position)
        for param in spec.params:
            if param.name in bound:
                continue
            if param.required:
                raise self.error(
                    f'{name}() needs the argument "{param.name}" ({param.type.value})',
                    node.end_pos or node.pos,
                )
            bound[param.name] = param.default
        return _PredicateLeaf(
            spec,
            BoundCall(
                node=node,
                name=name,
                arguments=bound,
                now=self.now,
                time_zone=self.schema.time_zone,
            ),
        )

    def argument(self, function: str, param: Param, value: Literal, position: int) -> Any:
        subject = f'argument "{param.name}" of {function}()'
        return self.value(value, param.type, param.choices, param.normalize, subject, position)

    def unknown_function(self, name: str) -> str:
        suggestion = self.schema.suggest_predicate(name)
        if suggestion:
            return f'unknown function "{name}"; did you mean "{suggestion}"?'
        if self.schema.field(name) is not None:
            return f'"{name}" is a field, not a function; write e.g. {name} = "..."'
        known = ", ".join(sorted(self.schema.predicates)) or "none"
        return f'unknown function "{name}" (functions: {known})'

    def unknown_argument(self, spec: PredicateSpec, key: str) -> str:
        names = [param.name for param in spec.params]
        suggestion = closest(key, names)
        hint = f'; did you mean "{suggestion}"?' if suggestion else ""
        known = ", ".join(names) or "none"
        return f'{spec.name}() has no argument "{key}"{hint} (arguments: {known})'


def _position(positions: Sequence[int], index: int, default: int) -> int:
    return positions[index] if index < len(positions) else default


def _example(spec: PredicateSpec) -> str:
    if not spec.params:
        return f"{spec.name}()"
    return f"{spec.name}({spec.params[0].name} = ...)"


# -- pass 2: build the Q -----------------------------------------------------------------------


class _Builder:
    def __init__(self, schema: Schema, model: type[Model] | None) -> None:
        self.schema = schema
        self.given_model = model
        self.time_zone = schema.time_zone

    def root_model(self, spec: FieldSpec) -> type[Model]:
        """The model to correlate EXISTS with; resolved only when a field needs it."""
        try:
            model = self.given_model or self.schema.resolve_model()
        except LookupError as exc:
            raise ConfigError(f"segment schema model {self.schema.model!r}: {exc}") from None
        if model is None:
            raise ConfigError(
                f'field "{spec.name}" crosses a to-many relation and needs the root model: '
                "use segment_filter, pass model=, or give the Schema a model"
            )
        return model

    def build(self, checked: _Checked) -> Q:
        if isinstance(checked, _All):
            return functools.reduce(operator.and_, (self.build(item) for item in checked.items))
        if isinstance(checked, _Any):
            return functools.reduce(operator.or_, (self.build(item) for item in checked.items))
        if isinstance(checked, _Negation):
            return ~self.build(checked.item)
        if isinstance(checked, _PredicateLeaf):
            return _as_q(checked.spec.handler(checked.call))
        return self.field_condition(checked)

    def field_condition(self, leaf: _FieldLeaf) -> Q:
        spec = leaf.spec
        positive = _NEGATIONS.get(leaf.op, leaf.op)
        child = None
        if spec.multi_valued and spec.path is not None:
            child = _child_table(self.root_model(spec), spec.path)
        if child is not None:
            condition = self.child_condition(spec, child, positive, leaf.operand)
        elif spec.build is not None:
            condition = _as_q(spec.build(positive, leaf.operand))
        elif spec.path is not None:
            condition = self.path_condition(spec, spec.path, positive, leaf.operand)
        else:  # pragma: no cover (FieldSpec refuses this)
            raise TypeError(f"field {spec.name!r} has neither path nor build")
        if spec.json_key:
            condition = _null_safe(condition)
        if child is not None:
            rows = child.model._base_manager.filter(condition, **{child.link: OuterRef("pk")})
            condition = Q(Exists(rows))
        elif spec.multi_valued:
            subquery = self.root_model(spec)._base_manager.filter(condition, pk=OuterRef("pk"))
            condition = Q(Exists(subquery))
        return ~condition if leaf.op in _NEGATIONS else condition

    def child_condition(self, spec: FieldSpec, child: _Child, op: Operator, operand: Any) -> Q:
        """The condition on the child table's own rows; with `resolve_ids`, `=` and `in` on a
        unique key of a lookup table become ``<fk>_id IN (ids)``, the ids read now."""
        lookup = child.lookup if spec.resolve_ids else None
        if lookup is None or op not in (Operator.EQ, Operator.IN):
            return self.path_condition(spec, child.path, op, operand)
        values = list(operand) if op is Operator.IN else [operand]
        target = lookup.target._base_manager.filter(**{f"{lookup.key}__in": values})
        ids = sorted(target.values_list("pk", flat=True))
        if not ids:  # nothing has that value: a condition no row meets, still one query
            return Q(pk__isnull=True)
        return Q(**{f"{lookup.foreign_key}__in": ids})

    def path_condition(self, spec: FieldSpec, path: str, op: Operator, operand: Any) -> Q:
        if op is Operator.IS_NOT_NULL:
            return _has_value(spec, path)
        if op is Operator.IN:
            if spec.type is ValueType.DATETIME and any(_is_day(value) for value in operand):
                # Each bare date is a day range; date-times keep one `in`.
                instants = [value for value in operand if not _is_day(value)]
                parts = [self.day_condition(path, Operator.EQ, v) for v in operand if _is_day(v)]
                if instants:
                    parts.append(Q(**{f"{path}__in": instants}))
                return functools.reduce(operator.or_, parts)
            return Q(**{f"{path}__in": list(operand)})
        if spec.type is ValueType.DATETIME and _is_day(operand):
            return self.day_condition(path, op, operand)
        return Q(**{f"{path}__{_LOOKUPS[op]}": operand})

    def day_condition(self, path: str, op: Operator, day: date) -> Q:
        """`op` against the whole of `day`: the half-open range [start, end) of its instants."""
        start, end = day_bounds(day, self.time_zone)
        if op is Operator.EQ:
            return Q(**{f"{path}__gte": start, f"{path}__lt": end})
        if op is Operator.LT:
            return Q(**{f"{path}__lt": start})
        if op is Operator.LE:
            return Q(**{f"{path}__lt": end})
        if op is Operator.GT:
            return Q(**{f"{path}__gte": end})
        return Q(**{f"{path}__gte": start})


@dataclasses.dataclass(frozen=True)
class _Lookup:
    """A child path `<foreign_key>__<key>` where `key` is unique on the `target` table."""

    foreign_key: str
    target: type[Model]
    key: str


@dataclasses.dataclass(frozen=True)
class _Child:
    """The table holding a multi-valued field's values, correlated with the root on its own.

    `model` rows whose `link` equals the root's primary key are the root row's values, so
    ``EXISTS(SELECT 1 FROM <model> WHERE <link> = root.pk AND <path condition>)`` needs no join
    back to the root table.
    """

    model: type[Model]
    link: str
    path: str  # the rest of the field's path, from `model`
    lookup: _Lookup | None


def _child_table(root: type[Model], path: str) -> _Child | None:
    """Where a to-many `path` from `root` lands, if it can be correlated without the root.

    Hops that may lead there: one-to-one relations whose primary key is the link to the
    previous table (``Contact.hcp``: the profile's key is the contact's), then one reverse
    foreign key (its rows) or one many-to-many field (its link table). Anything else (None)
    is compiled the general way, with the root table joined again inside EXISTS.
    """
    names = path.split(LOOKUP_SEP)
    model = root
    for index, name in enumerate(names):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        rest = names[index + 1 :]
        if isinstance(field, OneToOneRel) and field.field.primary_key:
            related = _model_class(field.related_model)
            if related is None:
                return None
            model = related
            continue
        if isinstance(field, ManyToOneRel) and not isinstance(field, OneToOneRel) and rest:
            child = _model_class(field.related_model)
            if child is None:
                return None
            return _Child(child, field.field.name, LOOKUP_SEP.join(rest), _lookup(child, rest))
        if isinstance(field, ManyToManyField) and rest:
            through = _model_class(field.remote_field.through)
            if through is None:
                return None
            steps = [field.m2m_reverse_field_name(), *rest]
            return _Child(
                through, field.m2m_field_name(), LOOKUP_SEP.join(steps), _lookup(through, steps)
            )
        return None
    return None


def _model_class(value: object) -> type[Model] | None:
    """A relation's model class (None for a lazy reference not resolved yet)."""
    return value if isinstance(value, type) and issubclass(value, Model) else None


def _lookup(model: type[Model], steps: list[str]) -> _Lookup | None:
    if len(steps) != 2:
        return None
    foreign_key, key = steps
    field = model._meta.get_field(foreign_key)
    target = _model_class(field.related_model) if isinstance(field, ForeignKey) else None
    if target is None:
        return None
    try:
        unique = target._meta.get_field(key)
    except FieldDoesNotExist:
        return None
    if not isinstance(unique, Field) or not unique.unique:
        return None
    return _Lookup(foreign_key, target, key)


def _null_safe(condition: Q) -> Q:
    return Q(
        Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())
    )


def _is_day(value: Any) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _as_q(condition: Any) -> Q:
    return condition if isinstance(condition, Q) else Q(condition)


def _has_value(spec: FieldSpec, path: str) -> Q:
    if spec.json_key:  # the key is present and not JSON null
        return Q(**{f"{path}__isnull": False}) & ~Q(**{f"{path}__exact": None})
    if spec.type in (ValueType.STRING, ValueType.ENUM):
        return Q(**{f"{path}__gt": ""})  # neither NULL nor empty text
    return Q(**{f"{path}__isnull": False})
