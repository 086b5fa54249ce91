"""The Twilio transport against a real HTTP server on loopback, and its callback parsing tables.

Sending goes through httpx2 to `FakeTwilio` (tests/channels/twilio_fake.py): each test asserts the
exact request Twilio would get, or how Twilio's answer maps to a SendResult.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from carereach.channels.base import DeliveryStatus, Outbound
from carereach.channels.registry import providers_check, transport_for, transport_named
from carereach.channels.types.twilio.transport import (
    ERRORS,
    STATUSES,
    TwilioTransport,
    result_from_response,
)
from carereach.errors import ConfigError, ValidationError
from tests.channels.twilio_fake import SID, TOKEN, FakeTwilio, fake_twilio

TO = "+14155550101"
FROM = "+18005550100"
CALLBACK = "https://care.example.org/hooks/twilio/status"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with fake_twilio() as server:
        yield server


def transport(api_base: str, **overrides: Any) -> TwilioTransport:
    options: dict[str, Any] = {
        "account_sid": SID,
        "auth_token": TOKEN,
        "api_base": api_base,
        "status_callback": CALLBACK,
        "timeout": 2.0,
    }
    options.update(overrides)
    return TwilioTransport(**options)


def outbound(body: str = "Your refill is ready. Reply STOP to opt out.", **fields: str) -> Outbound:
    values = {"key": "k:1", "channel": "sms", "to": TO, "sender": FROM, "body": body}
    values.update(fields)
    return Outbound(**values)  # type: ignore[arg-type]


def test_a_send_is_one_authenticated_form_post_and_201_is_accepted(fake: FakeTwilio) -> None:
    result = transport(fake.url).send(outbound("¡Hola! Tu receta está lista 💊"))

    assert len(fake.requests) == 1
    request = fake.requests[0]
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.auth == (SID, TOKEN)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.form == [
        ("To", TO),
        ("Body", "¡Hola! Tu receta está lista 💊"),
        ("From", FROM),
        ("StatusCallback", CALLBACK),
    ]
    assert result.accepted
    assert result.provider_message_id.startswith("SM")
    assert result.status == DeliveryStatus.QUEUED
    assert result.segments == 1
    assert not result.retryable


def test_a_messaging_service_sender_and_a_per_message_callback(fake: FakeTwilio) -> None:
    result = transport(fake.url).send(
        outbound(sender="MG" + "b2" * 16, status_callback="https://other.example/cb")
    )
    assert result.accepted
    assert fake.sent[0] == {
        "To": TO,
        "Body": "Your refill is ready. Reply STOP to opt out.",
        "MessagingServiceSid": "MG" + "b2" * 16,
        "StatusCallback": "https://other.example/cb",
    }


@pytest.mark.parametrize(
    ("http_status", "code", "retryable"),
    [
        (400, 21211, False),  # invalid number
        (400, 21610, False),  # unsubscribed at the carrier: dispatch writes it back
        (400, 21614, False),  # not a mobile number
        (400, 30565, False),  # content refused on this sender type
        (400, 21999, False),  # a 4xx code we do not know: not retried
        (429, 20429, True),  # too many requests
        (503, 20503, True),
        (401, 20003, True),  # bad credentials: an operator can fix them
    ],
)
def test_error_answers_map_by_the_table(
    fake: FakeTwilio, http_status: int, code: int, retryable: bool
) -> None:
    fake.error(http_status, code, f"The 'To' number {TO} is not valid")
    result = transport(fake.url).send(outbound())
    assert not result.accepted
    assert result.error_code == str(code)
    assert result.retryable is retryable
    assert TO not in result.error_message  # Twilio's text can quote the number: ours does not
    if str(code) in ERRORS:
        assert result.error_message == ERRORS[str(code)].meaning


def test_a_500_without_json_is_retryable(fake: FakeTwilio) -> None:
    fake.answer(500, "<html>Internal Server Error</html>")
    result = transport(fake.url).send(outbound())
    assert (result.accepted, result.error_code, result.retryable) == (False, "http_500", True)


def test_wrong_credentials_are_refused_by_the_fake(fake: FakeTwilio) -> None:
    result = transport(fake.url, auth_token="not-the-token").send(outbound())
    assert (result.accepted, result.error_code) == (False, "20003")


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = transport(f"http://127.0.0.1:{port}").send(outbound())
    assert (result.accepted, result.error_code, result.retryable) == (False, "connection", True)


def test_a_slow_answer_is_not_retried_because_twilio_may_have_sent_it(fake: FakeTwilio) -> None:
    fake.answer(201, {"sid": "SMlate", "status": "queued"}, delay=1.0)
    result = transport(fake.url, timeout=0.2).send(outbound())
    assert (result.accepted, result.error_code, result.retryable) == (False, "timeout", False)
    assert "not retried" in result.error_message


@pytest.mark.parametrize(
    ("http_status", "body", "accepted", "status", "segments", "code"),
    [
        (201, b'{"sid": "SM1", "status": "queued", "num_segments": "3"}', True, "queued", 3, ""),
        (201, b'{"sid": "SM1", "status": "sent"}', True, "sent", 1, ""),
        (201, b'{"sid": "SM1", "status": "mystery", "num_segments": "x"}', True, "queued", 1, ""),
        (201, b'{"status": "queued"}', False, "queued", 1, "bad_response"),
        (201, b"not json", False, "queued", 1, "bad_response"),
        (400, b"[]", False, "queued", 1, "http_400"),
    ],
)
def test_result_from_response(
    http_status: int, body: bytes, accepted: bool, status: str, segments: int, code: str
) -> None:
    result = result_from_response(http_status, body)
    assert (result.accepted, result.status, result.segments, result.error_code) == (
        accepted,
        status,
        segments,
        code,
    )
    assert not result.retryable


# --- callbacks ---------------------------------------------------------------------------

PARSER = TwilioTransport(account_sid=SID, auth_token=TOKEN)


@pytest.mark.parametrize(
    ("twilio", "ours"),
    [
        ("accepted", DeliveryStatus.QUEUED),
        ("scheduled", DeliveryStatus.QUEUED),
        ("queued", DeliveryStatus.QUEUED),
        ("sending", DeliveryStatus.QUEUED),
        ("sent", DeliveryStatus.SENT),
        ("delivered", DeliveryStatus.DELIVERED),
        ("read", DeliveryStatus.DELIVERED),
        ("partially_delivered", DeliveryStatus.UNDELIVERED),
        ("undelivered", DeliveryStatus.UNDELIVERED),
        ("failed", DeliveryStatus.FAILED),
        ("canceled", DeliveryStatus.FAILED),
    ],
)
def test_status_table(twilio: str, ours: DeliveryStatus) -> None:
    report = PARSER.parse_status(
        {"MessageSid": "SM1", "MessageStatus": twilio, "AccountSid": SID, "To": TO}
    )
    assert (report.provider_message_id, report.status, report.error_code) == ("SM1", ours, "")


def test_every_twilio_status_is_in_the_table() -> None:
    assert set(STATUSES) >= {"queued", "sending", "sent", "delivered", "undelivered", "failed"}


def test_a_status_with_an_error_code_and_the_legacy_names() -> None:
    report = PARSER.parse_status(
        {"SmsSid": "SM2", "SmsStatus": "undelivered", "ErrorCode": "30003"}
    )
    assert (report.provider_message_id, report.status, report.error_code) == (
        "SM2",
        DeliveryStatus.UNDELIVERED,
        "30003",
    )


@pytest.mark.parametrize(
    "params",
    [
        {"MessageStatus": "delivered"},
        {"MessageSid": "SM1"},
        {"MessageSid": "SM1", "MessageStatus": "teleported"},
    ],
)
def test_malformed_status_callbacks_are_refused(params: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        PARSER.parse_status(params)


def test_inbound() -> None:
    text = PARSER.parse_inbound(
        {
            "MessageSid": "SM3",
            "SmsMessageSid": "SM3",
            "AccountSid": SID,
            "From": TO,
            "To": FROM,
            "Body": "STOP",
            "NumMedia": "0",
        }
    )
    assert (text.provider_message_id, text.sender, text.to, text.body) == ("SM3", TO, FROM, "STOP")


@pytest.mark.parametrize(
    "params",
    [
        {"From": TO, "To": FROM, "Body": "hi"},
        {"MessageSid": "SM3", "To": FROM, "Body": "hi"},
        {"MessageSid": "SM3", "From": TO, "Body": "hi"},
        {"MessageSid": "SM3", "From": TO, "To": FROM},
    ],
)
def test_malformed_inbound_is_refused(params: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        PARSER.parse_inbound(params)


# --- configuration ---------------------------------------------------------------------


@pytest.fixture
def twilio_settings(settings: Any) -> Any:
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "sms": "twilio"}
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_API_BASE = "http://127.0.0.1:9"
    settings.CARE_PUBLIC_URL = "https://care.example.org"
    return settings


def test_the_registry_builds_twilio_from_settings(twilio_settings: Any) -> None:
    chosen = transport_for("sms")
    assert isinstance(chosen, TwilioTransport)
    assert chosen.idempotent is False
    assert chosen.status_callback == CALLBACK
    assert TOKEN not in repr(chosen)
    providers_check()


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("TWILIO_ACCOUNT_SID", "", "CARE_TWILIO_ACCOUNT_SID is not set"),
        ("TWILIO_ACCOUNT_SID", "AC123", "CARE_TWILIO_ACCOUNT_SID is malformed"),
        ("TWILIO_AUTH_TOKEN", "", "CARE_TWILIO_AUTH_TOKEN is not set"),
    ],
)
def test_missing_credentials_name_the_setting(
    twilio_settings: Any, setting: str, value: str, named: str
) -> None:
    setattr(twilio_settings, setting, value)
    for attempt in (lambda: transport_named("twilio"), providers_check):
        with pytest.raises(ConfigError) as error:
            attempt()
        assert named in error.value.message
        assert "\n" not in error.value.message


def test_twilio_cannot_carry_email(twilio_settings: Any) -> None:
    twilio_settings.CHANNEL_PROVIDERS = {**twilio_settings.CHANNEL_PROVIDERS, "email": "twilio"}
    with pytest.raises(ConfigError, match="CARE_EMAIL_PROVIDER is twilio"):
        transport_for("email")


def test_an_unknown_provider_is_named(twilio_settings: Any) -> None:
    with pytest.raises(ConfigError, match="'pigeon'"):
        transport_named("pigeon")
