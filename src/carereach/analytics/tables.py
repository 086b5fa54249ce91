"""Funnel and consent figures as shown everywhere (console, API, CSV): suppressed, with rates.

Also the one parser of report parameters (dates, filters, grouping), so every surface refuses
the same bad input with the same field-level message.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from carereach.analytics.figures import SMALL_CELL, Figure, Rate, duration_text, figure, rate
from carereach.analytics.selectors import (
    CONSENT_GROUPS,
    GROUPS,
    STAGES,
    ArmCounts,
    ConsentRow,
    Filters,
    FunnelRow,
)
from carereach.analytics.stats import Comparison, two_proportion_test
from carereach.errors import ValidationError
from carereach.vocabulary import Channel

STAGE_LABELS = {code: label for code, label, _ in STAGES}


@dataclass(frozen=True)
class StageCell:
    stage: str
    label: str
    shown: Figure
    rate: Rate
    base: str | None  # the stage the rate is a share of


@dataclass(frozen=True)
class FunnelLine:
    key: str
    label: str
    cells: list[StageCell]
    first_click: float | None  # mean seconds to first click; None when hidden or none

    @property
    def first_click_text(self) -> str:
        return duration_text(self.first_click)

    def cell(self, stage: str) -> StageCell:
        return next(c for c in self.cells if c.stage == stage)


def funnel_lines(rows: list[FunnelRow]) -> list[FunnelLine]:
    lines = []
    for row in rows:
        cells = []
        for code, label, base in STAGES:
            counts = row.stages[code]
            if base is None:
                shown, share = figure(counts.messages, counts.people), Rate(None, None, None)
            else:
                below = row.stages[base]
                shown, share = rate(counts.messages, counts.people, below.messages, below.people)
            cells.append(StageCell(code, label, shown, share, base))
        # The mean delay is an aggregate over the people who clicked: hidden like their count.
        first_click = (
            row.mean_seconds_to_click if not figure(0, row.click_timed_people).suppressed else None
        )
        lines.append(FunnelLine(row.key, row.label, cells, first_click))
    return lines


@dataclass(frozen=True)
class ConsentLine:
    key: str
    label: str
    grants: Figure
    revocations: Figure
    net: int | None  # grants - revocations, when neither is suppressed


def consent_lines(rows: list[ConsentRow]) -> list[ConsentLine]:
    lines = []
    for row in rows:
        grants = figure(row.grants.messages, row.grants.people)
        revocations = figure(row.revocations.messages, row.revocations.people)
        net = (
            None
            if grants.value is None or revocations.value is None
            else grants.value - revocations.value
        )
        lines.append(ConsentLine(row.key, row.label, grants, revocations, net))
    return lines


# -- parameters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    filters: Filters
    group: str
    start_day: date | None
    end_day: date | None  # inclusive, as the user wrote it


def _day(params: Mapping[str, str], name: str) -> date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{name}: expected a date (YYYY-MM-DD).", field=name) from None


def _number(params: Mapping[str, str], name: str) -> int | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationError(f"{name}: expected an id (a whole number).", field=name)
    return int(text)


def report_from(
    params: Mapping[str, str], *, groups: tuple[str, ...] = GROUPS, default_group: str = "total"
) -> Report:
    """Filters and grouping from query parameters: start and end (dates, end inclusive, UTC),
    campaign, content, version, program, rep (ids), channel, group."""
    start_day, end_day = _day(params, "start"), _day(params, "end")
    if start_day and end_day and end_day < start_day:
        raise ValidationError("end: the end is before the start.", field="end")
    channel = (params.get("channel") or "").strip()
    if channel and channel not in Channel.values:
        raise ValidationError(f"channel: use one of {', '.join(Channel.values)}.", field="channel")
    group = (params.get("group") or default_group).strip()
    if group not in groups:
        raise ValidationError(f"group: use one of {', '.join(groups)}.", field="group")

    def instant(day: date | None) -> datetime | None:
        return None if day is None else datetime.combine(day, datetime.min.time(), tzinfo=UTC)

    filters = Filters(
        start=instant(start_day),
        end=instant(end_day + timedelta(days=1)) if end_day else None,
        campaign_id=_number(params, "campaign"),
        content_item_id=_number(params, "content"),
        content_version_id=_number(params, "version"),
        channel=channel,
        program_id=_number(params, "program"),
        rep_id=_number(params, "rep"),
    )
    return Report(filters, group, start_day, end_day)


def consent_report_from(params: Mapping[str, str]) -> Report:
    return report_from(params, groups=CONSENT_GROUPS, default_group="method")


# -- CSV -------------------------------------------------------------------------------------------


def funnel_csv(lines: list[FunnelLine], group: str) -> str:
    """The funnel as CSV, suppressed exactly as on screen ("<11", rates left empty)."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = [group, "label"]
    for code, _, base in STAGES:
        header.append(code)
        if base is not None:
            header += [f"{code}_rate", f"{code}_rate_low", f"{code}_rate_high"]
    header.append("mean_seconds_to_first_click")
    writer.writerow(header)
    for line in lines:
        record: list[str] = [line.key, line.label]
        for cell in line.cells:
            record.append(cell.shown.text.replace(",", ""))
            if cell.base is not None:
                record += [_share(cell.rate.value), _share(cell.rate.low), _share(cell.rate.high)]
        record.append("" if line.first_click is None else f"{line.first_click:.0f}")
        writer.writerow(record)
    return out.getvalue()


def consent_csv(lines: list[ConsentLine], group: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([group, "label", "grants", "revocations", "net"])
    for line in lines:
        writer.writerow(
            [
                line.key,
                line.label,
                line.grants.text.replace(",", ""),
                line.revocations.text.replace(",", ""),
                "" if line.net is None else line.net,
            ]
        )
    return out.getvalue()


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


# -- experiments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmLine:
    code: str
    note: str
    people: Figure
    converted: Figure
    rate: Rate
    comparison: Comparison | None  # against the control (None for the control itself)


def experiment_lines(counts: list[ArmCounts]) -> list[ArmLine]:
    """Each arm's conversion rate and, for variants, the test against the control (or, with no
    hold-out, against the first variant). Suppressed counts are never tested: a comparison
    needs at least 11 people converted and 11 not in both arms."""
    reference = counts[0] if counts else None
    lines = []
    for arm in counts:
        people = figure(arm.people, arm.people)
        converted, share = rate(arm.converted, arm.converted, arm.people, arm.people)
        comparison = None
        if reference is not None and arm is not reference:
            comparison = _compare(reference, arm)
        lines.append(ArmLine(arm.code, arm.note, people, converted, share, comparison))
    return lines


def _compare(control: ArmCounts, variant: ArmCounts) -> Comparison:
    cells = (
        control.converted,
        control.people - control.converted,
        variant.converted,
        variant.people - variant.converted,
    )
    if min(cells) < SMALL_CELL:
        return Comparison(
            None,
            None,
            None,
            None,
            None,
            False,
            f"Not enough data yet: each arm needs at least {SMALL_CELL} people who converted "
            f"and {SMALL_CELL} who did not before rates can be shown or compared.",
        )
    return two_proportion_test(control.converted, control.people, variant.converted, variant.people)
