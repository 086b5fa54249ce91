"""REST API of analytics: record conversions; read funnels, rates and consent growth.

Figures are aggregates only, suppressed for everyone as in the console: a cell covering fewer
than 11 distinct people has `count` null, `shown` "<11", and no rate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.responses import Status

from carereach.analytics.figures import SMALL_CELL
from carereach.analytics.models import Conversion, Experiment
from carereach.analytics.selectors import (
    consent_growth,
    experiment_counts,
    experiment_get,
    funnel_rows,
)
from carereach.analytics.services import (
    ArmInput,
    ConversionInput,
    ExperimentInput,
    conversion_record,
    experiment_create,
)
from carereach.analytics.tables import (
    FunnelLine,
    consent_csv,
    consent_lines,
    consent_report_from,
    experiment_lines,
    funnel_csv,
    funnel_lines,
    report_from,
)
from carereach.security.api_auth import requires
from carereach.security.permissions import acting_user
from carereach.security.roles import Capability

router = Router(tags=["analytics"])


class ConversionIn(Schema):
    contact: int = Field(description="The contact's id")
    kind: str = Field(description="appointment_attended, refill_picked_up, sample_requested, ...")
    occurred_at: datetime = Field(description="When it happened; UTC when no offset is given")
    value: Decimal | None = Field(None, description="Optional value (e.g. an order's amount)")
    reference: str = Field("", description="Your id for it; sending it again is refused (409)")
    window_days: int | None = Field(
        None, description="Attribution window in days (default CARE_ATTRIBUTION_WINDOW_DAYS)"
    )


class ConversionOut(Schema):
    id: int
    contact: int
    kind: str
    occurred_at: datetime
    value: Decimal | None
    reference: str
    message: int | None = Field(description="The message credited, or null (none in the window)")
    window_days: int


def _conversion_out(conversion: Conversion) -> ConversionOut:
    return ConversionOut(
        id=conversion.pk,
        contact=conversion.contact_id,
        kind=conversion.kind,
        occurred_at=conversion.occurred_at,
        value=conversion.value,
        reference=conversion.reference,
        message=conversion.message_id,
        window_days=conversion.window_days,
    )


@router.post("/conversions", response={201: ConversionOut}, auth=requires(Capability.EDIT_CONTACTS))
def record_conversion(request: HttpRequest, payload: ConversionIn) -> Status[ConversionOut]:
    """Record what a contact did (kept an appointment, picked up a refill); it is credited to
    the last message sent to them within the attribution window before it."""
    occurred_at = payload.occurred_at
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    conversion = conversion_record(
        actor=acting_user(request),
        data=ConversionInput(
            contact_id=payload.contact,
            kind=payload.kind,
            occurred_at=occurred_at,
            value=payload.value,
            reference=payload.reference,
            window_days=payload.window_days,
        ),
    )
    return Status(201, _conversion_out(conversion))


class StageOut(Schema):
    stage: str
    label: str
    count: int | None = Field(description="null when suppressed (fewer than 11 people)")
    shown: str = Field(description='The count as shown: "1,234" or "<11"')
    rate: float | None = Field(description="Share of `base`; null when hidden")
    rate_low: float | None = Field(description="Wilson 95% interval, low end")
    rate_high: float | None
    base: str | None = Field(description="The stage the rate is a share of")


class FunnelRowOut(Schema):
    key: str
    label: str
    stages: list[StageOut]
    mean_seconds_to_first_click: float | None


class FunnelOut(Schema):
    group: str
    small_cell_threshold: int
    rows: list[FunnelRowOut]


def _row_out(line: FunnelLine) -> FunnelRowOut:
    return FunnelRowOut(
        key=line.key,
        label=line.label,
        stages=[
            StageOut(
                stage=cell.stage,
                label=cell.label,
                count=cell.shown.value,
                shown=cell.shown.text,
                rate=cell.rate.value,
                rate_low=cell.rate.low,
                rate_high=cell.rate.high,
                base=cell.base,
            )
            for cell in line.cells
        ],
        mean_seconds_to_first_click=line.first_click,
    )


def _params(request: HttpRequest) -> dict[str, str]:
    return {key: request.GET.get(key, "") for key in request.GET}


@router.get("/analytics/funnel", response=FunnelOut, auth=requires(Capability.VIEW_ANALYTICS))
def get_funnel(
    request: HttpRequest,
    group: str = "total",
    start: str = "",
    end: str = "",
    campaign: str = "",
    content: str = "",
    version: str = "",
    channel: str = "",
    program: str = "",
    rep: str = "",
) -> FunnelOut:
    """Sent, delivered, failed, clicked (people, not scanners), replied, converted, opted out,
    with rates and Wilson 95% intervals, per `group` (total, campaign, content, version,
    channel, program, rep, day, week, month). `start`/`end` are dates (end inclusive, UTC) of
    when the messages were created; other parameters filter by id (channel by name)."""
    report = report_from(_params(request))
    lines = funnel_lines(funnel_rows(filters=report.filters, group=report.group))
    return FunnelOut(
        group=report.group, small_cell_threshold=SMALL_CELL, rows=[_row_out(x) for x in lines]
    )


@router.get("/analytics/funnel.csv", auth=requires(Capability.VIEW_ANALYTICS))
def get_funnel_csv(request: HttpRequest) -> HttpResponse:
    """The same figures as CSV (same parameters), suppressed the same way."""
    report = report_from(_params(request))
    lines = funnel_lines(funnel_rows(filters=report.filters, group=report.group))
    return _csv(funnel_csv(lines, report.group), "funnel.csv")


class ConsentRowOut(Schema):
    key: str
    label: str
    grants: int | None
    grants_shown: str
    revocations: int | None
    revocations_shown: str
    net: int | None


class ConsentOut(Schema):
    group: str
    small_cell_threshold: int
    rows: list[ConsentRowOut]


@router.get("/analytics/consent", response=ConsentOut, auth=requires(Capability.VIEW_ANALYTICS))
def get_consent_growth(
    request: HttpRequest, group: str = "method", start: str = "", end: str = "", program: str = ""
) -> ConsentOut:
    """Consent grants and revocations (growth and churn) per capture method, rep, program,
    channel, day, week or month."""
    report = consent_report_from(_params(request))
    lines = consent_lines(
        consent_growth(
            start=report.filters.start,
            end=report.filters.end,
            group=report.group,
            program_id=report.filters.program_id,
        )
    )
    return ConsentOut(
        group=report.group,
        small_cell_threshold=SMALL_CELL,
        rows=[
            ConsentRowOut(
                key=line.key,
                label=line.label,
                grants=line.grants.value,
                grants_shown=line.grants.text,
                revocations=line.revocations.value,
                revocations_shown=line.revocations.text,
                net=line.net,
            )
            for line in lines
        ],
    )


@router.get("/analytics/consent.csv", auth=requires(Capability.VIEW_ANALYTICS))
def get_consent_csv(request: HttpRequest) -> HttpResponse:
    report = consent_report_from(_params(request))
    rows = consent_growth(
        start=report.filters.start,
        end=report.filters.end,
        group=report.group,
        program_id=report.filters.program_id,
    )
    return _csv(consent_csv(consent_lines(rows), report.group), "consent.csv")


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


class ArmIn(Schema):
    code: str = Field(description='A short code ("a", "morning"); "control" is the hold-out')
    weight: int = Field(1, description="Share of the non-held-out audience, relative to others")
    note: str = Field("", description="What this arm's campaign does differently")


class ExperimentIn(Schema):
    code: str
    name: str
    query: str = Field(description="The audience, a segment query")
    holdout_percent: int = Field(10, description="0-50: the share that gets no message")
    arms: list[ArmIn]
    conversion_kind: str = Field(description="The conversion it measures")
    starts_at: datetime
    ends_at: datetime


class ComparisonOut(Schema):
    difference: float | None = Field(description="Variant rate - control rate")
    z: float | None
    p_value: float | None
    enough_data: bool
    verdict: str


class ArmOut(Schema):
    code: str
    note: str
    people: int | None
    people_shown: str
    converted: int | None
    converted_shown: str
    rate: float | None
    rate_low: float | None
    rate_high: float | None
    against_control: ComparisonOut | None
    segment: str = Field(description="What the arm's campaign query adds")


class ExperimentOut(Schema):
    code: str
    name: str
    query: str
    holdout_percent: int
    conversion_kind: str
    starts_at: datetime
    ends_at: datetime
    arms: list[ArmOut]


def _experiment_out(experiment: Experiment) -> ExperimentOut:
    lines = experiment_lines(experiment_counts(experiment=experiment))
    return ExperimentOut(
        code=experiment.code,
        name=experiment.name,
        query=experiment.query,
        holdout_percent=experiment.holdout_percent,
        conversion_kind=experiment.conversion_kind,
        starts_at=experiment.starts_at,
        ends_at=experiment.ends_at,
        arms=[
            ArmOut(
                code=line.code,
                note=line.note,
                people=line.people.value,
                people_shown=line.people.text,
                converted=line.converted.value,
                converted_shown=line.converted.text,
                rate=line.rate.value,
                rate_low=line.rate.low,
                rate_high=line.rate.high,
                against_control=None
                if line.comparison is None
                else ComparisonOut(
                    difference=line.comparison.difference,
                    z=line.comparison.z,
                    p_value=line.comparison.p_value,
                    enough_data=line.comparison.enough_data,
                    verdict=line.comparison.verdict,
                ),
                segment=f'variant("{experiment.code}", "{line.code}")',
            )
            for line in lines
        ],
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@router.post("/experiments", response={201: ExperimentOut}, auth=requires(Capability.RUN_CAMPAIGNS))
def create_experiment(request: HttpRequest, payload: ExperimentIn) -> Status[ExperimentOut]:
    """Split an audience into a hold-out control and variant arms. Send each variant with its
    own campaign whose query adds the arm's `segment` (e.g. `variant("flu-timing", "a")`)."""
    experiment = experiment_create(
        actor=acting_user(request),
        data=ExperimentInput(
            code=payload.code,
            name=payload.name,
            query=payload.query,
            holdout_percent=payload.holdout_percent,
            arms=tuple(ArmInput(a.code, a.weight, a.note) for a in payload.arms),
            conversion_kind=payload.conversion_kind,
            starts_at=_aware(payload.starts_at),
            ends_at=_aware(payload.ends_at),
        ),
    )
    return Status(201, _experiment_out(experiment))


@router.get("/experiments/{code}", response=ExperimentOut, auth=requires(Capability.VIEW_ANALYTICS))
def get_experiment(request: HttpRequest, code: str) -> ExperimentOut:
    """Each arm's people and conversions, its rate with a Wilson 95% interval, and each
    variant against the control (two-proportion z-test), saying when there is not enough data."""
    return _experiment_out(experiment_get(code=code))
