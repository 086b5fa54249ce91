"""PostgreSQL: two schedulers never take the same enrolment (SKIP LOCKED), and a second pass
over the same due work sends nothing twice."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from carereach.journeys.models import Enrolment
from carereach.journeys.services.engine import enrolments_advance_due
from carereach.messaging.models import Message
from tests.campaigns.factories import Clock
from tests.journeys import factories as f
from tests.journeys.factories import Clinic

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL"),
]


def test_a_locked_enrolment_is_left_to_the_scheduler_holding_it(
    clinic: Clinic, clock: Clock
) -> None:
    first = f.appointment(f.patient(), clock.now + f.days(4), external_id="A-1").enrolment
    second = f.appointment(
        f.patient(phone="+14155550143"), clock.now + f.days(4), external_id="A-2"
    ).enrolment
    assert first is not None
    assert second is not None
    clock.advance(days=1)
    locked = threading.Event()
    release = threading.Event()

    def other_scheduler() -> None:
        try:
            with transaction.atomic():
                Enrolment.objects.select_for_update().filter(pk=first.pk).get()
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=other_scheduler)
    holder.start()
    try:
        assert locked.wait(30)
        assert enrolments_advance_due() == 1  # only the unlocked one
    finally:
        release.set()
        holder.join(30)
    assert list(Message.objects.values_list("contact_id", flat=True)) == [second.contact_id]
    assert enrolments_advance_due() == 1  # now the other one
    assert enrolments_advance_due() == 0  # and nothing is due twice
    assert Message.objects.count() == 2
