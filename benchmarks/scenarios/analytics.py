"""analytics: a campaign dashboard's figures over 10,000,000 message events.

PostgreSQL only. The outbox and its events are filled with COPY (N events, 10,000,000 at full
scale and 1,000,000 at small; about 3.2 events per message: queued, sent, delivered or
undelivered, and some replied, opted out, converted), over 100 campaigns sent one after the
other over 180 days (each campaign's messages contiguous), of which one holds a tenth of all
messages, 500,000 contacts (50,000 small), and tracked links with clicks (people
and scanners) on a fifth of the messages. Only the events' COPY is timed (the baseline); then
VACUUM (ANALYZE), untimed, as after any bulk load.

Timed, each five times, median recorded, target 1 s (from the issue):
- `campaign_dashboard`: what the dashboard asks for a typical campaign (0.9% of the messages):
  its funnel (total), by day (the time series) and by channel, in the one statement of
  `analytics.selectors.funnel_tables`;
- `largest_campaign_dashboard`: the same for the largest campaign (10% of the messages);
- `month_by_campaign`: every campaign's funnel over one month of messages.
`rows` of those figures is the number of events in the database, so rows/s is N ÷ latency.

The scenario refuses a database that already holds messages, and empties what it filled.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction

from benchmarks.harness import Context, HarnessError, scenario
from benchmarks.scenarios.audience import measure_median

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 180
CAMPAIGNS = 100
EVENTS_PER_MESSAGE = 3.16
TARGET = 1.0
DASHBOARD = ("total", "day", "channel")  # what the console's dashboard page asks for at once


def _fate(i: int) -> int:
    return (i * 2654435761) % 1000


def _campaign_index(i: int, messages: int) -> int:
    """Campaigns fan out one after the other, so each one's messages are contiguous in time:
    the largest (index 0) holds a tenth of all messages, the 99 others share the rest."""
    largest = messages // 10
    if i < largest:
        return 0
    return 1 + (i - largest) * (CAMPAIGNS - 1) // (messages - largest)


def _copy(table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
    import psycopg

    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    with psycopg.Cursor(connection.connection) as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _first_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id) FROM {table}")  # noqa: S608 - our table name
        return int(cursor.fetchone()[0])


def _when(i: int, messages: int) -> datetime:
    return START + timedelta(seconds=i * DAYS * 86400 // messages)


def load(messages: int, contacts: int) -> dict[str, Any]:
    """Everything but the events (untimed): contacts, a program, content, campaigns, messages,
    tracked links and clicks. Returns the ids the events and queries need."""
    from carereach.campaigns.models import Campaign
    from carereach.consent.models import Program
    from carereach.content.models import ContentItem, ContentVersion

    program = Program.objects.create(
        code="bench-analytics",
        name="Bench analytics",
        type="informational",
        channels=["sms", "email"],
        frequency="up to 4 msgs/mo",
        help_contact="help@example.org",
        disclosure_text="Bench.",
        disclosure_version="v1",
        replies={},
        created_at=START,
    )
    item = ContentItem.objects.create(
        code="bench-analytics", title="Bench", kind="reminder", created_at=START, updated_at=START
    )
    version = ContentVersion.objects.create(
        item=item, number=1, status="approved", created_at=START, updated_at=START
    )
    campaigns = Campaign.objects.bulk_create(
        Campaign(
            name=f"Bench campaign {n}",
            program=program,
            content_version=version,
            query="kind = hcp",
            channel="sms",
            status="done",
            created_at=START,
            updated_at=START,
        )
        for n in range(CAMPAIGNS)
    )
    with transaction.atomic():
        _copy(
            "audience_contact",
            [
                "kind", "status", "time_zone", "time_zone_source", "language",
                "preferred_channels", "large_print", "spoken_messages", "interpreter_language",
                "persona", "external_ids", "custom_fields", "created_at", "updated_at",
            ],
            (
                ("hcp", "active", "", "unknown", "en", "[]", False, False, "", "", "{}", "{}",
                 START, START)
                for _ in range(contacts)
            ),
        )  # fmt: skip
    first_contact = _first_id("audience_contact")

    def message_rows() -> Iterator[tuple[Any, ...]]:
        for i in range(messages):
            fate, at = _fate(i), _when(i, messages)
            ref = f"campaign:{campaigns[_campaign_index(i, messages)].pk}"
            channel = "email" if fate % 5 == 4 else "sms"
            status = "undelivered" if fate < 50 else "delivered"
            yield (
                f"bench:{i}", "campaign", ref, 2,
                first_contact + (i * 7919) % contacts, program.pk, version.pk, channel,
                f"+1415{i % 10_000_000:07d}", "+18005550100", "", "x", status, "[]", at, 1,
                "", "sandbox", f"p{i}", 1, "", "", at, at + timedelta(minutes=1),
                at + timedelta(minutes=2),
            )  # fmt: skip

    with transaction.atomic():
        _copy(
            "messaging_message",
            [
                "key", "origin", "origin_ref", "lane", "contact_id", "program_id",
                "content_version_id", "channel", "address", "sender", "subject", "body",
                "status", "reasons", "due_at", "attempts", "claimed_by", "provider",
                "provider_message_id", "segments", "error_code", "reply_to", "created_at",
                "sent_at", "done_at",
            ],
            message_rows(),
        )  # fmt: skip
    first_message = _first_id("messaging_message")
    linked = [i for i in range(messages) if _fate(i) % 10 < 2]
    with transaction.atomic():
        _copy(
            "content_trackedlink",
            ["token", "version_id", "contact_id", "message_key", "position", "url",
             "created_at", "delivered_at"],
            (
                (f"b{i}", version.pk, first_contact + (i * 7919) % contacts, f"bench:{i}", 0,
                 "https://example.org/", _when(i, messages), _when(i, messages))
                for i in linked
            ),
        )  # fmt: skip
    first_link = _first_id("content_trackedlink")
    with transaction.atomic():
        _copy(
            "content_linkclick",
            ["link_id", "at", "kind", "method", "user_agent", "available"],
            (
                (
                    first_link + n,
                    _when(i, messages) + timedelta(minutes=5 + _fate(i) % 600),
                    "human" if _fate(i) % 10 == 0 else "scanner",
                    "GET",
                    "Mozilla/5.0",
                    True,
                )
                for n, i in enumerate(linked)
            ),
        )
    return {
        "first_message": first_message,
        "largest": campaigns[0].pk,
        "typical": campaigns[CAMPAIGNS // 2].pk,
    }


def event_rows(messages: int, first_message: int) -> Iterator[tuple[Any, ...]]:
    for i in range(messages):
        fate, at = _fate(i), _when(i, messages)
        mid = first_message + i
        yield (mid, "queued", at, "{}")
        yield (mid, "sent", at + timedelta(minutes=1), "{}")
        yield (mid, "undelivered" if fate < 50 else "delivered", at + timedelta(minutes=2), "{}")
        if fate % 10 == 1:
            yield (mid, "replied", at + timedelta(hours=1), "{}")
        if fate % 100 == 7:
            yield (mid, "opted_out", at + timedelta(hours=1), "{}")
        if fate % 20 == 3:
            yield (mid, "converted", at + timedelta(days=2), "{}")


def _empty() -> None:
    from carereach.campaigns.models import Campaign
    from carereach.consent.models import Program
    from carereach.content.models import ContentItem, ContentVersion

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE content_linkclick, content_trackedlink, messaging_messageevent,"
            " messaging_message, audience_contact CASCADE"
        )
    Campaign.objects.filter(name__startswith="Bench campaign").delete()
    ContentVersion.objects.filter(item__code="bench-analytics").delete()
    ContentItem.objects.filter(code="bench-analytics").delete()
    Program.objects.filter(code="bench-analytics").delete()


@scenario("analytics", databases=("postgresql",))
def analytics(ctx: Context) -> None:
    """Campaign dashboard figures (funnel, series, by channel) over N message events."""
    from carereach.analytics.selectors import Filters, funnel_rows, funnel_sql, funnel_tables
    from carereach.messaging.models import Message

    if Message.objects.exists():
        raise HarnessError("analytics: the database already holds messages; use an empty one")
    events = ctx.sized(small=1_000_000, full=10_000_000)
    messages = int(events / EVENTS_PER_MESSAGE)
    contacts = ctx.sized(small=50_000, full=500_000)
    try:
        ids = load(messages, contacts)

        def copy_events() -> None:
            with transaction.atomic():
                _copy(
                    "messaging_messageevent",
                    ["message_id", "kind", "at", "detail"],
                    event_rows(messages, ids["first_message"]),
                )

        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # the connection exists before the timed COPY
        ctx.measure("copy_events", events, copy_events, baseline=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM messaging_messageevent")
            total = int(cursor.fetchone()[0])
            for table in (
                "audience_contact", "messaging_message", "messaging_messageevent",
                "content_trackedlink", "content_linkclick",
            ):  # fmt: skip
                cursor.execute(f"VACUUM (ANALYZE) {table}")
        print(f"    {total:,} events, {messages:,} messages, {contacts:,} contacts", flush=True)

        largest = Filters(campaign_id=ids["largest"])

        def dashboard(filters: Filters) -> None:
            funnel_tables(filters=filters, groups=DASHBOARD)

        typical = Filters(campaign_id=ids["typical"])
        measure_median(ctx, "campaign_dashboard", total, lambda: dashboard(typical), target=TARGET)
        measure_median(
            ctx, "largest_campaign_dashboard", total, lambda: dashboard(largest), target=TARGET
        )
        month = Filters(start=START + timedelta(days=60), end=START + timedelta(days=90))
        measure_median(
            ctx,
            "month_by_campaign",
            total,
            lambda: funnel_rows(filters=month, group="campaign"),
            target=TARGET,
        )
        sql, params = funnel_sql(largest, DASHBOARD)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("    EXPLAIN of the largest campaign's funnel:")
            for (line,) in cursor.fetchall():
                print(f"      {line}")
    finally:
        _empty()
