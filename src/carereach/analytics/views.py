"""Console pages of analytics: the dashboard (funnel and time series charts, figures by group),
consent growth, CSV downloads, and the drill-down from a figure to its messages.

Analysts see aggregates only: the drill-down needs `view_contacts` as well (and then lists only
the contacts of the viewer's territories).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from carereach.analytics.charts import funnel_svg, series_svg
from carereach.analytics.figures import SMALL_CELL
from carereach.analytics.selectors import (
    CONSENT_GROUPS,
    GROUPS,
    STAGE_CODES,
    consent_growth,
    experiment_counts,
    experiments_all,
    funnel_messages,
    funnel_rows,
    funnel_tables,
)
from carereach.analytics.tables import (
    STAGE_LABELS,
    Report,
    consent_csv,
    consent_lines,
    consent_report_from,
    experiment_lines,
    funnel_csv,
    funnel_lines,
    report_from,
)
from carereach.campaigns.selectors import campaigns_list
from carereach.consent.selectors import programs_all
from carereach.errors import CarereachError
from carereach.security.audit import audit_record
from carereach.security.models import AuditAction
from carereach.security.permissions import acting_user, has_capability, require_capability
from carereach.security.roles import Capability
from carereach.vocabulary import Channel

FILTER_KEYS = ("start", "end", "campaign", "content", "version", "channel", "program", "rep")
SERIES_STAGES = ("sent", "delivered", "clicked", "converted")


def _params(request: HttpRequest) -> dict[str, str]:
    return {key: request.GET.get(key, "") for key in request.GET}


def _choices() -> dict[str, Any]:
    return {
        "campaigns": campaigns_list().values_list("pk", "name")[:200],
        "programs": programs_all().values_list("pk", "name"),
        "channels": Channel.choices,
    }


def _series_period(report: Report) -> str:
    start = report.filters.start
    end = report.filters.end or timezone.now()
    if start is None or end - start > timedelta(days=92):
        return "week" if start is not None and end - start <= timedelta(days=730) else "month"
    return "day"


@require_capability(Capability.VIEW_ANALYTICS)
@require_GET
def dashboard_view(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    params.setdefault("group", "campaign")
    context: dict[str, Any] = {"params": params, "groups": GROUPS, **_choices()}
    try:
        report = report_from(params)
    except CarereachError as error:
        context["error"] = error
        return render(request, "analytics/dashboard.html", context, status=400)
    period = _series_period(report)
    tables = funnel_tables(filters=report.filters, groups=["total", report.group, period])
    total = funnel_lines(tables["total"])[0]
    lines = funnel_lines(tables[report.group])
    series = funnel_lines(tables[period])
    filters_only = {k: v for k, v in params.items() if k in FILTER_KEYS and v}
    drill = has_capability(request.user, Capability.VIEW_CONTACTS)
    context.update(
        report=report,
        total=total,
        lines=lines,
        stages=[(code, STAGE_LABELS[code]) for code in STAGE_CODES],
        funnel_chart=funnel_svg(total, "Funnel: messages per stage"),
        series_chart=series_svg(series, SERIES_STAGES, f"Per {period} (UTC)"),
        query=urlencode(filters_only),
        csv_query=urlencode({**filters_only, "group": report.group}),
        drill=drill,
        small_cell=SMALL_CELL,
    )
    return render(request, "analytics/dashboard.html", context)


@require_capability(Capability.VIEW_ANALYTICS)
@require_GET
def funnel_csv_view(request: HttpRequest) -> HttpResponse:
    try:
        report = report_from(_params(request))
    except CarereachError as error:
        return HttpResponse(error.message, status=400, content_type="text/plain; charset=utf-8")
    lines = funnel_lines(funnel_rows(filters=report.filters, group=report.group))
    return _download(request, funnel_csv(lines, report.group), f"funnel-by-{report.group}.csv")


@require_capability(Capability.VIEW_ANALYTICS)
@require_GET
def consent_view(request: HttpRequest) -> HttpResponse:
    params = _params(request)
    context: dict[str, Any] = {"params": params, "groups": CONSENT_GROUPS, **_choices()}
    try:
        report = consent_report_from(params)
    except CarereachError as error:
        context["error"] = error
        return render(request, "analytics/consent.html", context, status=400)
    rows = consent_growth(
        start=report.filters.start,
        end=report.filters.end,
        group=report.group,
        program_id=report.filters.program_id,
    )
    context.update(
        report=report,
        lines=consent_lines(rows),
        csv_query=urlencode({k: v for k, v in params.items() if v}),
        small_cell=SMALL_CELL,
    )
    return render(request, "analytics/consent.html", context)


@require_capability(Capability.VIEW_ANALYTICS)
@require_GET
def consent_csv_view(request: HttpRequest) -> HttpResponse:
    try:
        report = consent_report_from(_params(request))
    except CarereachError as error:
        return HttpResponse(error.message, status=400, content_type="text/plain; charset=utf-8")
    rows = consent_growth(
        start=report.filters.start,
        end=report.filters.end,
        group=report.group,
        program_id=report.filters.program_id,
    )
    return _download(
        request, consent_csv(consent_lines(rows), report.group), f"consent-by-{report.group}.csv"
    )


@require_capability(Capability.VIEW_CONTACTS)
@require_GET
def drilldown_view(request: HttpRequest) -> HttpResponse:
    """The messages behind one figure: same filters, the row's group key, and the stage.

    A list of messages, not an aggregate: it needs `view_contacts` (analysts have not) and
    shows only the contacts the viewer may see (a rep: their territories)."""
    params = _params(request)
    stage = params.get("stage") or "sent"
    context: dict[str, Any] = {"params": params, "stage_label": STAGE_LABELS.get(stage, stage)}
    try:
        report = report_from(params)
        filters = report.filters.narrowed(report.group, params.get("key", ""))
        messages = list(funnel_messages(user=acting_user(request), filters=filters, stage=stage))
    except CarereachError as error:
        context["error"] = error
        return render(request, "analytics/messages.html", context, status=400)
    context.update(
        messages=messages,
        back=urlencode({k: v for k, v in params.items() if k in (*FILTER_KEYS, "group") and v}),
    )
    return render(request, "analytics/messages.html", context)


def _download(request: HttpRequest, text: str, name: str) -> HttpResponse:
    audit_record(
        actor=acting_user(request),
        action=AuditAction.EXPORT,
        object_type="analytics_report",
        note=name,
    )
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_capability(Capability.VIEW_ANALYTICS)
@require_GET
def experiments_view(request: HttpRequest) -> HttpResponse:
    """Every experiment with its arms' results."""
    results = [
        (experiment, experiment_lines(experiment_counts(experiment=experiment)))
        for experiment in experiments_all()[:20]
    ]
    return render(
        request, "analytics/experiments.html", {"results": results, "small_cell": SMALL_CELL}
    )
