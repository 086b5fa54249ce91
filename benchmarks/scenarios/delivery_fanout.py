"""delivery_fanout: one campaign to N eligible recipients, plan → decide → render → outbox.

Untimed setup writes N patients straight into the real tables (COPY on PostgreSQL, the driver's
executemany on SQLite; not the import path, which the audience scenario measures): each with a
mobile number, an encrypted first and last name, a time zone (one in twenty in Honolulu, where
noon in New York is still quiet hours), and granted consent to texts from one marketing program.
One approved SMS version greets each patient by first name.

Timed: the fan-out the campaigns app runs, `messaging.services.fanout.fanout` with the campaign's
own `Trigger` (`campaign_trigger`, content audience rules included) and renderer
(`campaign_renderer`, which renders through `content.batch`), first for the first fifth of the
patients, then for all N (a second campaign: the first fifth then carry one earlier message
each, which the frequency caps count). Every recipient must end up queued or held.

Baseline, in the same run: a plain `COPY` (PostgreSQL) or `executemany` (SQLite) of N rows of the
same shape into `bench_message`, an exact copy of the outbox table (its indexes, and on
PostgreSQL its foreign keys), from a generator of ready-made values (bodies already encrypted).
The fan-out writes each message's first event too; the baseline writes no events.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, models

from benchmarks.harness import Context, HarnessError, batched, scenario
from benchmarks.scenarios.audience import audience_tables, bench_admin, table_is_empty

BATCH = 5_000
COPY_TABLE = "bench_message"
# Monday 2026-11-23 17:00 UTC: noon in New York, 07:00 (quiet hours) in Honolulu.
NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
ZONES = (
    *["America/New_York"] * 9,
    *["America/Chicago"] * 5,
    *["America/Denver"] * 2,
    *["America/Los_Angeles"] * 3,
    "Pacific/Honolulu",
)
FIRST_NAMES = (
    "Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kemal", "Lena",
    "Marisol", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tomás", "Uma", "Víctor",
    "Wen", "Xavier", "Yara", "Zoe",
)  # fmt: skip
LAST_NAMES = ("Garcia", "Nguyen", "Smith", "Okafor", "Kowalski", "Haddad", "Tanaka", "Reyes")
TEXT = (
    "Flu Season: hi {{ first_name }}, flu shots are in at Northside Clinic. Walk in Mon-Sat "
    "8-6, no appointment needed."
)


def _prep(model: type[models.Model], name: str, value: object) -> object:
    return model._meta.get_field(name).get_db_prep_save(value, connection)


def insert_rows(
    model: type[models.Model], names: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """Rows for the named columns, every other column its default, in batches: COPY on
    PostgreSQL, the driver's executemany on SQLite. Values must be ready for the database."""
    fields = [f for f in model._meta.concrete_fields if f.attname in names or not f.primary_key]
    given = {name: index for index, name in enumerate(names)}
    constants = {
        f.attname: _prep(model, f.name, f.get_default()) for f in fields if f.attname not in given
    }
    columns = [f.column for f in fields]
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    table = connection.ops.quote_name(model._meta.db_table)

    def full(row: Sequence[object]) -> list[object]:
        return [
            row[given[f.attname]] if f.attname in given else constants[f.attname] for f in fields
        ]

    if connection.vendor == "postgresql":
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(full(row))
        if "id" in given:
            with connection.cursor() as cursor:
                sequence = f"pg_get_serial_sequence('{model._meta.db_table}', 'id')"
                cursor.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM {table}))")  # noqa: S608
        return
    connection.ensure_connection()
    marks = ", ".join("?" * len(columns))
    sql = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"  # noqa: S608
    for batch in batched(rows, BATCH):
        connection.connection.executemany(sql, [full(row) for row in batch])


def when(value: datetime) -> object:
    """A datetime as the driver takes it (SQLite: Django's text form)."""
    if connection.vendor == "sqlite":
        return connection.ops.adapt_datetimefield_value(value)
    return value


def create_people(count: int, program_id: int) -> None:
    """`count` patients with a mobile number, encrypted names and granted consent to texts."""
    from carereach.audience.models import Contact, PatientProfile, Phone
    from carereach.consent.models import ConsentEntry, ConsentState
    from carereach.security.crypto import keyring

    at = when(NOW - timedelta(days=30))
    insert_rows(
        Contact,
        ["id", "kind", "status", "time_zone", "language", "created_at", "updated_at"],
        (
            (pk, "patient", "active", ZONES[pk % len(ZONES)], "en", at, at)
            for pk in range(1, count + 1)
        ),
    )
    # One ciphertext per distinct name (the fan-out still decrypts each row's).
    firsts = [
        keyring().encrypt(n, context="audience_patientprofile.first_name") for n in FIRST_NAMES
    ]
    lasts = [keyring().encrypt(n, context="audience_patientprofile.last_name") for n in LAST_NAMES]
    insert_rows(
        PatientProfile,
        ["contact_id", "first_name", "last_name"],
        ((pk, firsts[pk % len(firsts)], lasts[pk % len(lasts)]) for pk in range(1, count + 1)),
    )
    insert_rows(
        Phone,
        ["contact_id", "e164", "line_type", "use", "rank"],
        ((pk, phone(pk), "mobile", "mobile", 1) for pk in range(1, count + 1)),
    )
    # One shared ledger entry (the fan-out reads only the current states).
    entry_id = ConsentEntry.objects.create(
        contact_id=1,
        address=phone(1),
        channel="sms",
        program_id=program_id,
        action="grant",
        method="in_person",
        captured_by_label="system",
        occurred_at=NOW - timedelta(days=30),
        recorded_at=NOW - timedelta(days=30),
    ).pk
    insert_rows(
        ConsentState,
        [
            "address",
            "channel",
            "program_id",
            "contact_id",
            "status",
            "granted_at",
            "changed_at",
            "entry_id",
        ],
        (
            (phone(pk), "sms", program_id, pk, "granted", at, at, entry_id)
            for pk in range(1, count + 1)
        ),
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "VACUUM ANALYZE audience_contact, audience_phone, audience_patientprofile"
            )
            cursor.execute("VACUUM ANALYZE consent_consentstate")


def phone(pk: int) -> str:
    return f"+1415{pk:07d}"


@contextmanager
def bench_world(count: int) -> Iterator[tuple[Any, Any, Any]]:
    """The program, approved content and patients; everything removed afterwards."""
    from django.contrib.auth.models import User

    from carereach.consent.models import Program
    from carereach.content.models import ContentItem, ProgramPolicy
    from carereach.content.services import (
        BodyInput,
        VersionInput,
        item_create,
        version_approve,
        version_submit,
    )
    from carereach.security.roles import Role
    from carereach.security.services import user_create

    tables = audience_tables()
    busy = [table for table in tables if not table_is_empty(table)]
    if busy:
        raise HarnessError(f"delivery_fanout needs no contacts; {', '.join(busy)} hold rows")
    reviewer = User.objects.filter(username="bench-fanout-reviewer").first() or user_create(
        username="bench-fanout-reviewer",
        password="x" * 32,
        role=Role.COMPLIANCE,
        check_password=False,
    )
    User.objects.filter(pk=reviewer.pk).update(is_active=True)
    program = None
    try:
        with bench_admin() as author:
            program = Program.objects.create(
                code="bench-flu",
                name="Flu Season",
                type="marketing",
                channels=["sms"],
                sender_numbers=["12345"],
                frequency="up to 4 msgs/mo",
                help_contact="+18005550100",
                disclosure_text="Flu season reminders from Northside Clinic.",
                disclosure_version="1",
                replies={},
                created_at=NOW - timedelta(days=60),
            )
            item = item_create(
                code="bench-flu-shots",
                title="Flu shots are in",
                kind="reminder",
                program=program,
                data=VersionInput(contact_kinds=["patient"], bodies=[BodyInput("sms", "en", TEXT)]),
                actor=author,
            )
            version = version_submit(version=item.versions.get(), actor=author)
            version = version_approve(
                version=version,
                actor=reviewer,
                review_code="MLR-BENCH-0001",
                valid_from=NOW - timedelta(days=1),
                valid_until=NOW + timedelta(days=30),
            )
            create_people(count, program.pk)
            yield program, version, author
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
            if connection.vendor == "postgresql":
                names = ", ".join(connection.ops.quote_name(t) for t in tables)
                cursor.execute(f"TRUNCATE {names}")
            else:
                cursor.execute("PRAGMA foreign_keys = OFF")
                for table in tables:
                    cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608
                cursor.execute("PRAGMA foreign_keys = ON")
        if program is not None:
            for made in ContentItem.objects.filter(program=program):
                for one in made.versions.all():
                    one.bodies.all().delete()
                    one.events.all().delete()
                made.versions.all().delete()
                made.delete()
            ProgramPolicy.objects.filter(program=program).delete()
            program.delete()
        User.objects.filter(pk=reviewer.pk).update(is_active=False)


def run_fanout(campaign: Any, version: Any, contacts: Any) -> Any:
    """What the campaigns app does for one campaign, over the whole audience at once."""
    from carereach.campaigns.pipeline import RenderFailures, campaign_renderer, campaign_trigger
    from carereach.messaging.services.fanout import fanout

    failures = RenderFailures()
    trigger = campaign_trigger(campaign, audience=contacts, at=NOW)
    render = campaign_renderer(campaign, channel="sms", version=version, failures=failures, at=NOW)
    report = fanout(trigger=trigger, contacts=contacts, render=render, now=NOW)
    if failures.errors:
        raise RuntimeError(f"delivery_fanout: {len(failures.errors)} recipients not rendered")
    return report


def check_fanout(label: str, campaign: Any, report: Any, count: int) -> None:
    from carereach.messaging.models import Message, MessageEvent

    written = Message.objects.filter(origin_ref=campaign.trigger_key)
    events = MessageEvent.objects.filter(message__origin_ref=campaign.trigger_key).count()
    going = report.queued + report.held
    print(
        f"    {label}: {report.queued:,} queued, {report.held:,} held, {report.skipped:,} skipped"
        f" {report.skip_reasons}; {events:,} events",
        flush=True,
    )
    if going != count or written.count() != count or events != count:
        raise RuntimeError(f"delivery_fanout/{label}: {going} going, expected {count}")


def make_copy_table() -> None:
    """`bench_message`: the outbox table's exact shape, indexes and (PostgreSQL) foreign keys."""
    from carereach.messaging.models import Message

    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {COPY_TABLE}")
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE {COPY_TABLE} (LIKE {table} INCLUDING ALL)")
            cursor.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype = 'f'",
                [table],
            )
            for (definition,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {COPY_TABLE} ADD {definition}")
        else:
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL"
                " ORDER BY type DESC",
                [table],
            )
            for (ddl,) in cursor.fetchall():
                ddl = re.sub(rf'"{table}"', f'"{COPY_TABLE}"', ddl)
                ddl = re.sub(r'INDEX "([^"]+)"', rf'INDEX "{COPY_TABLE}_\1"', ddl)
                cursor.execute(ddl)


def copy_rows(count: int, program_id: int, version_id: int) -> Iterator[list[object]]:
    """Outbox rows as the fan-out writes them, ready-made: the same columns and sizes."""
    from carereach.messaging.models import Message
    from carereach.security.crypto import keyring

    context = f"{Message._meta.db_table}.body"
    bodies = [
        keyring().encrypt(
            TEXT.replace("{{ first_name }}", name) + "\nReply STOP to opt out.", context=context
        )
        for name in FIRST_NAMES
    ]
    empty = keyring().encrypt("", context=f"{Message._meta.db_table}.subject")
    at, due = when(NOW), when(NOW + timedelta(hours=1))
    expires = when(NOW + timedelta(days=3))
    reasons = '[{"code": "allowed", "text": "Consent and every rule allow it."}]'
    values: dict[str, object] = {
        "origin": "campaign",
        "origin_ref": "campaign:999",
        "lane": 2,
        "program_id": program_id,
        "content_version_id": version_id,
        "channel": "sms",
        "sender": "12345",
        "subject": empty,
        "status": "queued",
        "reasons": reasons,
        "expires_at": expires,
        "attempts": 0,
        "claimed_by": "",
        "claimed_at": None,
        "provider": "",
        "provider_message_id": "",
        "segments": 1,
        "error_code": "",
        "reply_to": "",
        "created_at": at,
        "sent_at": None,
        "done_at": None,
    }
    columns = [f.attname for f in Message._meta.concrete_fields if not f.primary_key]
    for pk in range(1, count + 1):
        values["key"] = f"campaign:999::{pk}:sms"
        values["contact_id"] = pk
        values["address"] = phone(pk)
        values["body"] = bodies[pk % len(bodies)]
        values["due_at"] = due if pk % 20 == 0 else at
        yield [values.get(name) for name in columns]


def copy_outbox(count: int, program_id: int, version_id: int) -> None:
    from django.db import transaction

    names = [f.column for f in _message_fields()]
    quoted = ", ".join(connection.ops.quote_name(c) for c in names)
    rows = copy_rows(count, program_id, version_id)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with (
                connection.cursor() as cursor,
                cursor.copy(f"COPY {COPY_TABLE} ({quoted}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            connection.ensure_connection()
            marks = ", ".join("?" * len(names))
            connection.connection.executemany(
                f"INSERT INTO {COPY_TABLE} ({quoted}) VALUES ({marks})",  # noqa: S608
                rows,
            )


def _message_fields() -> list[Any]:
    from carereach.messaging.models import Message

    return [f for f in Message._meta.concrete_fields if not f.primary_key]


@scenario("delivery_fanout")
def delivery_fanout(ctx: Context) -> None:
    """Recipients/s through the campaign fan-out, against a raw COPY of the same outbox rows."""
    from carereach.audience.models import Contact
    from carereach.campaigns.models import Campaign

    count = ctx.sized(small=50_000, full=1_000_000)
    fifth = count // 5
    with bench_world(count) as (program, version, author):

        def campaign(pk: int) -> Campaign:
            # Unsaved: the fan-out reads its trigger key, program, channel, content and expiry.
            return Campaign(
                id=pk,
                name=f"Flu shots {pk}",
                program=program,
                content_version=version,
                channel="sms",
                query="kind = patient",
                expires_at=NOW + timedelta(days=3),
                created_by=author,
            )

        first, second = campaign(1), campaign(2)
        few = Contact.objects.filter(kind="patient", pk__lte=fifth)
        done: list[Any] = []
        small = ctx.measure(
            "fanout_fifth", fifth, lambda: done.append(run_fanout(first, version, few))
        )
        check_fanout("fanout_fifth", first, done[-1], fifth)
        everyone = Contact.objects.filter(kind="patient")
        large = ctx.measure(
            "fanout", count, lambda: done.append(run_fanout(second, version, everyone))
        )
        check_fanout("fanout", second, done[-1], count)
        for figure in (small, large):
            print(
                f"    {figure.label}: {figure.rows:,} recipients, client CPU"
                f" {figure.cpu_seconds:.1f} s of {figure.seconds:.1f} s, RSS growth"
                f" {figure.rss_growth_bytes / 2**20:.1f} MiB"
                f" (peak {figure.peak_rss_bytes / 2**20:.0f} MiB)",
                flush=True,
            )

        make_copy_table()
        label = "copy_outbox" if ctx.database == "postgresql" else "executemany_outbox"
        ctx.measure(
            label,
            count,
            functools.partial(copy_outbox, count, program.pk, version.pk),
            baseline=True,
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {COPY_TABLE}")  # noqa: S608
            row = cursor.fetchone()
        if not row or row[0] != count:
            raise RuntimeError(f"delivery_fanout/{label} left {row} rows, expected {count}")
