"""Reads of analytics: funnels over the message events, consent growth, and the messages behind
a figure. Every figure is a set-based aggregate (GROUP BY), one statement per table of figures.

The funnel query reads the outbox and its append-only events (and content's link clicks) in
three steps, all hash aggregates with no COUNT(DISTINCT): the flags of each message (which
events it has), then per (group, person) the messages and whether the person is in each stage,
then per group the sums. So a cell knows both its message count and how many distinct people
it covers, which small-cell suppression needs (see `figures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek

from carereach.analytics.experiments import Arm, arms_layout, bucket_expression, seed_for
from carereach.analytics.models import Conversion, Experiment
from carereach.audience.models import Contact, ContactStatus, HcpProfile
from carereach.audience.segments.compiler import segment_filter
from carereach.audience.segments.fields import default_contact_schema
from carereach.audience.selectors import contacts_for_user
from carereach.campaigns.models import Campaign
from carereach.consent.models import ConsentAction, ConsentEntry, Program
from carereach.content.models import ClickKind, ContentItem, ContentVersion, LinkClick, TrackedLink
from carereach.errors import NotFoundError, ValidationError
from carereach.messaging.models import EventKind, Message, MessageEvent, MessageStatus

# The funnel's stages, in order: (code, label, the stage its rate is a share of).
STAGES: tuple[tuple[str, str, str | None], ...] = (
    ("sent", "Sent", None),
    ("delivered", "Delivered", "sent"),
    ("failed", "Failed", "attempted"),
    ("clicked", "Clicked", "sent"),
    ("replied", "Replied", "sent"),
    ("converted", "Converted", "sent"),
    ("opted_out", "Opted out", "sent"),
)
STAGE_CODES = tuple(code for code, _, _ in STAGES)
# Which events put a message in a stage; `attempted` (sent or failed) is the failure rate's base.
STAGE_EVENTS: dict[str, tuple[str, ...]] = {
    "sent": (EventKind.SENT,),
    "attempted": (EventKind.SENT, EventKind.FAILED, EventKind.UNDELIVERED),
    "delivered": (EventKind.DELIVERED,),
    "failed": (EventKind.FAILED, EventKind.UNDELIVERED),
    "replied": (EventKind.REPLIED,),
    "converted": (EventKind.CONVERTED,),
    "opted_out": (EventKind.OPTED_OUT,),
}
COUNTED = ("attempted", *STAGE_CODES)

PERIODS = ("day", "week", "month")
GROUPS = ("total", "campaign", "content", "version", "channel", "program", "rep", *PERIODS)


@dataclass(frozen=True)
class Filters:
    """Which messages a figure covers: created in [start, end), and the other filters."""

    start: datetime | None = None
    end: datetime | None = None
    campaign_id: int | None = None
    content_item_id: int | None = None
    content_version_id: int | None = None
    channel: str = ""
    program_id: int | None = None
    rep_id: int | None = None

    def narrowed(self, group: str, key: str) -> Filters:
        """These filters and one row of a table grouped by `group` (its `key`): a drill-down."""
        if group == "total" or not key:
            return self
        if group in PERIODS:
            first = datetime.combine(date.fromisoformat(key), datetime.min.time(), tzinfo=UTC)
            after = _period_end(group, first)
            start = max(first, self.start) if self.start else first
            end = min(after, self.end) if self.end else after
            return replace(self, start=start, end=end)
        if group == "channel":
            return replace(self, channel=key)
        try:
            number = int(key)
        except ValueError:
            raise ValidationError(f"Bad {group} {key!r}.", field="key") from None
        if group == "campaign":
            return replace(self, campaign_id=number)
        if group == "content":
            return replace(self, content_item_id=number)
        if group == "version":
            return replace(self, content_version_id=number)
        if group == "program":
            return replace(self, program_id=number)
        if group == "rep":
            return replace(self, rep_id=number)
        raise ValidationError(f"Unknown grouping {group!r}.", field="group")


def _period_end(period: str, first: datetime) -> datetime:
    if period == "day":
        return first + timedelta(days=1)
    if period == "week":
        return first + timedelta(days=7)
    year, month = (first.year + 1, 1) if first.month == 12 else (first.year, first.month + 1)
    return first.replace(year=year, month=month)


@dataclass
class Counts:
    messages: int = 0
    people: int = 0


@dataclass
class FunnelRow:
    key: str  # the group's value as text ("" for the total)
    label: str
    stages: dict[str, Counts] = field(default_factory=dict)
    click_seconds_total: float = 0.0
    click_timed: int = 0  # clicked messages with a send time
    click_timed_people: int = 0

    @property
    def mean_seconds_to_click(self) -> float | None:
        return self.click_seconds_total / self.click_timed if self.click_timed else None


def _table(model: type[Any]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _period_sql(period: str, column: str) -> str:
    if connection.vendor == "postgresql":
        unit = {"day": "day", "week": "week", "month": "month"}[period]
        return f"to_char(date_trunc('{unit}', {column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
    if period == "day":
        return f"date({column})"
    if period == "week":  # Monday of the week, as PostgreSQL's date_trunc('week')
        return f"date({column}, 'weekday 0', '-6 days')"
    return f"strftime('%%Y-%%m-01', {column})"  # %% : the query has parameters


def _seconds_sql(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def _dimension(group: str) -> tuple[str, str]:
    """(SQL expression of the group's key over the message `m`, joins it needs)."""
    if group == "total":
        return "''", ""
    if group == "campaign":  # other origins (journeys, notices) belong to no campaign
        return "CASE WHEN m.origin = 'campaign' THEN m.origin_ref END", ""
    if group == "content":
        return (
            "cv.item_id",
            f"LEFT JOIN {_table(ContentVersion)} cv ON cv.id = m.content_version_id",
        )
    if group == "version":
        return "m.content_version_id", ""
    if group == "channel":
        return "m.channel", ""
    if group == "program":
        return "m.program_id", ""
    if group == "rep":
        return "h.owner_rep_id", f"LEFT JOIN {_table(HcpProfile)} h ON h.contact_id = m.contact_id"
    if group in PERIODS:
        return _period_sql(group, "m.created_at"), ""
    raise ValidationError(
        f"Unknown grouping {group!r}; use one of {', '.join(GROUPS)}.", field="group"
    )


def _where(filters: Filters) -> tuple[list[str], list[Any]]:
    adapt = connection.ops.adapt_datetimefield_value
    where = ["m.contact_id IS NOT NULL", "m.status <> %s"]
    params: list[Any] = [MessageStatus.SKIPPED.value]
    if filters.start is not None:
        where.append("m.created_at >= %s")
        params.append(adapt(filters.start))
    if filters.end is not None:
        where.append("m.created_at < %s")
        params.append(adapt(filters.end))
    if filters.campaign_id is not None:
        where.append("m.origin_ref = %s")
        params.append(f"campaign:{filters.campaign_id}")
    if filters.content_item_id is not None:
        where.append(
            f"m.content_version_id IN (SELECT id FROM {_table(ContentVersion)} WHERE item_id = %s)"  # noqa: S608 - our table name; the value is a parameter
        )
        params.append(filters.content_item_id)
    if filters.content_version_id is not None:
        where.append("m.content_version_id = %s")
        params.append(filters.content_version_id)
    if filters.channel:
        where.append("m.channel = %s")
        params.append(filters.channel)
    if filters.program_id is not None:
        where.append("m.program_id = %s")
        params.append(filters.program_id)
    if filters.rep_id is not None:
        where.append(
            f"m.contact_id IN (SELECT contact_id FROM {_table(HcpProfile)} WHERE owner_rep_id = %s)"  # noqa: S608 - our table name; the value is a parameter
        )
        params.append(filters.rep_id)
    return where, params


def _flag(stage: str) -> str:
    kinds = ", ".join(f"'{kind}'" for kind in STAGE_EVENTS[stage])
    return f"MAX(CASE WHEN e.kind IN ({kinds}) THEN 1 ELSE 0 END) AS {stage}"


EVENT_STAGES = tuple(s for s in COUNTED if s != "clicked")
SUMMED = (*EVENT_STAGES, "clicked")


def funnel_sql(filters: Filters, groups: Sequence[str]) -> tuple[str, list[Any]]:
    """The funnel query for one or more groupings at once (exposed for the benchmark's
    EXPLAIN): the messages, their events and clicks are read once, and each grouping is one
    branch of a UNION ALL over the per-message rows. Clicks are looked up per message through
    the tracked links' `message_key` index: joining the whole link and click tables cost every
    small campaign a scan of every click ever made (benchmarks/README.md). Rows come back as
    (grouping index, key, then messages and people per stage in `SUMMED` order, then the click
    timing sums)."""
    dimensions = [_dimension(group) for group in groups]
    joins = " ".join(dict.fromkeys(join for _, join in dimensions if join))
    dims = ",\n         ".join(f"{expr} AS dim{n}" for n, (expr, _) in enumerate(dimensions))
    where, params = _where(filters)
    flags = ",\n    ".join(_flag(stage) for stage in EVENT_STAGES)
    per_message = ",\n    ".join(f"COALESCE(f.{s}, 0) AS {s}" for s in EVENT_STAGES)
    carried = ", ".join(f"s.dim{n}" for n in range(len(groups)))
    per_person_columns = ",\n    ".join(f"SUM({s}) AS {s}_m, MAX({s}) AS {s}_p" for s in SUMMED)
    per_person = "\n  UNION ALL\n".join(
        f"""  SELECT {n} AS grp, CAST(dim{n} AS VARCHAR(200)) AS dim, contact_id,
    {per_person_columns},
    SUM(click_seconds) AS cs, COUNT(click_seconds) AS cn,
    MAX(CASE WHEN click_seconds IS NULL THEN 0 ELSE 1 END) AS cp
  FROM per_message GROUP BY dim{n}, contact_id"""  # noqa: S608 - column names and numbers only
        for n in range(len(groups))
    )
    totals = ", ".join(f"SUM({s}_m), SUM({s}_p)" for s in SUMMED)
    # Every fragment below is ours (table names, stage names, fixed SQL); values are parameters.
    sql = f"""
WITH scoped AS (
  SELECT m.id, m.{connection.ops.quote_name("key")} AS mkey, m.contact_id, m.sent_at,
         {dims}
  FROM {_table(Message)} m {joins}
  WHERE {" AND ".join(where)}
),
flags AS (
  SELECT e.message_id AS mid,
    {flags}
  FROM {_table(MessageEvent)} e JOIN scoped s ON s.id = e.message_id
  GROUP BY e.message_id
),
clicks AS (
  SELECT q.mid, q.first_at FROM (
    SELECT s.id AS mid,
      (SELECT MIN(c.at)
       FROM {_table(TrackedLink)} l JOIN {_table(LinkClick)} c ON c.link_id = l.id
       WHERE l.message_key = s.mkey AND c.kind = %s) AS first_at
    FROM scoped s
  ) q WHERE q.first_at IS NOT NULL
),
per_message AS (
  SELECT {carried}, s.contact_id,
    {per_message},
    CASE WHEN k.mid IS NULL THEN 0 ELSE 1 END AS clicked,
    CASE WHEN k.mid IS NOT NULL AND s.sent_at IS NOT NULL
         THEN {_seconds_sql("k.first_at", "s.sent_at")} END AS click_seconds
  FROM scoped s
  LEFT JOIN flags f ON f.mid = s.id
  LEFT JOIN clicks k ON k.mid = s.id
),
per_person AS (
{per_person}
)
SELECT grp, dim, {totals}, SUM(cs), SUM(cn), SUM(cp)
FROM per_person GROUP BY grp, dim ORDER BY grp, dim
"""  # noqa: S608
    return sql, [*params, ClickKind.HUMAN.value]


def funnel_tables(*, filters: Filters, groups: Sequence[str]) -> dict[str, list[FunnelRow]]:
    """The funnel by each of `groups` (e.g. total, day and channel for a dashboard), in one
    statement: rows per group, every stage's messages and distinct people."""
    groups = list(dict.fromkeys(groups))
    sql, params = funnel_sql(filters, groups)
    tables: dict[str, list[FunnelRow]] = {group: [] for group in groups}
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # JIT compiles this statement's many aggregates for longer than they take to run.
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        for record in cursor.fetchall():
            group = groups[int(record[0])]
            if group == "campaign" and record[1] is None:
                continue  # messages of no campaign
            key = "" if record[1] is None else str(record[1])
            row = FunnelRow(key=key, label=key)
            for index, stage in enumerate(SUMMED):
                row.stages[stage] = Counts(
                    int(record[2 + 2 * index] or 0), int(record[3 + 2 * index] or 0)
                )
            tail = 2 + 2 * len(SUMMED)
            row.click_seconds_total = float(record[tail] or 0)
            row.click_timed = int(record[tail + 1] or 0)
            row.click_timed_people = int(record[tail + 2] or 0)
            tables[group].append(row)
    for group, rows in tables.items():
        if group == "total" and not rows:
            rows.append(FunnelRow(key="", label="", stages={s: Counts() for s in SUMMED}))
        _label(rows, group)
        if group not in PERIODS:
            rows.sort(key=lambda row: row.label.lower())
    return tables


def funnel_rows(*, filters: Filters, group: str = "total") -> list[FunnelRow]:
    """One row per group (one for "total"), every stage's messages and distinct people."""
    return funnel_tables(filters=filters, groups=[group])[group]


def _label(rows: list[FunnelRow], group: str) -> None:
    """Names for the groups' keys (a campaign's name, a rep's user name, ...)."""
    ids = [int(row.key) for row in rows if row.key.isdigit()]
    names: dict[str, str] = {}
    if group == "total":
        names = {"": "All messages"}
    elif group == "campaign":
        for row in rows:  # "campaign:12" -> "12": drill-downs name the campaign by its id
            row.key = row.key.removeprefix("campaign:")
        campaign_ids = [int(row.key) for row in rows if row.key.isdigit()]
        names = {
            str(pk): name
            for pk, name in Campaign.objects.filter(pk__in=campaign_ids).values_list("pk", "name")
        }
    elif group == "content":
        names = {
            str(pk): title
            for pk, title in ContentItem.objects.filter(pk__in=ids).values_list("pk", "title")
        }
    elif group == "version":
        names = {
            str(v.pk): f"{v.item.title} v{v.number}"
            for v in ContentVersion.objects.filter(pk__in=ids).select_related("item")
        }
    elif group == "program":
        names = {
            str(pk): name
            for pk, name in Program.objects.filter(pk__in=ids).values_list("pk", "name")
        }
    elif group == "rep":
        names = {
            str(pk): username
            for pk, username in User.objects.filter(pk__in=ids).values_list("pk", "username")
        }
    for row in rows:
        row.label = names.get(row.key, row.key) or ("No rep" if group == "rep" else "None")


# -- consent growth and churn -------------------------------------------------------------------

CONSENT_GROUPS = ("method", "rep", "program", "channel", "day", "week", "month")


@dataclass
class ConsentRow:
    key: str
    label: str
    grants: Counts
    revocations: Counts


def consent_growth(
    *,
    start: datetime | None,
    end: datetime | None,
    group: str = "method",
    program_id: int | None = None,
) -> list[ConsentRow]:
    """Grants and revocations in the ledger per capture method, rep (who captured it), program,
    channel or period, with the distinct people each covers, in one GROUP BY."""
    entries = ConsentEntry.objects.all()
    if start is not None:
        entries = entries.filter(occurred_at__gte=start)
    if end is not None:
        entries = entries.filter(occurred_at__lt=end)
    if program_id is not None:
        entries = entries.filter(program_id=program_id)
    column: Any
    if group in PERIODS:
        trunc = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}[group]
        column = trunc("occurred_at", tzinfo=UTC)
    else:
        name = {
            "method": "method",
            "rep": "captured_by_id",
            "program": "program_id",
            "channel": "channel",
        }.get(group)
        if name is None:
            raise ValidationError(
                f"Unknown grouping {group!r}; use one of {', '.join(CONSENT_GROUPS)}.",
                field="group",
            )
        column = F(name)
    grant, revoke = Q(action=ConsentAction.GRANT), Q(action=ConsentAction.REVOKE)
    found = (
        entries.values(bucket=column)
        .annotate(
            grants=Count("id", filter=grant),
            grant_people=Count("contact_id", filter=grant, distinct=True),
            revocations=Count("id", filter=revoke),
            revoke_people=Count("contact_id", filter=revoke, distinct=True),
        )
        .order_by("bucket")
    )
    rows: list[ConsentRow] = []
    for item in found:
        bucket = item["bucket"]
        key = bucket.date().isoformat() if isinstance(bucket, datetime) else str(bucket or "")
        rows.append(
            ConsentRow(
                key=key,
                label=key,
                grants=Counts(item["grants"], item["grant_people"]),
                revocations=Counts(item["revocations"], item["revoke_people"]),
            )
        )
    ids = [int(r.key) for r in rows if r.key.isdigit()]
    if group == "rep":
        names = dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))
        for r in rows:
            r.label = names.get(int(r.key), r.key) if r.key.isdigit() else "System or self"
    elif group == "program":
        names = dict(Program.objects.filter(pk__in=ids).values_list("pk", "name"))
        for r in rows:
            r.label = names.get(int(r.key), r.key) if r.key.isdigit() else "Every program"
    elif group == "method":
        for r in rows:
            r.label = r.key.replace("_", " ").capitalize()
    return rows


# -- the messages behind a figure ---------------------------------------------------------------


def funnel_messages(
    *, user: User, filters: Filters, stage: str, limit: int = 200
) -> QuerySet[Message]:
    """The messages a funnel cell counts, among the contacts `user` may see (none for roles
    that may not see contacts, e.g. analysts): the drill-down, newest first."""
    if stage not in (*STAGE_CODES, "attempted"):
        raise ValidationError(
            f"Unknown stage {stage!r}; use one of {', '.join(STAGE_CODES)}.", field="stage"
        )
    messages = Message.objects.filter(contact__in=contacts_for_user(user=user).values("pk"))
    messages = messages.exclude(status=MessageStatus.SKIPPED)
    if filters.start is not None:
        messages = messages.filter(created_at__gte=filters.start)
    if filters.end is not None:
        messages = messages.filter(created_at__lt=filters.end)
    if filters.campaign_id is not None:
        messages = messages.filter(origin_ref=f"campaign:{filters.campaign_id}")
    if filters.content_item_id is not None:
        messages = messages.filter(content_version__item_id=filters.content_item_id)
    if filters.content_version_id is not None:
        messages = messages.filter(content_version_id=filters.content_version_id)
    if filters.channel:
        messages = messages.filter(channel=filters.channel)
    if filters.program_id is not None:
        messages = messages.filter(program_id=filters.program_id)
    if filters.rep_id is not None:
        messages = messages.filter(contact__hcp__owner_rep_id=filters.rep_id)
    if stage == "clicked":
        clicked = LinkClick.objects.filter(kind=ClickKind.HUMAN, link__message_key=OuterRef("key"))
        messages = messages.filter(Exists(clicked))
    else:
        events = MessageEvent.objects.filter(message=OuterRef("pk"), kind__in=STAGE_EVENTS[stage])
        messages = messages.filter(Exists(events))
    return messages.select_related("program").order_by("-created_at", "-id")[:limit]


def conversions_recent(*, limit: int = 50) -> QuerySet[Conversion]:
    return Conversion.objects.order_by("-recorded_at", "-id")[:limit]


# -- experiments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmCounts:
    code: str
    note: str
    people: int  # in the audience and in this arm now
    converted: int  # of them, people with a conversion of the experiment's kind in its window


def experiments_all() -> QuerySet[Experiment]:
    return Experiment.objects.all()


def experiment_get(*, code: str) -> Experiment:
    experiment = Experiment.objects.filter(code=code).first()
    if experiment is None:
        raise NotFoundError(f"No experiment {code!r}.")
    return experiment


def experiment_arms(experiment: Experiment) -> list[Arm]:
    weights = [(arm["code"], int(arm["weight"])) for arm in experiment.arms]
    return arms_layout(experiment.holdout_percent, weights)


def experiment_counts(*, experiment: Experiment) -> list[ArmCounts]:
    """People per arm and how many of them converted, in one GROUP BY over the audience."""
    arms = experiment_arms(experiment)
    audience = segment_filter(
        Contact.objects.exclude(status=ContactStatus.MERGED),
        experiment.query,
        default_contact_schema(),
    )
    converted = Conversion.objects.filter(
        contact=OuterRef("pk"),
        kind=experiment.conversion_kind,
        occurred_at__gte=experiment.starts_at,
        occurred_at__lt=experiment.ends_at,
    )
    which = Case(
        *(When(bucket__gte=arm.low, bucket__lt=arm.high, then=Value(arm.code)) for arm in arms),
        output_field=CharField(),
    )
    found = {
        row["arm"]: row
        for row in audience.annotate(bucket=bucket_expression(seed_for(experiment.pk)))
        .annotate(arm=which, did=Exists(converted))
        .values("arm")
        .annotate(people=Count("pk"), converted=Count("pk", filter=Q(did=True)))
        .order_by()
    }
    notes = {arm["code"]: arm.get("note", "") for arm in experiment.arms}
    return [
        ArmCounts(
            code=arm.code,
            note=notes.get(arm.code, "No message (hold-out)"),
            people=found.get(arm.code, {}).get("people", 0),
            converted=found.get(arm.code, {}).get("converted", 0),
        )
        for arm in arms
    ]
