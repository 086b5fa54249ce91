"""No PHI in worker logs: sending, failing, receipts, inbound texts and broken callbacks.

The log redaction filter is the second wall; this checks the first: the raw records (before any
filter) of a patient's whole message life never hold her name, number, birth date, record number
or the text itself, also when things go wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from django.utils import timezone

from carereach.messaging.models import IngestEvent, IngestKind, MessageStatus
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_text_in
from tests.audience import factories as audience
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

PATIENT = {
    "kind": "patient",
    "first_name": "Zelinda",
    "last_name": "Quornwhistle",
    "date_of_birth": "1961-04-17",
    "mrn": "MRN-88231977",
}
PHONE = "+14155550177"
UNREACHABLE = "+14155550199"  # the sandbox answers 30003 for numbers ending 0199
BODY = "Zelinda, your oxaliplatin infusion is on Friday."
REPLY = "ok but my chemo makes me sick, can we move it"


def _phi() -> list[str]:
    digits = PHONE[2:]
    return [
        PATIENT["first_name"],
        PATIENT["last_name"],
        PATIENT["date_of_birth"],
        PATIENT["mrn"],
        PHONE,
        digits,
        UNREACHABLE,
        "oxaliplatin",
        "chemo",
    ]


class RawRecords(logging.Handler):
    """Keeps each record's text as the code wrote it: runs before the console handler, whose
    redaction filter rewrites the record in place (caplog would see the scrubbed text)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")
        if record.exc_info and record.exc_info[1] is not None:
            self.lines.append(repr(record.exc_info[1]))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def raw_logs() -> Iterator[RawRecords]:
    root = logging.getLogger()
    handler, level = RawRecords(), root.level
    root.handlers.insert(0, handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.handlers.remove(handler)
    root.setLevel(level)


def test_a_patients_messages_leave_no_phi_in_the_logs(raw_logs: RawRecords) -> None:
    program = factories.program("care", sender_numbers=[messaging.SENDER])
    patient = audience.contact(**PATIENT, phone=PHONE)
    other = audience.contact(**{**PATIENT, "mrn": "MRN-88231978"}, phone=UNREACHABLE)
    for person, phone in ((patient, PHONE), (other, UNREACHABLE)):
        messaging.grant(person, phone, program)
    sent = messaging.queued(patient, program, "care:1:a", BODY)
    refused = messaging.queued(other, program, "care:1:b", BODY)
    worker_tick("w1")  # one is accepted, one refused by the carrier
    sandbox_text_in(from_number=PHONE, to=messaging.SENDER, body=REPLY)
    IngestEvent.objects.create(  # a callback the worker cannot apply: it logs the failure
        provider="sandbox",
        kind=IngestKind.INBOUND,
        provider_message_id="SM-broken",
        payload=json.dumps({"from": PHONE, "body": REPLY}),  # "to" is missing
        received_at=timezone.now(),
    )
    worker_tick("w1")

    sent.refresh_from_db()
    refused.refresh_from_db()
    assert sent.status in (MessageStatus.SENT, MessageStatus.DELIVERED)
    assert refused.status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
    assert "callback" in raw_logs.text, "the broken callback above is logged"
    leaked = [value for value in _phi() if value in raw_logs.text]
    assert leaked == []
