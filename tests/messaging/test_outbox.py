"""The outbox end to end on the sandbox carrier: notices, inbound consent replies, dispatch rules.

Every test drives public services (`notice_send`, `ingest_record`, `worker_tick`, the dispatch
functions) and reads what reached the sandbox "handset" and the outbox's events.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.channels.base import InboundText, Outbound, SendResult, StatusReport
from carereach.channels.models import Direction, SandboxMessage
from carereach.channels.types.sandbox.transport import SandboxTransport
from carereach.consent.models import Program, Suppression
from carereach.consent.notices import Notice, NoticeKind, notice_send
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record
from carereach.messaging.models import (
    EventKind,
    InboundMessage,
    IngestEvent,
    Lane,
    Message,
    MessageStatus,
)
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services import dispatch as dispatch_module
from carereach.messaging.services.dispatch import dispatch_due, message_status_apply
from carereach.messaging.services.ingest import ingest_process, ingest_record
from carereach.messaging.services.outbox import Reason
from tests.audience import factories as audience
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

PHONE = "+14155550101"
SENDER = "+18005550100"
_ids = iter(range(1, 100_000))


@pytest.fixture
def program() -> Program:
    return factories.program("podcast", sender_numbers=[SENDER])


@pytest.fixture
def person(program: Program) -> Contact:
    return messaging.consented(PHONE, program)


def handset(number: str = PHONE) -> list[str]:
    """What the sandbox delivered to this number, oldest first."""
    return [
        str(m.body)
        for m in SandboxMessage.objects.filter(direction=Direction.OUT, to=number).order_by("id")
    ]


def text_in(body: str, *, from_number: str = PHONE, message_id: str = "") -> bool:
    return ingest_record(
        provider="sandbox",
        kind="inbound",
        provider_message_id=message_id or f"SBI{next(_ids)}",
        payload={"from": from_number, "to": SENDER, "body": body},
    )


def test_a_consent_notice_is_queued_sent_once_and_delivered(person: Contact) -> None:
    notice = Notice(
        kind=NoticeKind.CAPTURE_RECEIPT,
        key="capture:abc",
        contact_id=person.pk,
        channel="sms",
        address=PHONE,
        body="You agreed to the Podcast program. Reply STOP to opt out.",
        sender=SENDER,
    )
    notice_send(notice)
    notice_send(notice)  # the same key again: nothing new
    assert Message.objects.count() == 1
    message = Message.objects.get()
    assert message.lane == Lane.CONSENT
    assert message.status == MessageStatus.QUEUED
    assert message.reasons[0]["code"] == "consent_notice"

    report = dispatch_due(worker="w1")
    assert report.sent == 1
    assert handset() == ["You agreed to the Podcast program. Reply STOP to opt out."]
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.provider == "sandbox"
    assert message.provider_message_id.startswith("SBM")
    kinds = list(message.events.values_list("kind", flat=True))
    assert kinds == [EventKind.QUEUED, EventKind.SENT, EventKind.DELIVERED]
    assert dispatch_due(worker="w1").claimed == 0  # nothing left: never sent twice
    assert len(handset()) == 1


def test_stop_by_text_revokes_and_gets_exactly_one_confirmation(
    person: Contact, program: Program
) -> None:
    for _ in range(5):  # a burst of five STOPs
        assert text_in("STOP")
    worker_tick("w1")
    assert not consent_check(address=PHONE, channel="sms", program=program).allowed
    replies = handset()
    assert len(replies) == 1
    assert replies[0].startswith("Stopped")  # the program's own STOP reply
    assert "START" in replies[0]
    assert InboundMessage.objects.filter(category="opt_out").count() == 5
    reply = Message.objects.get()
    assert reply.address == PHONE
    assert reply.sender == SENDER  # answered from the number the person texted
    assert reply.origin_ref == NoticeKind.OPT_OUT_CONFIRMATION


def test_a_carrier_retrying_the_same_inbound_text_is_processed_once(
    person: Contact, program: Program
) -> None:
    assert text_in("HELP", message_id="SBI-dup")
    assert not text_in("HELP", message_id="SBI-dup")
    worker_tick("w1")
    assert IngestEvent.objects.count() == 1
    assert len(handset()) == 1
    assert "Msg & data rates may apply" in handset()[0]


def test_a_reply_is_recorded_against_the_message_it_answers(
    person: Contact, program: Program
) -> None:
    sent = messaging.queued(person, program, "campaign:1:contact", "New episode out now")
    dispatch_due(worker="w1")
    text_in("thanks, see you Tuesday")
    ingest_process()
    inbound = InboundMessage.objects.get()
    assert inbound.in_reply_to_id == sent.pk
    assert inbound.category == ""
    assert sent.events.filter(kind=EventKind.REPLIED).count() == 1
    assert handset() == ["New episode out now"]  # an ordinary reply gets no automatic answer


def test_an_opt_out_after_queueing_wins_at_dispatch(person: Contact, program: Program) -> None:
    message = messaging.queued(person, program, "campaign:2:contact", "Dosing update")
    consent_record(
        contact=person,
        address=PHONE,
        channels=["sms"],
        programs=[program],
        action="revoke",
        method="call_center",
        actor=None,
        reason="asked on the phone",
    )
    report = dispatch_due(worker="w1")
    assert report.skipped == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SKIPPED
    assert message.reasons[-1]["code"] == "consent_gone"
    assert handset() == []


def test_a_held_message_past_its_expiry_is_never_sent(person: Contact, program: Program) -> None:
    now = timezone.now()
    message = messaging.queued(
        person,
        program,
        "reminder:1",
        "Your appointment is tomorrow",
        origin="journey",
        reasons=[Reason("quiet_hours", "Held until 08:00 local time.")],
        held=True,
        due_at=now - timedelta(minutes=1),
        expires_at=now - timedelta(seconds=1),
    )
    assert dispatch_due(worker="w1").expired == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.EXPIRED
    assert handset() == []


def test_messages_not_yet_due_wait(person: Contact, program: Program) -> None:
    messaging.queued(
        person, program, "later:1", "Later", held=True, due_at=timezone.now() + timedelta(hours=2)
    )
    assert dispatch_due(worker="w1").claimed == 0
    assert handset() == []


def test_consent_notices_go_before_bulk(person: Contact, program: Program) -> None:
    for n in range(3):
        messaging.queued(person, program, f"bulk:{n}", f"bulk {n}")
    text_in("HELP")
    ingest_process()
    dispatch_due(worker="w1", limit=1)
    assert len(handset()) == 1
    assert "Msg & data rates may apply" in handset()[0]


class Flaky:
    """A provider that fails transiently a set number of times, then accepts."""

    code = "flaky"
    idempotent = False
    paced = False

    def __init__(
        self,
        failures: int,
        *,
        retryable: bool = True,
        error: str = "30003",
        retry_after: float | None = None,
    ) -> None:
        self.failures = failures
        self.retryable = retryable
        self.error = error
        self.retry_after = retry_after  # set: the provider itself is down (5xx, 429)
        self.calls: list[str] = []

    def send(self, message: Outbound) -> SendResult:
        self.calls.append(message.key)
        if len(self.calls) <= self.failures:
            return SendResult(
                accepted=False,
                error_code=self.error,
                retryable=self.retryable,
                retry_after=self.retry_after,
            )
        return SendResult(accepted=True, provider_message_id=f"FL{len(self.calls)}")

    def verify(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return True

    def parse_status(self, params: Mapping[str, str]) -> StatusReport:
        raise NotImplementedError

    def parse_inbound(self, params: Mapping[str, str]) -> InboundText:
        raise NotImplementedError


def _one(person: Contact, program: Program) -> Message:
    return messaging.queued(person, program, "retry:1", "hello")


def test_transient_failures_are_retried_with_backoff_then_sent(
    person: Contact, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Flaky(failures=1)
    monkeypatch.setattr(dispatch_module, "transport_for", lambda channel: flaky)
    message = _one(person, program)
    assert dispatch_due(worker="w1").retried == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.due_at > timezone.now() + timedelta(seconds=20)
    assert dispatch_due(worker="w1").claimed == 0  # not due yet
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    assert dispatch_due(worker="w1").sent == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.attempts == 2
    assert flaky.calls == ["retry:1", "retry:1"]


def test_permanent_failures_fail_with_the_reason(
    person: Contact, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Flaky(failures=9, retryable=False, error="21211")
    monkeypatch.setattr(dispatch_module, "transport_for", lambda channel: flaky)
    message = _one(person, program)
    assert dispatch_due(worker="w1").failed == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "21211"
    assert "21211" in message.reasons[-1]["text"]
    assert Suppression.objects.filter(address=PHONE, channel="sms", reason="invalid").exists()


def test_out_of_attempts_fails(
    person: Contact, program: Program, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    settings.SEND_MAX_ATTEMPTS = 2  # type: ignore[attr-defined]
    flaky = Flaky(failures=9)
    monkeypatch.setattr(dispatch_module, "transport_for", lambda channel: flaky)
    message = _one(person, program)
    dispatch_due(worker="w1")
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    assert dispatch_due(worker="w1").failed == 1
    assert len(flaky.calls) == 2


def test_a_provider_outage_is_waited_out_whatever_the_attempts(
    person: Contact, program: Program, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    """5xx answers (the provider is down, not the message wrong) are retried past
    CARE_SEND_MAX_ATTEMPTS: quickly twice, then on the 30 s schedule, until it comes back."""
    settings.SEND_MAX_ATTEMPTS = 2  # type: ignore[attr-defined]
    flaky = Flaky(failures=5, error="http_503", retry_after=0.0)
    monkeypatch.setattr(dispatch_module, "transport_for", lambda channel: flaky)
    message = _one(person, program)
    waits = []
    for _ in range(5):
        before = timezone.now()
        assert dispatch_due(worker="w1").retried == 1
        message.refresh_from_db()
        assert message.status == MessageStatus.QUEUED
        waits.append((message.due_at - before).total_seconds())
        Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    assert dispatch_due(worker="w1").sent == 1
    assert len(flaky.calls) == 6
    hiccups, outage = waits[:2], waits[2:]
    assert [w < 3 for w in hiccups] == [True, True]  # a hiccup costs a second or two
    # then 30 s, 1 min, 2 min, each with up to a quarter of jitter
    assert [1 <= w / base <= 1.26 for w, base in zip(outage, [30, 60, 120], strict=True)] == [
        True,
        True,
        True,
    ]


def test_a_worker_that_died_mid_send_is_recovered_without_a_duplicate(
    person: Contact, program: Program
) -> None:
    message = _one(person, program)
    # The dead worker had claimed it and the sandbox had already taken it.
    SandboxTransport().send(
        Outbound(key=message.key, channel="sms", to=PHONE, sender=SENDER, body="hello")
    )
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING,
        claimed_by="dead",
        claimed_at=timezone.now() - timedelta(hours=1),
    )
    report = dispatch_due(worker="w2")
    assert report.recovered == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert handset() == ["hello"]  # the sandbox deduplicated on the key: one on the handset


def test_an_unrecoverable_outcome_is_failed_not_resent(
    person: Contact, program: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = Flaky(failures=0)
    monkeypatch.setattr(dispatch_module, "transport_for", lambda channel: flaky)
    message = _one(person, program)
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING,
        claimed_by="dead",
        claimed_at=timezone.now() - timedelta(hours=1),
    )
    dispatch_due(worker="w2")
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.reasons[-1]["code"] == "outcome_unknown"
    assert flaky.calls == []


def test_carrier_unsubscribed_is_written_back_to_the_ledger(program: Program) -> None:
    number = "+14155550198"  # the sandbox's "unsubscribed at the carrier" number
    someone = messaging.consented(number, program, last_name="Okafor")
    messaging.queued(someone, program, "c:3", "hi")
    assert dispatch_due(worker="w1").failed == 1
    assert Message.objects.get().error_code == "21610"
    permission = consent_check(address=number, channel="sms", program=program)
    assert not permission.allowed
    assert permission.state is not None
    assert permission.state.entry.method == "carrier"


def test_receipts_only_move_forward(person: Contact, program: Program) -> None:
    message = _one(person, program)
    dispatch_due(worker="w1")
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message_status_apply(
        provider="sandbox",
        provider_message_id=message.provider_message_id,
        status="sent",
    )
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert not message_status_apply(
        provider="sandbox", provider_message_id="unknown", status="delivered"
    )


@pytest.mark.parametrize("kind", ["healthcare_exempt", "transactional"])
def test_programs_that_need_no_consent_go_unless_the_person_opted_out(kind: str) -> None:
    exempt = factories.program("refills", type=kind, sender_numbers=[SENDER])
    fresh = audience.contact(kind="patient", first_name="Ana", phone="+14155550111")
    stopped = audience.contact(kind="patient", first_name="Ben", phone="+14155550112")
    consent_record(
        contact=stopped,
        address="+14155550112",
        channels=["sms"],
        programs=[exempt],
        action="revoke",
        method="call_center",
        actor=None,
        reason="asked",
    )
    for person in (fresh, stopped):
        messaging.queued(person, exempt, f"refill:{person.pk}", "Your refill is due.")
    report = dispatch_due(worker="w1")
    assert (report.sent, report.skipped) == (1, 1)
    assert handset("+14155550111") == ["Your refill is due."]
    assert handset("+14155550112") == []
