"""Personalization: Jinja2's sandbox, a whitelist of fields, refusal at save time with a position.

Authors write `Hi {{ first_name }}, your appointment is {{ appointment_time }}.` and may use
`{% if field %}…{% else %}…{% endif %}` and a few filters (upper, lower, title, capitalize, trim,
default). Anything else, an unknown field, a function call, attribute or item access, a loop,
an include, is refused when the body is saved, with the line and column, so a template that was
saved always renders. Rendering runs in Jinja2's ImmutableSandboxedEnvironment with no globals
and only string values, so even a template that slipped past the check cannot reach Python
internals.
"""

from __future__ import annotations

import re
from functools import cache

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from carereach.errors import ValidationError

# The fields a template may use, with what each holds (shown in the composer's help).
FIELDS: dict[str, str] = {
    "first_name": "the recipient's first name",
    "last_name": "the recipient's last name",
    "last_name_with_title": "last name with title, e.g. “Dr. Lee” (HCPs); full name otherwise",
    "rep_name": "the name of the recipient's rep",
    "appointment_time": "the appointment time in the recipient's time zone",
    "provider_name": "the provider the appointment is with (reminders)",
    "provider_phone": "the number to call the provider (reminders)",
    "location": "where the appointment is (reminders)",
    "medication": "the medicine's name where the patient accepted PHI on the channel, else "
    "“your medication” (refill and medication reminders)",
    "refill_date": "the date a refill is due, in the recipient's language (refill reminders)",
    "program_name": "the program's name",
    "preference_link": "the recipient's signed preference-page link",
    "tracked_link": "the item's media link, tracked per recipient",
    "safety_info_link": "the full Important Safety Information page (promotional content)",
    "unsubscribe_link": "the one-click unsubscribe link (e-mail)",
}
FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "default"})
# Nodes a template may hold; anything else (calls, attributes, loops, blocks) is refused.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.Filter,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
)
_DESCRIBE: dict[type[nodes.Node], str] = {
    nodes.Getattr: "attribute access (a dot after a field)",
    nodes.Getitem: "item access (brackets after a field)",
    nodes.Call: "a function call",
    nodes.For: "a loop",
    nodes.Include: "an include",
    nodes.Import: "an import",
    nodes.FromImport: "an import",
    nodes.Extends: "extends",
    nodes.Block: "a block",
    nodes.Macro: "a macro",
    nodes.Assign: "an assignment",
    nodes.AssignBlock: "an assignment",
    nodes.Test: "a test (`is …`)",
}
# What to look for on the line to point at a refused node.
_NEEDLE: dict[type[nodes.Node], str] = {
    nodes.Getitem: "[",
    nodes.Call: "(",
    nodes.For: "for",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Extends: "extends",
    nodes.Block: "block",
    nodes.Macro: "macro",
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.Test: "is",
}


class TemplateError(ValidationError):
    """A body that will not render: unknown field, syntax error, or something not allowed."""

    code = "template"

    def __init__(self, message: str, *, line: int, column: int | None, field: str | None = None):
        where = f"line {line}" + (f", column {column}" if column else "")
        super().__init__(f"{message} ({where}).", field=field)
        self.line = line
        self.column = column

    def as_dict(self) -> dict[str, object]:
        data = super().as_dict()
        data["line"] = self.line
        if self.column:
            data["column"] = self.column
        return data


@cache
def environment(*, html: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=html, keep_trailing_newline=True
    )
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in FILTERS}
    env.tests = {}
    return env


def _column(source: str, line: int, word: str) -> int | None:
    """1-based column of `word` inside a `{{ }}` or `{% %}` tag on `line`, if it can be found."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines) or not word:
        return None
    text = lines[line - 1]
    pattern = rf"(?<!\w){re.escape(word)}(?!\w)" if word[0].isalnum() or word[0] == "_" else None
    for tag in re.finditer(r"\{\{.*?(\}\}|$)|\{%.*?(%\}|$)", text):
        if pattern is None:
            offset = tag.group(0).find(word, 2)
        else:
            found = re.search(pattern, tag.group(0))
            offset = found.start() if found else -1
        if offset >= 0:
            return tag.start() + offset + 1
    return None


def _syntax_column(source: str, line: int) -> int | None:
    """Where the broken tag on `line` opens (the last unclosed `{{` or `{%`), if any."""
    lines = source.splitlines()
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    openings = [m.start() for m in re.finditer(r"\{\{|\{%", text)]
    for start in reversed(openings):
        closer = "}}" if text[start + 1] == "{" else "%}"
        if closer not in text[start + 2 :]:
            return start + 1
    return openings[-1] + 1 if openings else None


def template_check(source: str, *, html: bool = False, field: str | None = None) -> list[str]:
    """The fields `source` uses; raises TemplateError (with line and column) when it is refused."""
    env = environment(html=html)
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as error:
        line = error.lineno or 1
        raise TemplateError(
            f"Template syntax error: {error.message}",
            line=line,
            column=_syntax_column(source, line),
            field=field,
        ) from None
    used: list[str] = []
    for node in tree.find_all(nodes.Node):
        line = getattr(node, "lineno", 1) or 1
        if not isinstance(node, _ALLOWED_NODES):
            what = _DESCRIBE.get(type(node), "arithmetic or other expressions")
            needle = node.attr if isinstance(node, nodes.Getattr) else _NEEDLE.get(type(node), "")
            raise TemplateError(
                f"Templates may not use {what}",
                line=line,
                column=_column(source, line, needle),
                field=field,
            )
        if isinstance(node, nodes.Name):
            if node.name not in FIELDS:
                raise TemplateError(
                    f"Unknown field “{node.name}”; fields are {', '.join(FIELDS)}",
                    line=line,
                    column=_column(source, line, node.name),
                    field=field,
                )
            if node.name not in used:
                used.append(node.name)
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise TemplateError(
                f"Unknown filter “{node.name}”; filters are {', '.join(sorted(FILTERS))}",
                line=line,
                column=_column(source, line, node.name),
                field=field,
            )
    return used


def template_render(source: str, values: dict[str, str], *, html: bool = False) -> str:
    """Fill `source` in the sandbox. Only whitelisted fields are passed, all as strings."""
    env = environment(html=html)
    context = {name: str(values.get(name, "")) for name in FIELDS}
    try:
        return env.from_string(source).render(context)
    except TemplateSyntaxError as error:
        raise TemplateError(
            f"Template syntax error: {error.message}", line=error.lineno or 1, column=None
        ) from None
    except (SecurityError, UndefinedError) as error:
        raise TemplateError(f"Template refused: {error}", line=1, column=None) from None
