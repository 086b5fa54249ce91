"""Charts drawn on the server as SVG by pygal: no JavaScript, no CDN, printable.

Suppressed figures are drawn as gaps (pygal leaves None out), never as their true value.
"""

from __future__ import annotations

import re

import pygal  # type: ignore[import-untyped]  # pygal ships no type information
from pygal.style import Style  # type: ignore[import-untyped]

from carereach.analytics.tables import FunnelLine

STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#616e7c",
    colors=("#2f6fb0", "#3f9c6b", "#c2553a", "#8e5fb5", "#d1a23a", "#4a9fb5", "#7a7a7a"),
    font_family="system-ui, sans-serif",
    title_font_size=18,
    label_font_size=14,
    major_label_font_size=14,
    value_font_size=14,
    legend_font_size=14,
)


# pygal writes its configuration into a <script> for its optional tooltips; we serve no script,
# so it is cut out (labels in it are XML-escaped by pygal, so no "</script>" can hide inside).
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)


def _render(chart: pygal.graph.graph.Graph) -> str:
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))


def _config(title: str) -> pygal.Config:
    config = pygal.Config()
    config.js = []  # no script: the SVG is a picture, inlined in the page
    config.disable_xml_declaration = True  # inlined into HTML
    config.style = STYLE
    config.title = title
    config.width = 720
    config.height = 320
    config.print_values = True
    config.show_legend = False
    config.no_data_text = "Nothing to show (or fewer than 11 people)"
    return config


def funnel_svg(line: FunnelLine, title: str = "Funnel") -> str:
    """One horizontal bar per stage; a suppressed stage has no bar and says so in its label."""
    chart = pygal.HorizontalBar(_config(title))
    cells = list(reversed(line.cells))  # pygal draws the first value at the bottom
    chart.x_labels = [
        f"{cell.label} ({cell.shown.text})" if cell.shown.suppressed else cell.label
        for cell in cells
    ]
    chart.add("messages", [cell.shown.value for cell in cells])
    return _render(chart)


def series_svg(lines: list[FunnelLine], stages: tuple[str, ...], title: str) -> str:
    """A time series: one line per stage over the periods in `lines` (grouped by day/week/month)."""
    config = _config(title)
    config.show_legend = True
    config.legend_at_bottom = True
    config.print_values = False
    config.x_label_rotation = 30
    chart = pygal.Line(config)
    chart.x_labels = [line.label for line in lines]
    for stage in stages:
        values = [line.cell(stage).shown.value for line in lines]
        label = lines[0].cell(stage).label if lines else stage
        chart.add(label, values, allow_interruptions=True)
    return _render(chart)
