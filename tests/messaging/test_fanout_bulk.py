"""The fan-out's bulk write (COPY on PostgreSQL, executemany on SQLite): what the ORM would have
written, nothing twice after a crash or a parallel run, bodies still encrypted at rest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from django.db import connection

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.messaging.models import EventKind, Message, MessageEvent, MessageStatus
from carereach.messaging.services.fanout import (
    BatchRenderer,
    Recipient,
    Rendered,
    Trigger,
    fanout,
)
from carereach.messaging.services.outbox import Reason, message_enqueue
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

# Monday 2026-11-23 17:00 UTC: noon in New York, 07:00 in Honolulu (quiet hours until 08:00).
NOON_NY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


@pytest.fixture
def program() -> Program:
    return factories.program("podcast", sender_numbers=["+14155550100"])


def _trigger(program: Program) -> Trigger:
    return Trigger(key="campaign:7", origin="campaign", program=program, channel="sms")


def _people(program: Program, count: int) -> list[Contact]:
    zones = ("America/New_York", "Pacific/Honolulu")
    return [
        messaging.consented(f"+1415555{n:04d}", program, time_zone=zones[n % 2])
        for n in range(count)
    ]


def _greet(recipients: Sequence[Recipient]) -> list[Rendered]:
    return [Rendered(body=f"Hi {r.contact_id}, episode 12 is out.") for r in recipients]


def _rows_by_key() -> Counter[str]:
    return Counter(Message.objects.values_list("key", flat=True))


def test_a_crash_half_way_then_a_rerun_writes_each_key_once(program: Program) -> None:
    people = _people(program, 12)
    batches = {"n": 0}

    def crashes_on_the_third_batch(recipients: Sequence[Recipient]) -> list[Rendered]:
        batches["n"] += 1
        if batches["n"] == 3:
            raise RuntimeError("the process died here")
        return _greet(recipients)

    everyone = Contact.objects.all()
    with pytest.raises(RuntimeError):
        fanout(
            trigger=_trigger(program),
            contacts=everyone,
            render=BatchRenderer(crashes_on_the_third_batch),
            now=NOON_NY,
            batch_size=4,
        )
    assert Message.objects.count() == 8  # two batches were written before the crash

    again = fanout(
        trigger=_trigger(program),
        contacts=everyone,
        render=BatchRenderer(_greet),
        now=NOON_NY,
        batch_size=4,
    )
    assert (again.existing, again.planned) == (8, 4)
    by_key = _rows_by_key()
    assert len(by_key) == len(people)
    assert set(by_key.values()) == {1}
    events = Counter(MessageEvent.objects.values_list("message_id", flat=True))
    assert len(events) == len(people)
    assert set(events.values()) == {1}

    third = fanout(
        trigger=_trigger(program), contacts=everyone, render=BatchRenderer(_greet), now=NOON_NY
    )
    assert (third.existing, third.planned) == (12, 0)
    assert Message.objects.count() == len(people)


def test_a_key_written_meanwhile_by_a_parallel_run_is_not_written_twice(program: Program) -> None:
    people = _people(program, 6)
    trigger = _trigger(program)
    taken = trigger.message_key(people[2].pk)

    def parallel_run_wins_one(recipients: Sequence[Recipient]) -> list[Rendered]:
        # After the fan-out looked its keys up, another process writes one of them.
        message_enqueue(
            key=taken,
            origin="campaign",
            channel="sms",
            address="+14155550002",
            body="Hi from the other run.",
            reasons=[Reason("allowed", "Consent and every rule allow it.")],
            contact_id=people[2].pk,
            program_id=program.pk,
        )
        return _greet(recipients)

    report = fanout(
        trigger=trigger,
        contacts=Contact.objects.all(),
        render=BatchRenderer(parallel_run_wins_one),
        now=NOON_NY,
    )
    assert report.planned == 6
    by_key = _rows_by_key()
    assert len(by_key) == 6
    assert set(by_key.values()) == {1}
    assert Message.objects.get(key=taken).body == "Hi from the other run."
    events = Counter(MessageEvent.objects.values_list("message_id", flat=True))
    assert len(events) == 6
    assert set(events.values()) == {1}


def test_bulk_rows_read_back_as_the_orm_wrote_them(program: Program) -> None:
    people = _people(program, 4)
    stranger = Contact.objects.create(
        kind="hcp", time_zone="America/New_York", created_at=NOON_NY, updated_at=NOON_NY
    )
    report = fanout(
        trigger=_trigger(program),
        contacts=Contact.objects.all(),
        render=BatchRenderer(_greet),
        now=NOON_NY,
    )
    assert (report.queued, report.held, report.skipped) == (2, 2, 1)
    ny = Message.objects.get(contact=people[0])
    assert (ny.status, ny.body, ny.segments, ny.sender) == (
        MessageStatus.QUEUED,
        f"Hi {people[0].pk}, episode 12 is out.",
        1,
        "+14155550100",
    )
    assert (ny.origin, ny.origin_ref, ny.program_id, ny.lane) == (
        "campaign",
        "campaign:7",
        program.pk,
        2,
    )
    assert (ny.created_at, ny.due_at, ny.done_at, ny.attempts) == (NOON_NY, NOON_NY, None, 0)
    assert ny.reasons == [{"code": "allowed", "text": "Consent and every rule allow it."}]
    hawaii = Message.objects.get(contact=people[1])
    assert (hawaii.status, hawaii.due_at) == (
        MessageStatus.HELD,
        datetime(2026, 11, 23, 18, tzinfo=UTC),
    )
    assert hawaii.reasons[0]["code"] == "quiet_hours"
    skipped = Message.objects.get(contact=stranger)
    assert (skipped.status, skipped.body, skipped.done_at) == (MessageStatus.SKIPPED, "", NOON_NY)
    assert skipped.reasons[0]["code"] == "no_address"
    kinds = dict(MessageEvent.objects.values_list("message__contact_id", "kind"))
    assert kinds[people[0].pk] == EventKind.QUEUED
    assert kinds[people[1].pk] == EventKind.HELD
    assert kinds[stranger.pk] == EventKind.SKIPPED
    assert MessageEvent.objects.get(message=skipped).detail == {"reason": "no_address"}

    # At rest the text is ciphertext bound to its column, as EncryptedTextField writes it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT body, subject FROM messaging_message WHERE id = %s", [ny.pk])
        body, subject = cursor.fetchone()
    assert body.startswith("v1:")
    assert "episode" not in body
    assert subject.startswith("v1:")
