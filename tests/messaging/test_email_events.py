"""Mail services' bounce, complaint and unsubscribe webhooks (through django-anymail).

Each test posts a payload in the service's own shape (from its documentation) to
/mail-events/<service>/tracking/ with the service's authentication, and asserts what the
address, the consent ledger and the outbox say afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.channels.types.email.transport import message_id_for
from carereach.consent.models import Program, Suppression
from carereach.consent.selectors import consent_check
from carereach.messaging.models import Message, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from carereach.messaging.services.fallback import fallback_renderer_register
from carereach.messaging.services.fanout import Rendered, Trigger, fanout
from tests.audience import factories as audience
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

AUTH = "mailhook:s3cret-pass"
SIGNING_KEY = "key-mailgun-signing-0123456789"
TO = "dana.doe@example.org"
SPELT = "Dana.Doe@Example.org"  # as a mail service may report it


@pytest.fixture
def hooks(settings: Any) -> Client:
    settings.ANYMAIL = {"WEBHOOK_SECRET": [AUTH], "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "email": "smtp"}
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return Client(enforce_csrf_checks=True)  # services post without a session or token


def _basic(client: Client, service: str, payload: object, auth: str = AUTH) -> Any:
    token = base64.b64encode(auth.encode()).decode()
    return client.post(
        f"/mail-events/{service}/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Basic {token}",
    )


@pytest.fixture
def program() -> Program:
    return factories.program("news", sender_numbers=["+14155550100"])


@pytest.fixture
def mailed(hooks: Client, program: Program) -> Message:
    """A consented HCP (texts and mail), one program mail sent over SMTP, cascade to texts."""
    person = audience.contact(
        kind="hcp", last_name="Doe", email=TO, phone="+14155550177", time_zone="America/Chicago"
    )
    messaging.grant(person, TO, program, "email")
    messaging.grant(person, "+14155550177", program)
    fallback_renderer_register("mail-test", lambda original, channel: _text)
    fanout(
        trigger=Trigger(
            key="news:1", origin="mail-test", program=program, channel="email", fallback=("sms",)
        ),
        contacts=Contact.objects.filter(pk=person.pk),
        render=lambda c, k, lang: Rendered(body="Episode 12 is out.", subject="New episode"),
    )
    dispatch_due(worker="w1")
    message = Message.objects.get(contact=person)
    assert message.status == MessageStatus.SENT
    assert mail.outbox[0].extra_headers["Message-ID"] == message.provider_message_id
    return message


def _text(contact: Contact, key: str, language: str) -> Rendered:
    return Rendered(body="Episode 12 is out (we could not e-mail you).")


def postmark(kind: str, email: str = SPELT, **fields: object) -> dict[str, object]:
    """Postmark's bounce/spam webhook body (its own MessageID, not ours)."""
    return {
        "RecordType": "SpamComplaint" if kind == "SpamComplaint" else "Bounce",
        "ID": 4323372036854775807,
        "Type": kind,
        "TypeCode": {"HardBounce": 1, "SoftBounce": 4096, "SpamComplaint": 512}[kind],
        "Name": kind,
        "Tag": "",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {},
        "ServerID": 23,
        "MessageStream": "outbound",
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": email,
        "From": "news@example.com",
        "BouncedAt": timezone.now().strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
        "DumpAvailable": False,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "New episode",
        **fields,
    }


def test_a_postmark_hard_bounce_suppresses_and_moves_the_message_on(
    hooks: Client, mailed: Message
) -> None:
    response = _basic(hooks, "postmark", postmark("HardBounce"))

    assert response.status_code == 200
    assert Suppression.objects.filter(channel="email", reason="bounced").exists()
    assert set(Suppression.objects.values_list("address", flat=True)) == {TO}
    mailed.refresh_from_db()
    assert (mailed.status, mailed.error_code) == (MessageStatus.UNDELIVERED, "hard_bounce")
    text = Message.objects.get(key=f"fallback:{mailed.pk}")
    assert (text.channel, text.address) == ("sms", "+14155550177")
    assert "hard_bounce" in text.reasons[1]["text"]


def test_a_soft_bounce_changes_nothing(hooks: Client, mailed: Message) -> None:
    assert _basic(hooks, "postmark", postmark("SoftBounce")).status_code == 200
    assert not Suppression.objects.exists()
    mailed.refresh_from_db()
    assert mailed.status == MessageStatus.SENT


def test_a_spam_complaint_suppresses_and_revokes_the_programs_mail(
    hooks: Client, mailed: Message, program: Program
) -> None:
    assert _basic(hooks, "postmark", postmark("SpamComplaint")).status_code == 200
    assert Suppression.objects.get().reason == "complained"
    permission = consent_check(address=TO, channel="email", program=program)
    assert permission.reason == "consent_revoked"
    assert consent_check(address="+14155550177", channel="sms", program=program).allowed


def test_brevo_events_match_our_message_id(
    hooks: Client, mailed: Message, program: Program
) -> None:
    base = {
        "id": 1054210,
        "email": TO,
        "message-id": mailed.provider_message_id,
        "date": "2026-11-23 18:08:59",
        "ts": 1763917739,
        "ts_event": 1763917739,
        "ts_epoch": int(timezone.now().timestamp() * 1000) + 2000,
        "subject": "New episode",
        "tag": "",
        "sending_ip": "185.41.28.109",
    }
    assert _basic(hooks, "brevo", {**base, "event": "delivered"}).status_code == 200
    mailed.refresh_from_db()
    assert mailed.status == MessageStatus.DELIVERED
    soft = {**base, "event": "soft_bounce", "reason": "mailbox full"}
    assert _basic(hooks, "brevo", soft).status_code == 200
    assert not Suppression.objects.exists()  # a full mailbox is not a dead address

    assert _basic(hooks, "brevo", {**base, "event": "unsubscribe"}).status_code == 200
    permission = consent_check(address=TO, channel="email", program=program)
    assert permission.reason == "consent_revoked"
    assert not Suppression.objects.exists()


def test_a_signed_mailgun_permanent_failure_suppresses(hooks: Client, mailed: Message) -> None:
    timestamp, token = "1763915634", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(
        SIGNING_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    event = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": "failed",
            "severity": "permanent",
            "reason": "bounce",
            "recipient": SPELT,
            "timestamp": 1763915634.375624,
            "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "message": {"headers": {"message-id": mailed.provider_message_id.strip("<>")}},
            "delivery-status": {"code": 550, "message": "No such user", "description": ""},
        },
    }
    # Mailgun signs its posts; with a shared secret set, its URL carries the basic auth too.
    assert _basic(hooks, "mailgun", event).status_code == 200
    assert Suppression.objects.get().reason == "bounced"
    mailed.refresh_from_db()
    assert mailed.status == MessageStatus.UNDELIVERED

    forged = {**event, "signature": {**event["signature"], "signature": "0" * 64}}
    assert _basic(hooks, "mailgun", forged).status_code == 400


def test_wrong_or_missing_credentials_are_refused_and_change_nothing(
    hooks: Client, settings: Any, mailed: Message
) -> None:
    assert _basic(hooks, "postmark", postmark("HardBounce"), auth="x:y").status_code == 400
    plain = hooks.post(
        "/mail-events/postmark/tracking/",
        data=json.dumps(postmark("HardBounce")),
        content_type="application/json",
    )
    assert plain.status_code == 400
    settings.ANYMAIL = {"WEBHOOK_SECRET": [], "MAILGUN_WEBHOOK_SIGNING_KEY": ""}
    assert _basic(hooks, "postmark", postmark("HardBounce")).status_code == 503
    assert _basic(hooks, "mailgun", {}).status_code == 503
    assert not Suppression.objects.exists()


def test_message_id_for_is_what_smtp_sends() -> None:
    assert message_id_for("k").startswith("<")
