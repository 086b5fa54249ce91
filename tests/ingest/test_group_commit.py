"""Group commit through the real ASGI app: concurrent callbacks share transactions, and each is
answered 200 only once its row is committed; a full queue or a failed batch is 503.

Requests run concurrently on one event loop (httpx2's ASGI transport), as uvicorn runs them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import psycopg
import pytest
from django.db import connection

from carereach.asgi import application
from carereach.ingest.app import callbacks
from carereach.messaging.models import IngestEvent
from tests.channels.twilio_fake import FakeTwilio
from tests.ingest.test_endpoints import BASE, INBOUND, STATUS, inbound_form, status_form

pytestmark = pytest.mark.django_db(transaction=True)


async def _post(client: httpx2.AsyncClient, twilio: FakeTwilio, url: str, form: dict[str, str]):  # type: ignore[no-untyped-def]
    return await client.post(url, data=form, headers={"X-Twilio-Signature": twilio.sign(url, form)})


def _client() -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=application), base_url=BASE)


def test_concurrent_callbacks_are_all_stored_and_a_retried_text_once(twilio: FakeTwilio) -> None:
    receipts = [status_form(f"SM{n:032d}", "delivered") for n in range(60)]
    text = inbound_form("HELP", sid="SM" + "5" * 32)

    async def main() -> list[int]:
        async with _client() as client:
            sent = [_post(client, twilio, STATUS, form) for form in receipts]
            sent += [_post(client, twilio, INBOUND, text) for _ in range(5)]
            return [response.status_code for response in await asyncio.gather(*sent)]

    assert asyncio.run(main()) == [200] * 65
    stored = IngestEvent.objects.filter(kind="status")
    assert sorted(stored.values_list("provider_message_id", flat=True)) == [
        f"SM{n:032d}" for n in range(60)
    ]
    assert {json.loads(event.payload)["status"] for event in stored} == {"delivered"}
    inbound = IngestEvent.objects.get(kind="inbound")
    assert json.loads(inbound.payload)["body"] == "HELP"


@contextmanager
def _inserts_refused() -> Iterator[None]:
    """Make every insert into the ingest table fail, as a broken database would."""
    table = IngestEvent._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT bench_refuse CHECK (false) NOT VALID"
            )
            undo = f"ALTER TABLE {table} DROP CONSTRAINT bench_refuse"
        else:
            cursor.execute(
                f"CREATE TRIGGER bench_refuse BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
            undo = "DROP TRIGGER bench_refuse"
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(undo)


def test_a_failed_batch_is_503_with_retry_after_and_the_retry_is_stored(
    twilio: FakeTwilio,
) -> None:
    forms = [status_form(f"SM{n:032d}") for n in range(4)]

    async def send() -> list[httpx2.Response]:
        async with _client() as client:
            return list(await asyncio.gather(*(_post(client, twilio, STATUS, f) for f in forms)))

    with _inserts_refused():
        refused = asyncio.run(send())
    assert [r.status_code for r in refused] == [503] * 4
    assert {r.headers["retry-after"] for r in refused} == {"1"}
    assert not IngestEvent.objects.exists()
    assert [r.status_code for r in asyncio.run(send())] == [200] * 4  # the carrier retries
    assert IngestEvent.objects.count() == 4


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_full_queue_is_503_at_once_and_nothing_acknowledged_is_lost(
    twilio: FakeTwilio,
) -> None:
    """Both writer threads are held by a table lock; the queue takes MAX_PENDING more, the rest
    are refused at once; once the lock goes, every request that waited is stored and 200."""
    writer = callbacks.get()
    writer.max_pending = 2
    writer.linger = 0.0
    table = IngestEvent._meta.db_table
    settings_dict = connection.settings_dict
    locker = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or None,
    )

    async def main() -> tuple[list[int], list[int]]:
        async with _client() as client:
            held = []
            for n, expected in ((0, 1), (1, 2)):  # one per writer thread, each stuck on the lock
                held.append(
                    asyncio.ensure_future(_post(client, twilio, STATUS, status_form(f"SM{n:032d}")))
                )
                while writer.in_flight < expected:
                    await asyncio.sleep(0.005)
            burst = [
                asyncio.ensure_future(_post(client, twilio, STATUS, status_form(f"SM{n:032d}")))
                for n in range(2, 8)
            ]
            while len([t for t in burst if t.done()]) < 4:  # the refused answer at once
                await asyncio.sleep(0.005)
            refused = sorted(n for n, t in enumerate(burst, start=2) if t.done())
            locker.commit()  # the lock goes; the waiting batches commit
            answers = await asyncio.gather(*held, *burst)
            return refused, [r.status_code for r in answers]

    try:
        locker.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        refused, codes = asyncio.run(main())
    finally:
        locker.rollback()
        locker.close()
    assert len(refused) == 4
    acknowledged = [n for n, code in enumerate(codes) if code == 200]
    assert sorted(set(range(8)) - set(acknowledged)) == refused
    assert [codes[n] for n in refused] == [503] * 4
    stored = set(IngestEvent.objects.values_list("provider_message_id", flat=True))
    assert stored == {f"SM{n:032d}" for n in acknowledged}
