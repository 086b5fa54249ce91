"""Templates: the whitelist, refusal with a position at save time, and the sandbox itself."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from carereach.content.templating import FIELDS, TemplateError, template_check, template_render


def test_whitelisted_fields_and_filters_render() -> None:
    source = "Hi {{ first_name|title }}{% if rep_name %}, from {{ rep_name }}{% endif %}!"
    assert template_check(source) == ["first_name", "rep_name"]
    assert template_render(source, {"first_name": "ana"}) == "Hi Ana!"
    assert template_render(source, {"first_name": "ana", "rep_name": "Sam"}) == "Hi Ana, from Sam!"
    assert template_render("{{ first_name|default('there', true) }}", {}) == "there"
    assert set(FIELDS) >= {
        "first_name", "last_name_with_title", "rep_name", "appointment_time", "program_name",
        "preference_link", "tracked_link",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("source", "message", "line", "column"),
    [
        ("Hi {{ frist_name }}", "Unknown field “frist_name”", 1, 7),
        ("Line one\nHi {{ first_name }", "syntax error", 2, 4),
        ("ok\nok\n{% if first_name %}x", "syntax error", 3, None),
        ("{{ first_name.__class__ }}", "attribute access", 1, 15),
        ("{{ first_name['x'] }}", "item access", 1, 14),
        ("{{ range(10) }}", "function call", 1, 9),
        ("{% for x in y %}{% endfor %}", "a loop", 1, 4),
        ("{% include 'base.html' %}", "an include", 1, 4),
        ("{% set x = 1 %}", "an assignment", 1, 4),
        ("{{ first_name|attr('x') }}", "Unknown filter “attr”", 1, 15),
        ("{{ 7 * 7 }}", "arithmetic", 1, None),
        ("{{ self }}", "Unknown field “self”", 1, 4),
        ("{{ lipsum() }}", "function call", 1, 10),
        ("{{ cycler.__init__.__globals__ }}", "attribute access", 1, None),
    ],
)
def test_refused_at_save_time_with_the_position(
    source: str, message: str, line: int, column: int | None
) -> None:
    with pytest.raises(TemplateError) as raised:
        template_check(source, field="bodies.0.text")
    error = raised.value
    assert message in error.message
    assert error.line == line
    if column is not None:
        assert error.column == column
        assert f"line {line}, column {column}" in error.message
    assert error.field == "bodies.0.text"
    assert error.as_dict()["line"] == line


def test_the_sandbox_refuses_internals_even_unchecked() -> None:
    """Belt and braces: were the save-time check bypassed, the sandbox still says no."""
    with pytest.raises(TemplateError, match="refused"):
        template_render("{{ first_name.__class__.__mro__ }}", {"first_name": "x"})
    with pytest.raises(TemplateError):
        template_render("{{ ''.__class__.__subclasses__() }}", {})
    with pytest.raises(TemplateError):
        template_render("{{ first_name.format.__globals__ }}", {"first_name": "x"})
    # No globals at all: the usual escape hatches are not there.
    with pytest.raises(TemplateError):
        template_render("{{ cycler.__init__.__globals__.os }}", {})
    env = ImmutableSandboxedEnvironment()
    with pytest.raises(SecurityError):
        env.from_string("{{ x.__class__.__base__.__subclasses__() }}").render(x="a")


def test_html_bodies_escape_values() -> None:
    assert template_render("<p>{{ first_name }}</p>", {"first_name": "<b>"}, html=True) == (
        "<p>&lt;b&gt;</p>"
    )
    assert template_render("{{ first_name }}", {"first_name": "<b>"}) == "<b>"
