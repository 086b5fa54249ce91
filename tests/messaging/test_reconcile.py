"""Twilio sends whose outcome is unknown are looked up before anything is sent again.

The carrier is the loopback test carrier (`carereach.channels.testing.carrier`), a real HTTP
server with the shape of Twilio's Messages API, list filters included; dispatch talks to it
through the real Twilio transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from carereach.channels.base import Outbound
from carereach.channels.testing.carrier import SID, TOKEN, CarrierConfig, LoopbackCarrier
from carereach.channels.types.twilio.transport import TwilioTransport
from carereach.consent.models import Program
from carereach.messaging.models import EventKind, Message, MessageEvent, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

SENDER = "12345"


@pytest.fixture
def carrier(settings: Any) -> Iterator[LoopbackCarrier]:
    with LoopbackCarrier() as server:
        settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "sms": "twilio"}
        settings.TWILIO_ACCOUNT_SID = SID
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.TWILIO_API_BASE = server.url
        settings.TWILIO_TIMEOUT_SECONDS = 1
        settings.SENDER_RATES = {SENDER: 1000.0}
        yield server


@pytest.fixture
def program() -> Program:
    return factories.program("refills", type="transactional", sender_numbers=[SENDER])


def _queued(program: Program, n: int, body: str) -> Message:
    person = messaging.consented(f"+1415555{110 + n:04d}", program, last_name=f"P{n}")
    return messaging.queued(person, program, f"r:{n}", body, sender=SENDER)


def _left_by_a_dead_worker(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING,
        claimed_by="dead",
        claimed_at=timezone.now() - timedelta(hours=1),
        attempts=1,
    )


def test_a_message_the_carrier_has_is_recorded_not_resent(
    carrier: LoopbackCarrier, program: Program
) -> None:
    message = _queued(program, 1, "Your refill is ready.")
    # The dead worker's request had reached the carrier before it died.
    TwilioTransport.from_settings().send(
        Outbound(
            key=message.key, channel="sms", to=message.address, sender=SENDER, body=message.body
        )
    )
    _left_by_a_dead_worker(message)
    report = dispatch_due(worker="w2")
    assert report.recovered == 1
    message.refresh_from_db()
    accepted = carrier.accepted()
    assert len(accepted) == 1  # never a second copy
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == accepted[0].sid
    assert MessageEvent.objects.filter(message=message, detail__reason="reconciled").exists()


def test_a_message_the_carrier_never_got_is_sent_once(
    carrier: LoopbackCarrier, program: Program
) -> None:
    message = _queued(program, 2, "Your refill is ready.")
    _left_by_a_dead_worker(message)
    dispatch_due(worker="w2")  # the lookup finds nothing: queued again, and sent in this pass
    message.refresh_from_db()
    accepted = carrier.accepted()
    assert [m.body for m in accepted] == ["Your refill is ready."]
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == accepted[0].sid
    assert MessageEvent.objects.filter(message=message, detail__reason="not_sent").exists()


def test_two_rows_with_the_same_text_each_find_their_own(
    carrier: LoopbackCarrier, program: Program
) -> None:
    """Same person, same sender, same text, both unknown; the carrier got only one of them."""
    person = messaging.consented("+14155550123", program)
    first = messaging.queued(person, program, "same:1", "Refill ready.", sender=SENDER)
    second = messaging.queued(person, program, "same:2", "Refill ready.", sender=SENDER)
    TwilioTransport.from_settings().send(
        Outbound(key="same:1", channel="sms", to=first.address, sender=SENDER, body="Refill ready.")
    )
    _left_by_a_dead_worker(first)
    _left_by_a_dead_worker(second)
    dispatch_due(worker="w2")
    dispatch_due(worker="w2")
    accepted = carrier.accepted()
    assert len(accepted) == 2  # one per row: the one found, and the one sent again
    sids = set(Message.objects.values_list("provider_message_id", flat=True))
    assert sids == {m.sid for m in accepted}


def test_no_answer_in_time_is_looked_up_before_any_resend(
    carrier: LoopbackCarrier, program: Program, settings: Any
) -> None:
    settings.SEND_RECONCILE_SECONDS = 1
    carrier.configure(CarrierConfig(fault_timeout=1.0, timeout_creates=1.0, hold_seconds=3.0))
    message = _queued(program, 3, "Your refill is ready.")
    report = dispatch_due(worker="w1")
    assert report.unknown == 1
    message.refresh_from_db()
    assert (message.status, message.claimed_by) == (MessageStatus.SENDING, "")
    assert MessageEvent.objects.filter(
        message=message, kind=EventKind.RETRY, detail__reason="outcome_unknown"
    ).exists()
    carrier.call(setattr, carrier.state.config, "fault_timeout", 0.0)
    Message.objects.filter(pk=message.pk).update(claimed_at=timezone.now() - timedelta(seconds=2))
    dispatch_due(worker="w1")
    message.refresh_from_db()
    accepted = carrier.accepted()
    assert len(accepted) == 1  # the carrier had created it: recorded, not sent again
    assert (message.status, message.provider_message_id) == (MessageStatus.SENT, accepted[0].sid)


def test_retry_after_is_honoured_and_the_retry_goes_once(
    carrier: LoopbackCarrier, program: Program
) -> None:
    carrier.configure(CarrierConfig(fault_429=1.0, retry_after=7))
    message = _queued(program, 4, "Your refill is ready.")
    before = timezone.now()
    assert dispatch_due(worker="w1").retried == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.error_code == "20429"
    assert message.due_at >= before + timedelta(seconds=7)
    assert message.due_at <= timezone.now() + timedelta(seconds=7 * 1.25)
    carrier.call(setattr, carrier.state.config, "fault_429", 0.0)
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    assert dispatch_due(worker="w1").sent == 1
    assert len(carrier.accepted()) == 1
