"""E-mail through Django's mail backends: SMTP by default, or any backend set in settings.

The message carries the RFC 8058 one-click unsubscribe headers the dispatcher adds, and a
Message-ID derived from the outbox key, so a mailbox (and a person reading headers) can tie a
mail to exactly one outbox row. SMTP gives no delivery receipt: an accepted mail is "sent";
bounces arrive later as their own callbacks.

Failures: a refused recipient is permanent (the address is bad); a refused sender, a dropped
connection, a timeout or a 4xx reply is transient and retried.
"""

from __future__ import annotations

import hashlib
import smtplib
from collections.abc import Mapping

from django.core.mail import EmailMessage, get_connection

from carereach.channels.base import (
    DeliveryStatus,
    InboundText,
    Outbound,
    SendResult,
    StatusReport,
)

MESSAGE_ID_DOMAIN = "carereach.invalid"


def message_id_for(key: str) -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


class DjangoEmailTransport:
    code = "email"
    idempotent = False  # SMTP has no idempotency: an unknown outcome is not retried
    paced = False  # the mail server paces itself

    def send(self, message: Outbound) -> SendResult:
        message_id = message_id_for(message.key)
        mail = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=message.sender,
            to=[message.to],
            headers={**(message.headers or {}), "Message-ID": message_id},
        )
        try:
            with get_connection(fail_silently=False) as connection:
                connection.send_messages([mail])
        except smtplib.SMTPRecipientsRefused as error:
            codes = [str(code) for code, _ in error.recipients.values()]
            return SendResult(
                accepted=False,
                error_code=f"smtp_{codes[0] if codes else 'refused'}",
                error_message="the mail server refused the recipient",
                retryable=any(code.startswith("4") for code in codes),
            )
        except smtplib.SMTPResponseException as error:
            return SendResult(
                accepted=False,
                error_code=f"smtp_{error.smtp_code}",
                error_message="the mail server refused the message",
                retryable=400 <= error.smtp_code < 500,
            )
        except (TimeoutError, smtplib.SMTPException, OSError):
            return SendResult(accepted=False, error_code="smtp_unavailable", retryable=True)
        return SendResult(accepted=True, provider_message_id=message_id, status=DeliveryStatus.SENT)

    def verify(self, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        return False  # SMTP posts no callbacks; bounce webhooks belong to the mail service

    def parse_status(self, params: Mapping[str, str]) -> StatusReport:
        raise ValueError("SMTP sends no status callbacks")

    def parse_inbound(self, params: Mapping[str, str]) -> InboundText:
        raise ValueError("SMTP sends no inbound callbacks")
