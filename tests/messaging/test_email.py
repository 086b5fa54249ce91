"""E-mail end to end through a real SMTP server on loopback (aiosmtpd).

The outbox row goes out with the RFC 8058 one-click headers and a Message-ID tied to its key;
a refused recipient fails for good, a server that is down is retried.
"""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from email.message import Message as MailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from carereach.channels.types.email.transport import message_id_for
from carereach.consent.models import Program
from carereach.messaging.models import Message, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

ADDRESS = "dana.doe@example.org"
REFUSED = "nobody@example.org"


class Inbox:
    """Keeps every mail the server accepted; refuses one address like a real server would."""

    def __init__(self) -> None:
        self.mails: list[MailMessage] = []
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        self.mails.append(email.message_from_bytes(envelope.content))  # type: ignore[arg-type]
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "email": "smtp"}
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def program() -> Program:
    return factories.program("newsletter", sender_emails=["news@example.com"])


def _queue(program: Program, to: str, key: str = "mail:1") -> Message:
    return messaging.mailed(program, to, key)


def test_a_mail_goes_out_with_one_click_unsubscribe_headers(smtp: Inbox, program: Program) -> None:
    message = _queue(program, ADDRESS)
    assert dispatch_due(worker="w1").sent == 1
    [mail] = smtp.mails
    assert mail["To"] == ADDRESS
    assert mail["From"] == "news@example.com"
    assert mail["Subject"] == "New episode"
    assert mail["Message-ID"] == message_id_for(message.key)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = " ".join(mail["List-Unsubscribe"].split())  # unfold the long header
    assert unsubscribe.startswith("<http://")
    assert "/u/" in unsubscribe
    assert mail.get_payload(decode=True).strip() == b"Episode 12 is out."  # type: ignore[union-attr]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider == "email"


def test_a_refused_recipient_fails_for_good(smtp: Inbox, program: Program) -> None:
    message = _queue(program, REFUSED)
    assert dispatch_due(worker="w1").failed == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED
    assert message.error_code == "smtp_550"
    assert smtp.mails == []


def test_a_server_that_is_down_is_retried(settings: Any, program: Program) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _free_port()  # nothing listens there
    settings.EMAIL_TIMEOUT = 2
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "email": "smtp"}
    message = _queue(program, ADDRESS)
    assert dispatch_due(worker="w1").retried == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert message.attempts == 1
