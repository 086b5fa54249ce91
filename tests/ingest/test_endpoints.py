"""The ingest endpoints through the real ASGI application (Starlette's TestClient, over httpx2).

Signed callbacks are stored and answered; anything unsigned, mis-signed, malformed or for an
unknown provider is refused with nothing stored; then a worker pass applies what was stored.
The endpoints write from a worker thread, so these tests commit (transaction=True).
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from carereach.asgi import application
from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.consent.selectors import consent_check
from carereach.ingest.app import MAX_BODY_BYTES, MAX_FIELDS, callback_url, form_pairs
from carereach.messaging.models import EventKind, IngestEvent, Message, MessageStatus
from carereach.messaging.services.ingest import ingest_process
from carereach.messaging.services.outbox import message_enqueue
from tests.channels.twilio_fake import SID, FakeTwilio
from tests.ingest.conftest import PHONE, SENDER

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "http://testserver"
STATUS = f"{BASE}/hooks/twilio/status"
INBOUND = f"{BASE}/hooks/twilio/inbound"


@pytest.fixture
def client() -> TestClient:
    return TestClient(application, base_url=BASE)


def status_form(
    sid: str = "SM" + "1" * 32, status: str = "delivered", **extra: str
) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": SID,
        "From": SENDER,
        "To": PHONE,
        "ApiVersion": "2010-04-01",
        **extra,
    }


def inbound_form(body: str = "STOP", sid: str = "SM" + "2" * 32) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": SID,
        "From": PHONE,
        "To": SENDER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "US",
        "ApiVersion": "2010-04-01",
    }


def post(
    client: TestClient,
    twilio: FakeTwilio,
    url: str,
    form: dict[str, str],
    *,
    signed_for: str | None = None,
    **headers: str,
) -> Any:
    signature = twilio.sign(signed_for or url, form)
    return client.post(url, data=form, headers={"X-Twilio-Signature": signature, **headers})


def test_a_signed_status_callback_is_stored_and_answered(
    client: TestClient, twilio: FakeTwilio
) -> None:
    response = post(client, twilio, STATUS, status_form(ErrorCode="30003", status="undelivered"))
    assert response.status_code == 200
    assert response.content == b""
    event = IngestEvent.objects.get()
    assert (event.provider, event.kind, event.provider_message_id) == (
        "twilio",
        "status",
        "SM" + "1" * 32,
    )
    assert json.loads(event.payload) == {"status": "undelivered", "error_code": "30003"}
    # Status callbacks are not deduplicated (states only move forward when applied).
    assert post(client, twilio, STATUS, status_form()).status_code == 200
    assert IngestEvent.objects.count() == 2


@pytest.mark.parametrize(
    "forge",
    [
        {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        {"X-Twilio-Signature": ""},
        {},
    ],
    ids=["wrong", "empty", "missing"],
)
def test_a_bad_signature_is_403_and_nothing_is_stored(
    client: TestClient, twilio: FakeTwilio, forge: dict[str, str]
) -> None:
    response = client.post(INBOUND, data=inbound_form(), headers=forge)
    assert response.status_code == 403
    assert not IngestEvent.objects.exists()


def test_a_signature_for_other_fields_or_another_url_is_403(
    client: TestClient, twilio: FakeTwilio
) -> None:
    form = inbound_form()
    signature = twilio.sign(INBOUND, form)
    tampered = {**form, "Body": "START"}
    response = client.post(INBOUND, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert post(client, twilio, INBOUND, form, signed_for=STATUS).status_code == 403
    assert not IngestEvent.objects.exists()


def test_a_signed_but_malformed_callback_is_400(client: TestClient, twilio: FakeTwilio) -> None:
    form = status_form(status="teleported")
    assert post(client, twilio, STATUS, form).status_code == 400
    no_body = {k: v for k, v in inbound_form().items() if k != "From"}
    assert post(client, twilio, INBOUND, no_body).status_code == 400
    assert not IngestEvent.objects.exists()


@pytest.mark.parametrize("provider", ["pigeon", "sandbox"])
def test_an_unknown_or_unsigned_provider_is_404(
    client: TestClient, twilio: FakeTwilio, provider: str
) -> None:
    url = f"{BASE}/hooks/{provider}/inbound"
    form = {"id": "x", "from": PHONE, "to": SENDER, "body": "STOP"}
    assert post(client, twilio, url, form).status_code == 404
    assert not IngestEvent.objects.exists()


def test_a_provider_without_credentials_is_503(
    client: TestClient, twilio: FakeTwilio, settings: Any
) -> None:
    settings.TWILIO_AUTH_TOKEN = ""
    assert post(client, twilio, STATUS, status_form()).status_code == 503
    assert not IngestEvent.objects.exists()


def test_not_a_form_or_too_large(client: TestClient, twilio: FakeTwilio) -> None:
    signature = twilio.sign(STATUS, {})
    response = client.post(
        STATUS,
        content=b'{"MessageSid": "SM1"}',
        headers={"X-Twilio-Signature": signature, "Content-Type": "application/json"},
    )
    assert response.status_code == 415
    huge = status_form(Padding="x" * MAX_BODY_BYTES)
    assert post(client, twilio, STATUS, huge).status_code == 413
    assert not IngestEvent.objects.exists()


def test_only_post_is_served(client: TestClient, twilio: FakeTwilio) -> None:
    assert client.get(STATUS).status_code == 405
    assert client.get(f"{BASE}/hooks/health").text == "ok"


def test_inbound_answers_empty_twiml_and_a_carrier_retry_is_stored_once(
    client: TestClient, twilio: FakeTwilio
) -> None:
    for _ in range(3):
        response = post(client, twilio, INBOUND, inbound_form("HELP"))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/xml")
        assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    event = IngestEvent.objects.get()
    assert json.loads(event.payload) == {"from": PHONE, "to": SENDER, "body": "HELP"}


def test_forwarded_headers_count_only_behind_a_trusted_proxy(
    client: TestClient, twilio: FakeTwilio, settings: Any
) -> None:
    public = "https://care.example.org/hooks/twilio/inbound"
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "care.example.org"}
    form = inbound_form()
    assert post(client, twilio, INBOUND, form, signed_for=public, **proxied).status_code == 403
    settings.TRUST_PROXY = True
    assert post(client, twilio, INBOUND, form, signed_for=public, **proxied).status_code == 200
    assert IngestEvent.objects.count() == 1


def test_stored_callbacks_are_applied_by_the_worker_pass(
    client: TestClient, twilio: FakeTwilio, person: Contact, program: Program
) -> None:
    sent = message_enqueue(
        key="campaign:1:contact",
        origin="campaign",
        channel="sms",
        address=PHONE,
        sender=SENDER,
        body="New episode out now",
        contact_id=person.pk,
        program_id=program.pk,
        reasons=[],
    )
    assert sent is not None
    sid = "SM" + "9" * 32
    Message.objects.filter(pk=sent.pk).update(
        status=MessageStatus.SENT,
        provider="twilio",
        provider_message_id=sid,
        sent_at=timezone.now(),
    )
    assert post(client, twilio, STATUS, status_form(sid, "delivered")).status_code == 200
    assert post(client, twilio, STATUS, status_form(sid, "sent")).status_code == 200  # late
    assert post(client, twilio, INBOUND, inbound_form("STOP")).status_code == 200
    assert consent_check(address=PHONE, channel="sms", program=program).allowed

    ingest_process()

    sent.refresh_from_db()
    assert sent.status == MessageStatus.DELIVERED  # the late "sent" did not move it back
    assert not consent_check(address=PHONE, channel="sms", program=program).allowed
    assert sent.events.filter(kind=EventKind.OPTED_OUT).count() == 1
    reply = Message.objects.exclude(pk=sent.pk).get()
    assert (reply.address, reply.sender, reply.status) == (PHONE, SENDER, MessageStatus.QUEUED)


def test_no_phi_in_the_logs(
    client: TestClient, twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "my chemo starts Tuesday"
    post(client, twilio, INBOUND, inbound_form(secret))
    client.post(INBOUND, data=inbound_form(secret), headers={"X-Twilio-Signature": "x"})
    post(client, twilio, INBOUND, {**inbound_form(secret), "MessageSid": ""})
    assert caplog.records  # the refusals were logged ...
    assert PHONE not in caplog.text  # ... without the number or the text
    assert secret not in caplog.text


@pytest.mark.parametrize(
    ("trust", "headers", "expected"),
    [
        (False, {"host": "in.example:8001"}, "http://in.example:8001/hooks/twilio/status?a=1"),
        (
            False,
            {
                "host": "in.example",
                "x-forwarded-proto": "https",
                "x-forwarded-host": "evil.example",
            },
            "http://in.example/hooks/twilio/status?a=1",
        ),
        (
            True,
            {"host": "in.example", "x-forwarded-proto": "https, http", "x-forwarded-host": "c.org"},
            "https://c.org/hooks/twilio/status?a=1",
        ),
        (
            True,
            {"host": "in.example", "x-forwarded-proto": "https", "x-forwarded-port": "8443"},
            "https://in.example:8443/hooks/twilio/status?a=1",
        ),
        (
            True,
            {"host": "c.org", "x-forwarded-proto": "https", "x-forwarded-port": "443"},
            "https://c.org/hooks/twilio/status?a=1",
        ),
        (True, {}, "http://10.0.0.5:8001/hooks/twilio/status?a=1"),
    ],
)
def test_callback_url(trust: bool, headers: dict[str, str], expected: str) -> None:
    from starlette.datastructures import Headers

    assert (
        callback_url(
            scheme="http",
            headers=Headers(headers),
            raw_path=b"/hooks/twilio/status",
            query_string=b"a=1",
            server=("10.0.0.5", 8001),
            trust_proxy=trust,
        )
        == expected
    )


@given(
    st.lists(
        st.tuples(st.text(max_size=12), st.text(max_size=20)),
        max_size=MAX_FIELDS - 1,
    ),
    st.sampled_from(["", "&", "&&"]),
)
def test_form_pairs_read_forms_as_parse_qsl_does(
    fields: list[tuple[str, str]], padding: str
) -> None:
    text = padding + urlencode(fields) + padding
    expected = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    assert form_pairs(text) == expected
    raw = "a=%zz&b+c=d%2&=e&f&g=h=i"  # malformed escapes and separators, as the stdlib keeps them
    assert form_pairs(raw) == parse_qsl(raw, keep_blank_values=True)
