"""Calls end to end: fan-out on voice → dispatch to a loopback Twilio (Calls API with TwiML) →
signed status and Gather callbacks through the real ASGI app → a worker applies them.

9 revokes the program's voice consent for the number; 1 reaches the reply handlers as a
"confirmed" answer. Sandbox calls take the same road from the phone simulator's keypad.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
from django.utils import timezone
from starlette.testclient import TestClient

from carereach.asgi import application
from carereach.audience.models import Contact
from carereach.channels.base import DeliveryStatus
from carereach.channels.models import SandboxMessage
from carereach.channels.types.twilio.voice import (
    CALL_STATUSES,
    TwilioVoiceTransport,
    call_twiml,
)
from carereach.consent.models import Program
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record
from carereach.errors import ValidationError
from carereach.messaging import replies
from carereach.messaging.models import EventKind, InboundMessage, IngestEvent, Message
from carereach.messaging.services.dispatch import dispatch_due
from carereach.messaging.services.fanout import Rendered, Trigger, fanout
from carereach.messaging.services.ingest import ingest_process, sandbox_keypress
from tests.audience import factories as audience
from tests.channels.twilio_fake import SID, TOKEN, FakeTwilio
from tests.consent import factories
from tests.ingest.conftest import SENDER

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "http://testserver"
STATUS = f"{BASE}/hooks/twilio_voice/status"
GATHER = f"{BASE}/hooks/twilio_voice/gather"
CALLEE = "+14155550161"
NIGHT_NY = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 03:00 in New York


@pytest.fixture
def voice(settings: Any, twilio: FakeTwilio) -> FakeTwilio:
    """CARE_VOICE_PROVIDER=twilio against the loopback stand-in; callbacks to testserver."""
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "voice": "twilio"}
    settings.CARE_PUBLIC_URL = BASE
    return twilio


@pytest.fixture
def client() -> TestClient:
    return TestClient(application, base_url=BASE)


@pytest.fixture
def reminders() -> Program:
    return factories.program("reminders", sender_numbers=[SENDER])


def _callee(program: Program, language: str = "es") -> Contact:
    person = audience.contact(
        kind="hcp",
        last_name="Ruiz",
        phone=CALLEE,
        language=language,
        time_zone="America/New_York",
    )
    consent_record(
        contact=person,
        address=CALLEE,
        channels=["voice"],
        programs=[program],
        action="grant",
        method="verbal",
        actor=None,
    )
    return person


def _call(program: Program, person: Contact, now: datetime | None = None) -> Message:
    fanout(
        trigger=Trigger(key="remind:1", origin="journey", program=program, channel="voice"),
        contacts=Contact.objects.filter(pk=person.pk),
        render=lambda c, k, lang: Rendered(body="Su cita es mañana a las 9 <am> & en punto."),
        now=now,
    )
    return Message.objects.get(contact=person)


def _gather_form(call_sid: str, digits: str) -> dict[str, str]:
    return {
        "AccountSid": SID,
        "CallSid": call_sid,
        "CallStatus": "in-progress",
        "Digits": digits,
        "Direction": "outbound-api",
        "From": SENDER,
        "To": CALLEE,
        "FinishedOnKey": "",
        "ApiVersion": "2010-04-01",
    }


def _post(client: TestClient, fake: FakeTwilio, url: str, form: dict[str, str]) -> Any:
    return client.post(url, data=form, headers={"X-Twilio-Signature": fake.sign(url, form)})


def test_a_call_speaks_the_message_and_the_menu_in_the_contacts_language(
    voice: FakeTwilio, reminders: Program
) -> None:
    person = _callee(reminders)
    message = _call(reminders, person)
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())  # whatever the clock

    dispatch_due(worker="w1")

    [call] = voice.calls
    assert (call["To"], call["From"]) == (CALLEE, SENDER)
    assert call["StatusCallback"] == STATUS
    root = ElementTree.fromstring(call["Twiml"])
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("numDigits") == "1"
    action = gather.get("action") or ""
    assert action.startswith(GATHER)
    assert parse_qs(urlsplit(action).query) == {"lang": ["es"]}
    says = [(say.get("language"), say.text) for say in gather.iter("Say")]
    assert says[0] == ("es-US", "Su cita es mañana a las 9 <am> & en punto.")
    assert "Oprima 9" in str(says[1][1])
    message.refresh_from_db()
    assert (message.status, message.provider) == ("sent", "twilio_voice")
    assert message.provider_message_id.startswith("CA")


def test_status_and_key_9_through_the_hooks_stop_calls_from_the_program(
    client: TestClient, voice: FakeTwilio, reminders: Program
) -> None:
    person = _callee(reminders)
    message = _call(reminders, person)
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    dispatch_due(worker="w1")
    message.refresh_from_db()
    sid = message.provider_message_id

    done = {"CallSid": sid, "CallStatus": "completed", "AccountSid": SID, "CallDuration": "31"}
    assert _post(client, voice, STATUS, done).status_code == 200
    press = _gather_form(sid, "9")
    answer = _post(client, voice, f"{GATHER}?lang=es", press)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    spoken = ElementTree.fromstring(answer.text)
    assert "No recibirá más llamadas" in (spoken.findtext("Say") or "")
    assert spoken.find("Hangup") is not None
    # Twilio retries the same Gather: stored once.
    assert _post(client, voice, f"{GATHER}?lang=es", press).status_code == 200
    assert IngestEvent.objects.filter(kind="inbound").count() == 1

    ingest_process()

    message.refresh_from_db()
    assert message.status == DeliveryStatus.DELIVERED
    assert (
        consent_check(address=CALLEE, channel="voice", program=reminders).reason
        == "consent_revoked"
    )
    kinds = set(message.events.values_list("kind", flat=True))
    assert {EventKind.REPLIED, EventKind.OPTED_OUT} <= kinds
    inbound = InboundMessage.objects.get()
    assert (inbound.body, inbound.category, inbound.in_reply_to_id) == ("9", "opt_out", message.pk)
    # The next call to this number for the program is skipped for consent.
    again = fanout(
        trigger=Trigger(key="remind:2", origin="journey", program=reminders, channel="voice"),
        contacts=Contact.objects.filter(pk=person.pk),
        render=lambda c, k, lang: Rendered(body="Otra vez"),
    )
    assert again.skip_reasons == {"consent_revoked": 1}


@pytest.fixture
def confirmations() -> Iterator[list[replies.InboundReply]]:
    heard: list[replies.InboundReply] = []

    def handler(reply: replies.InboundReply) -> str | None:
        if reply.channel == "voice" and reply.answer == "confirmed":
            heard.append(reply)
            return "appointment"
        return None

    replies.reply_handler_register("test-voice-confirm", handler)
    yield heard
    replies._HANDLERS[:] = [h for h in replies._HANDLERS if h[0] != "test-voice-confirm"]


def test_key_1_is_a_confirmed_answer_for_the_reply_handlers(
    client: TestClient,
    voice: FakeTwilio,
    reminders: Program,
    confirmations: list[replies.InboundReply],
) -> None:
    person = _callee(reminders, language="en")
    message = _call(reminders, person)
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    dispatch_due(worker="w1")
    message.refresh_from_db()

    answer = _post(
        client, voice, f"{GATHER}?lang=en", _gather_form(message.provider_message_id, "1")
    )
    assert "answer is recorded" in (ElementTree.fromstring(answer.text).findtext("Say") or "")
    ingest_process()

    [heard] = confirmations
    assert (heard.contact_id, heard.in_reply_to_id, heard.body) == (person.pk, message.pk, "1")
    assert InboundMessage.objects.get().handled_by == "appointment"
    assert consent_check(address=CALLEE, channel="voice", program=reminders).allowed


def test_unsigned_or_malformed_key_presses_are_refused(
    client: TestClient, voice: FakeTwilio
) -> None:
    form = _gather_form("CA" + "1" * 32, "9")
    assert client.post(GATHER, data=form).status_code == 403
    assert client.post(GATHER, data=form, headers={"X-Twilio-Signature": "eA=="}).status_code == 403
    no_digits = {**form, "Digits": ""}
    assert _post(client, voice, GATHER, no_digits).status_code == 400
    assert client.post(f"{BASE}/hooks/sandbox/gather", data=form).status_code == 404
    assert not IngestEvent.objects.exists()


def test_calls_wait_for_the_day_in_the_callees_zone(reminders: Program) -> None:
    person = _callee(reminders)
    message = _call(reminders, person, now=NIGHT_NY)
    assert (message.status, message.reasons[0]["code"]) == ("held", "quiet_hours")


def test_sandbox_calls_are_recorded_and_the_keypad_answers(reminders: Program) -> None:
    person = _callee(reminders)
    message = _call(reminders, person)
    Message.objects.filter(pk=message.pk).update(due_at=timezone.now())
    dispatch_due(worker="w1")
    message.refresh_from_db()
    assert (message.provider, message.status) == ("sandbox", "delivered")
    call = SandboxMessage.objects.get(channel="voice", direction="out")
    assert call.to == CALLEE

    sandbox_keypress(call_id=call.provider_message_id, digits="9")
    sandbox_keypress(call_id=call.provider_message_id, digits="9")  # pressed twice: one answer
    ingest_process()

    assert (
        consent_check(address=CALLEE, channel="voice", program=reminders).reason
        == "consent_revoked"
    )
    assert InboundMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("call_status", "expected"),
    [
        ("queued", ("queued", "")),
        ("ringing", ("queued", "")),
        ("in-progress", ("sent", "")),
        ("completed", ("delivered", "")),
        ("busy", ("undelivered", "busy")),
        ("no-answer", ("undelivered", "no-answer")),
        ("failed", ("failed", "call_failed")),
        ("canceled", ("failed", "canceled")),
    ],
)
def test_call_statuses_map_to_ours(call_status: str, expected: tuple[str, str]) -> None:
    transport = TwilioVoiceTransport(account_sid=SID, auth_token=TOKEN)
    report = transport.parse_status({"CallSid": "CA1", "CallStatus": call_status})
    assert (report.status, report.error_code) == expected
    assert call_status in CALL_STATUSES


def test_a_status_without_a_call_sid_or_an_unknown_status_is_refused() -> None:
    transport = TwilioVoiceTransport(account_sid=SID, auth_token=TOKEN)
    with pytest.raises(ValidationError):
        transport.parse_status({"CallStatus": "completed"})
    with pytest.raises(ValidationError):
        transport.parse_status({"CallSid": "CA1", "CallStatus": "teleported"})


def test_the_script_escapes_the_message_and_falls_back_to_english() -> None:
    twiml = call_twiml(body="A & B <c>", language="xx", gather_url="https://x.example/g")
    root = ElementTree.fromstring(twiml)
    assert [say.get("language") for say in root.iter("Say")] == ["en-US", "en-US", "en-US"]
    assert next(root.iter("Say")).text == "A & B <c>"
    assert json.dumps(twiml)  # plain text, one document
