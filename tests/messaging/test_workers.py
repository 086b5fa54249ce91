"""Several workers against one database: each message is sent exactly once.

PostgreSQL only (SKIP LOCKED): SQLite, the embedded default, runs one worker by design.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from carereach.channels.models import Direction, SandboxMessage
from carereach.messaging.models import Message, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db(transaction=True)

COUNT = 120


def test_four_workers_send_every_message_exactly_once() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one worker; SKIP LOCKED matters on PostgreSQL")
    program = factories.program("podcast")
    phone = "+14155550101"
    person = messaging.consented(phone, program)
    for n in range(COUNT):
        messaging.queued(person, program, f"bulk:{n}", f"message {n}")
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(name: str) -> None:
        try:
            start.wait()
            while dispatch_due(worker=name, limit=7).claimed:
                pass
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert Message.objects.filter(status=MessageStatus.DELIVERED).count() == COUNT
    sent = SandboxMessage.objects.filter(direction=Direction.OUT)
    assert sent.count() == COUNT
    assert sent.values("key").distinct().count() == COUNT
    workers = set(Message.objects.values_list("claimed_by", flat=True))
    assert len(workers) > 1  # the work was actually shared
