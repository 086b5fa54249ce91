"""Pacing: a sender's segments per second, shared by every worker, never burst past."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from carereach.channels.base import InboundText, Outbound, SendResult, StatusReport
from carereach.channels.types.email.transport import DjangoEmailTransport
from carereach.channels.types.sandbox.transport import SandboxTransport
from carereach.channels.types.twilio.transport import TwilioTransport
from carereach.config import rates
from carereach.consent.models import Program
from carereach.errors import ConfigError
from carereach.messaging.models import Message, MessageStatus
from carereach.messaging.services import dispatch as dispatch_module
from carereach.messaging.services.dispatch import dispatch_due
from carereach.messaging.services.pacing import PACE, budget_take, sender_kind
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
LONG_CODE = "+14155550100"


GAP = timedelta(seconds=1 / PACE)  # a long code's spacing: a little over its 1 segment/s


def test_a_long_code_sends_one_segment_a_second() -> None:
    first = budget_take(sender=LONG_CODE, costs=[1, 1, 1], now=T0)
    assert first.slots == [T0]
    assert first.retry_at == T0 + GAP
    assert (
        budget_take(sender=LONG_CODE, costs=[1, 1], now=T0 + timedelta(milliseconds=500)).allowed
        == 0
    )
    # Claimed a little before its slot, and sent at the slot, never earlier.
    assert budget_take(sender=LONG_CODE, costs=[1, 1], now=T0 + timedelta(seconds=1)).slots == [
        T0 + GAP
    ]


def test_no_second_ever_holds_more_than_a_short_codes_hundred() -> None:
    slots: list[datetime] = []
    for step in range(100):  # a backlog, claimed every 50 ms for five seconds
        now = T0 + timedelta(milliseconds=50 * step)
        slots += budget_take(sender="12345", costs=[1] * 200, now=now).slots
    assert slots == sorted(slots)
    for n, slot in enumerate(slots):  # every sliding one-second window
        assert sum(1 for later in slots[n:] if later < slot + timedelta(seconds=1)) <= 100
    rate = (len(slots) - 1) / (slots[-1] - slots[0]).total_seconds()
    assert rate >= 95  # and the backlog drains at the limit, less the margin


def test_idle_time_is_not_banked_into_a_burst() -> None:
    budget_take(sender="12345", costs=[1] * 10, now=T0)
    later = budget_take(sender="12345", costs=[1] * 50, now=T0 + timedelta(seconds=10))
    assert later.slots[0] == T0 + timedelta(seconds=10)
    assert later.slots[1] - later.slots[0] == timedelta(seconds=1 / (100 * PACE))


def test_a_long_message_goes_at_its_slot_and_the_next_waits() -> None:
    grant = budget_take(sender=LONG_CODE, costs=[3, 1], now=T0)
    assert grant.allowed == 1
    assert grant.retry_at == T0 + timedelta(seconds=3 / PACE)  # its 3 segments come first


def test_operator_rates_win(settings: Any) -> None:
    settings.SENDER_RATES = {LONG_CODE: 4.0}
    grant = budget_take(sender=LONG_CODE, costs=[1] * 6, now=T0)
    assert grant.slots[1] - grant.slots[0] == timedelta(seconds=1 / (4 * PACE))


@pytest.mark.parametrize(
    ("sender", "kind"),
    [("12345", "short_code"), ("+18005550100", "toll_free"), (LONG_CODE, "long_code")],
)
def test_sender_kinds(sender: str, kind: str) -> None:
    assert sender_kind(sender) == kind


def test_rates_setting_is_parsed_or_refused_with_the_entry() -> None:
    assert rates({"R": "+14155550100=4, 12345=100"}, "R") == {"+14155550100": 4.0, "12345": 100.0}
    assert rates({}, "R") == {}
    for bad in ("+14155550100", "12345=fast", "=3", "12345=0"):
        with pytest.raises(ConfigError, match="R entry 1"):
            rates({"R": bad}, "R")


class Carrier:
    """A throttled carrier that accepts everything."""

    code = "carrier"
    idempotent = False
    paced = True

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: Outbound) -> SendResult:
        self.sent.append(message.key)
        return SendResult(accepted=True, provider_message_id=f"C{len(self.sent)}")

    def verify(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return True

    def parse_status(self, params: Mapping[str, str]) -> StatusReport:
        raise NotImplementedError

    def parse_inbound(self, params: Mapping[str, str]) -> InboundText:
        raise NotImplementedError


def test_dispatch_leaves_what_the_sender_cannot_take_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    carrier = Carrier()
    monkeypatch.setattr(dispatch_module, "transport_for", lambda channel: carrier)
    program: Program = factories.program("podcast", sender_numbers=[LONG_CODE])
    person = messaging.consented("+14155550101", program)
    for n in range(5):
        messaging.queued(person, program, f"bulk:{n}", f"hello {n}", sender=LONG_CODE)
    report = dispatch_due(worker="w1")
    assert (report.sent, report.paced) == (1, 4)
    assert carrier.sent == ["bulk:0"]
    waiting = Message.objects.filter(status=MessageStatus.QUEUED)
    assert waiting.count() == 4
    assert all(m.attempts == 0 for m in waiting)  # waiting for the rate is not an attempt
    assert dispatch_due(worker="w1").claimed == 0  # not due yet: one a second


def test_carriers_are_paced_and_the_sandbox_and_smtp_are_not() -> None:
    assert TwilioTransport.paced
    assert not SandboxTransport.paced
    assert not DjangoEmailTransport.paced
