"""Addresses found unusable (invalid numbers, hard bounces) are suppressed for later sends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from carereach.audience.models import Contact
from carereach.consent.models import Suppression
from carereach.consent.services import suppression_add
from carereach.errors import ValidationError
from carereach.messaging.models import Message, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from carereach.messaging.services.fanout import Rendered, Trigger, fanout
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

PAST_NOON = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def test_a_hard_bounce_suppresses_the_address_for_the_next_campaign() -> None:
    program = factories.program("news", sender_emails=["news@example.com"])
    address = "bounce.me@example.org"  # the sandbox bounces addresses starting with "bounce"
    first = messaging.mailed(program, address)
    dispatch_due(worker="w1")
    first.refresh_from_db()
    assert (first.status, first.error_code) == (MessageStatus.UNDELIVERED, "bounce")
    suppression = Suppression.objects.get()
    assert (suppression.address, suppression.reason) == (address, "bounced")
    assert f"message {first.pk}" in suppression.source

    fanout(
        trigger=Trigger(key="c:2", origin="campaign", program=program, channel="email"),
        contacts=Contact.objects.all(),
        render=lambda c, k, lang: Rendered(body="Hi", subject="Hi"),
        now=PAST_NOON,
    )
    later = Message.objects.get(key__startswith="c:2")
    assert (later.status, later.reasons[0]["code"]) == ("skipped", "suppressed")


def test_a_queued_message_to_an_address_suppressed_meanwhile_is_skipped() -> None:
    program = factories.program("podcast", sender_numbers=[messaging.SENDER])
    person = messaging.consented("+14155550101", program)
    message = messaging.queued(person, program, "c:1", "hello")
    suppression_add(address="+14155550101", channel="sms", reason="invalid", source="test")
    report = dispatch_due(worker="w1")
    assert report.skipped == 1
    message.refresh_from_db()
    assert (message.status, message.reasons[-1]["code"]) == ("skipped", "suppressed")


def test_suppression_reasons_are_checked_and_kept_once() -> None:
    assert suppression_add(address="a@example.org", channel="email", reason="bounced")
    assert not suppression_add(address="a@example.org", channel="email", reason="bounced")
    with pytest.raises(ValidationError):
        suppression_add(address="b@example.org", channel="email", reason="because")
