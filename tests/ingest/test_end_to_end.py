"""Twilio end to end over real sockets: the outbox sends through the Twilio transport to the
loopback stand-in, which posts signed receipts and an inbound STOP to `carereach ingest`'s app
served by uvicorn on another loopback port; a worker pass then applies them.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import uvicorn
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent.models import Program, Suppression
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record
from carereach.ingest.asgi import application
from carereach.messaging.models import EventKind, IngestEvent, Message, MessageStatus
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.dispatch import dispatch_due
from carereach.messaging.services.fallback import _RENDERERS, fallback_renderer_register
from carereach.messaging.services.fanout import Rendered, Trigger, fanout
from carereach.messaging.services.outbox import message_enqueue
from tests.channels.twilio_fake import SID, FakeTwilio
from tests.ingest.conftest import PHONE, SENDER

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ingest_url() -> Iterator[str]:
    """The standalone ingest app (what `carereach ingest` serves) on a random loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        application, log_config=None, access_log=False, lifespan="off", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_send_receipt_and_stop_round_trip(
    twilio: FakeTwilio, ingest_url: str, settings: Any, person: Contact, program: Program
) -> None:
    settings.CARE_PUBLIC_URL = ingest_url  # where Twilio is told to post receipts
    message = message_enqueue(
        key="campaign:7:contact",
        origin="campaign",
        channel="sms",
        address=PHONE,
        sender=SENDER,
        body="Episode 12 is out",
        contact_id=person.pk,
        program_id=program.pk,
        reasons=[],
    )
    assert message is not None

    assert dispatch_due(worker="w1").sent == 1
    assert twilio.sent == [
        {
            "To": PHONE,
            "Body": "Episode 12 is out",
            "From": SENDER,
            "StatusCallback": f"{ingest_url}/hooks/twilio/status",
        }
    ]
    message.refresh_from_db()
    assert (message.status, message.provider) == (MessageStatus.SENT, "twilio")
    sid = message.provider_message_id
    assert sid.startswith("SM")

    # Twilio reports, late and out of order, at the URL it was given.
    callback = twilio.sent[0]["StatusCallback"]
    for status in ("sent", "delivered", "sent"):
        form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": SID, "To": PHONE}
        assert twilio.callback(callback, form).status_code == 200
    # The person answers STOP; Twilio retries the webhook once.
    stop = {
        "MessageSid": "SM" + "5" * 32,
        "AccountSid": SID,
        "From": PHONE,
        "To": SENDER,
        "Body": "STOP",
        "NumMedia": "0",
    }
    for _ in range(2):
        answer = twilio.callback(f"{ingest_url}/hooks/twilio/inbound", stop)
        assert answer.status_code == 200
        assert answer.text.endswith("<Response/>")
    # A forged STOP from someone without the token is refused.
    forged = forged_post(f"{ingest_url}/hooks/twilio/inbound", {**stop, "MessageSid": "SMforged"})
    assert forged == 403
    assert IngestEvent.objects.filter(kind="inbound").count() == 1
    assert IngestEvent.objects.filter(kind="status").count() == 3

    worker_tick("w1")  # callbacks first, then due messages (the STOP confirmation)

    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    kinds = list(message.events.values_list("kind", flat=True))
    assert kinds.count(EventKind.DELIVERED) == 1
    assert not consent_check(address=PHONE, channel="sms", program=program).allowed
    assert len(twilio.sent) == 2
    confirmation = twilio.sent[1]
    assert (confirmation["To"], confirmation["From"]) == (PHONE, SENDER)
    assert confirmation["Body"].startswith("Stopped")
    reply = Message.objects.exclude(pk=message.pk).get()
    assert reply.provider == "twilio"
    assert reply.status == MessageStatus.SENT


def test_a_carrier_opt_out_answer_is_written_back_to_consent(
    twilio: FakeTwilio, person: Contact, program: Program
) -> None:
    message_enqueue(
        key="campaign:8:contact",
        origin="campaign",
        channel="sms",
        address=PHONE,
        sender=SENDER,
        body="Episode 13 is out",
        contact_id=person.pk,
        program_id=program.pk,
        reasons=[],
    )
    twilio.error(400, 21610, "Attempt to send to unsubscribed recipient")
    assert dispatch_due(worker="w1").failed == 1
    assert not consent_check(address=PHONE, channel="sms", program=program).allowed


def test_a_twilio_outage_backs_off_and_sends_once_it_is_back(
    twilio: FakeTwilio, person: Contact, program: Program
) -> None:
    message = message_enqueue(
        key="campaign:9:contact",
        origin="campaign",
        channel="sms",
        address=PHONE,
        sender=SENDER,
        body="Episode 14 is out",
        contact_id=person.pk,
        program_id=program.pk,
        reasons=[],
    )
    assert message is not None
    twilio.error(503, 20503, "Service unavailable")
    assert dispatch_due(worker="w1").retried == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    Message.objects.filter(pk=message.pk).update(due_at=message.created_at)
    assert dispatch_due(worker="w1").sent == 1
    assert len(twilio.sent) == 2  # the refused attempt and the accepted one
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


def forged_post(url: str, form: dict[str, str]) -> int:
    return httpx2.post(url, data=form, headers={"X-Twilio-Signature": "Zm9yZ2Vk"}).status_code


def test_an_unknown_number_receipt_moves_a_cascade_on_to_email(
    twilio: FakeTwilio, ingest_url: str, settings: Any, person: Contact, program: Program
) -> None:
    """Twilio reports 30005 for a text whose trigger named e-mail next: the e-mail goes."""
    settings.CARE_PUBLIC_URL = ingest_url
    person.emails.create(address="ruiz@example.org")
    consent_record(
        contact=person,
        address="ruiz@example.org",
        channels=["email"],
        programs=[program],
        action="grant",
        method="verbal",
        actor=None,
    )
    fanout(
        trigger=Trigger(
            key="refill:3", origin="e2e-test", program=program, channel="sms", fallback=("email",)
        ),
        contacts=Contact.objects.filter(pk=person.pk),
        render=lambda c, k, lang: Rendered(body="Your refill is ready", subject="Refill"),
    )
    text = Message.objects.get()
    Message.objects.filter(pk=text.pk).update(due_at=timezone.now())  # whatever the clock says
    fallback_renderer_register("e2e-test", lambda original, channel: by_mail)
    dispatch_due(worker="w1")
    text.refresh_from_db()
    undelivered = {
        "MessageSid": text.provider_message_id,
        "MessageStatus": "undelivered",
        "ErrorCode": "30005",
        "AccountSid": SID,
        "To": PHONE,
    }
    assert twilio.callback(f"{ingest_url}/hooks/twilio/status", undelivered).status_code == 200

    worker_tick("w1")  # the receipt, then the e-mail it queued (through the sandbox)

    text.refresh_from_db()
    assert (text.status, text.error_code) == (MessageStatus.UNDELIVERED, "30005")
    assert text.reasons[-1]["code"] == "fell_back"
    mail = Message.objects.get(key=f"fallback:{text.pk}")
    assert (mail.channel, mail.address, mail.status) == ("email", "ruiz@example.org", "delivered")
    assert Suppression.objects.filter(address=PHONE, channel="sms", reason="invalid").exists()
    _RENDERERS.pop("e2e-test")


def by_mail(contact: Contact, key: str, language: str) -> Rendered:
    return Rendered(body="By mail", subject="Refill")
