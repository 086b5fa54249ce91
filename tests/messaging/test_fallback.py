"""Post-send fallback: an undeliverable message moves on by the next channel of its cascade.

Through the real pipeline: fan-out with a cascade, dispatch through the sandbox carrier (a
number ending 0199 is unreachable: 30003), receipts through `message_status_apply`, and the
service journeys call (`message_fallback`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.consent.services import suppression_add
from carereach.messaging.models import EventKind, Message, MessageEvent, MessageStatus
from carereach.messaging.services import fallback
from carereach.messaging.services.dispatch import dispatch_due, message_status_apply
from carereach.messaging.services.fallback import message_fallback
from carereach.messaging.services.fanout import Rendered, Trigger, fanout
from carereach.messaging.services.outbox import Reason
from tests.audience import factories as audience
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

NOON_NY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
UNREACHABLE = "+14155550199"  # the sandbox answers 30003 (undelivered) for it
ORIGIN = "fallback-test"


def by_channel(original: Message, channel: str) -> object:
    def render(contact: Contact, key: str, language: str) -> Rendered:
        return Rendered(body=f"{channel} for {contact.pk}", subject="Your refill")

    return render


@pytest.fixture(autouse=True)
def renderer() -> Iterator[None]:
    fallback.fallback_renderer_register(ORIGIN, by_channel)  # type: ignore[arg-type]
    yield
    fallback._RENDERERS.pop(ORIGIN, None)


@pytest.fixture
def program() -> Program:
    return factories.program("refills", sender_numbers=["+14155550100"])


def _grant(person: Contact, address: str, channel: str, program: Program) -> None:
    messaging.grant(person, address, program, channel)


def _person(program: Program, phone: str = UNREACHABLE, mail: bool = True) -> Contact:
    person = audience.contact(
        kind="hcp",
        last_name="Doe",
        phone=phone,
        email="dana@example.org",
        time_zone="America/New_York",
    )
    _grant(person, phone, "sms", program)
    if mail:
        _grant(person, "dana@example.org", "email", program)
    return person


def _fan(program: Program, person: Contact, **fields: object) -> Message:
    values: dict[str, object] = {
        "key": "refill:7",
        "origin": ORIGIN,
        "program": program,
        "channel": "sms",
        "fallback": ("email", "voice"),
    } | fields
    fanout(
        trigger=Trigger(**values),  # type: ignore[arg-type]
        contacts=Contact.objects.filter(pk=person.pk),
        render=lambda c, k, lang: Rendered(body="Your refill is ready."),
        now=NOON_NY,
    )
    # Planned at noon in New York; due now, whatever the wall clock says.
    Message.objects.filter(contact=person).update(due_at=timezone.now())
    return Message.objects.get(contact=person)


def test_an_unreachable_text_moves_on_by_email_once_with_reasons_on_both(program: Program) -> None:
    person = _person(program)
    text = _fan(program, person)
    assert (text.channel, text.cascade) == ("sms", ["email", "voice"])

    dispatch_due(worker="w1")

    text.refresh_from_db()
    assert (text.status, text.error_code) == (MessageStatus.UNDELIVERED, "30003")
    mail = Message.objects.get(key=f"fallback:{text.pk}")
    assert (mail.channel, mail.address, mail.status) == (
        "email",
        "dana@example.org",
        MessageStatus.QUEUED,
    )
    assert (mail.body, mail.subject, mail.cascade) == (
        f"email for {person.pk}",
        "Your refill",
        ["voice"],
    )
    assert mail.reasons[1]["code"] == "fallback"
    assert f"Instead of sms message {text.pk}" in mail.reasons[1]["text"]
    assert "30003" in mail.reasons[1]["text"]
    assert text.reasons[-1]["code"] == "fell_back"
    assert f"next by email: message {mail.pk}" in text.reasons[-1]["text"]
    assert MessageEvent.objects.get(message=mail).detail["fallback_of"] == str(text.pk)

    # The same receipt again, a second worker pass, the service called again: still one.
    message_status_apply(
        provider="sandbox",
        provider_message_id=text.provider_message_id,
        status="undelivered",
        error_code="30003",
    )
    assert message_fallback(message=text, reason=Reason("x", "again")) == mail
    dispatch_due(worker="w1")
    mail.refresh_from_db()
    assert mail.status == MessageStatus.DELIVERED
    assert Message.objects.filter(contact=person).count() == 2


def test_a_carrier_receipt_with_an_address_error_moves_on(program: Program) -> None:
    person = _person(program, phone="+14155550123")
    text = _fan(program, person)
    dispatch_due(worker="w1")
    text.refresh_from_db()
    assert text.status == MessageStatus.DELIVERED

    message_status_apply(
        provider="sandbox",
        provider_message_id=text.provider_message_id,
        status="undelivered",
        error_code="30007",  # filtered content: not the address's fault, no hop
    )
    assert not Message.objects.filter(key=f"fallback:{text.pk}").exists()


def test_a_failed_send_for_an_invalid_number_moves_on(program: Program) -> None:
    person = _person(program, phone="+14155550124")
    text = _fan(program, person)
    Message.objects.filter(pk=text.pk).update(
        status=MessageStatus.SENT, provider="twilio", provider_message_id="SM1"
    )
    message_status_apply(
        provider="twilio", provider_message_id="SM1", status="failed", error_code="30005"
    )
    mail = Message.objects.get(key=f"fallback:{text.pk}")
    assert mail.channel == "email"
    assert "30005" in mail.reasons[1]["text"]


def test_when_no_later_channel_may_be_used_the_skip_says_why(program: Program) -> None:
    person = _person(program, mail=False)
    text = _fan(program, person)
    dispatch_due(worker="w1")
    skipped = Message.objects.get(key=f"fallback:{text.pk}")
    assert skipped.status == MessageStatus.SKIPPED
    # Neither e-mail nor calls are consented: the first channel tried gives the reason.
    assert skipped.channel == "email"
    assert skipped.reasons[0] == {
        "code": "no_consent",
        "text": "No consent for this address, channel and program.",
    }
    assert skipped.reasons[1]["code"] == "fallback"
    text.refresh_from_db()
    assert "no other channel could be used" in text.reasons[-1]["text"]


def test_no_cascade_no_fallback(program: Program) -> None:
    person = _person(program)
    text = _fan(program, person, fallback=())
    assert text.cascade == []
    dispatch_due(worker="w1")
    assert Message.objects.filter(contact=person).count() == 1


def test_journeys_move_a_message_on_after_no_answer(program: Program) -> None:
    """The service a journey calls when nobody answered in time: its own channels, its text."""
    person = _person(program, phone="+14155550125")
    _grant(person, "+14155550125", "voice", program)
    text = _fan(program, person, fallback=())
    dispatch_due(worker="w1")

    call = message_fallback(
        message=text,
        reason=Reason("no_answer", "No answer within 2 days."),
        channels=["voice"],
        render=lambda c, k, lang: Rendered(body="Please call us about your refill."),
        now=NOON_NY,
    )
    assert call is not None
    assert (call.channel, call.address, call.body) == (
        "voice",
        "+14155550125",
        "Please call us about your refill.",
    )
    assert call.reasons[1]["text"] == f"Instead of sms message {text.pk}: No answer within 2 days."
    assert MessageEvent.objects.filter(message=call, kind=EventKind.QUEUED).exists()
    text.refresh_from_db()
    assert text.reasons[-1]["code"] == "fell_back"


def test_an_address_suppressed_after_queueing_moves_on_at_claim(program: Program) -> None:
    person = _person(program, phone="+14155550126")
    text = _fan(program, person)
    suppression_add(address="+14155550126", channel="sms", reason="invalid", source="test")
    dispatch_due(worker="w1")
    text.refresh_from_db()
    assert text.status == MessageStatus.SKIPPED
    assert Message.objects.get(key=f"fallback:{text.pk}").channel == "email"


def test_a_fallback_that_breaks_never_loses_the_outcome(
    program: Program, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(original: Message, channel: str) -> None:
        raise RuntimeError("renderer bug")

    fallback.fallback_renderer_register(ORIGIN, broken)  # type: ignore[arg-type]
    person = _person(program)
    text = _fan(program, person)

    dispatch_due(worker="w1")

    text.refresh_from_db()
    assert (text.status, text.error_code) == (MessageStatus.UNDELIVERED, "30003")
    assert not Message.objects.filter(key=f"fallback:{text.pk}").exists()
    assert "fallback for message" in caplog.text
