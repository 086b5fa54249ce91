"""The phone simulator: replies typed there travel the real inbound path to the worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from carereach.channels.models import SandboxMessage
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record
from carereach.messaging.runtime import worker_tick
from carereach.security.roles import Role
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

PHONE = "+14155550101"
SENDER = "+18005550100"
URL = "/simulator/"


@pytest.fixture
def texted() -> object:
    """A consented HCP who got one text from the program's number."""
    program = factories.program("podcast", sender_numbers=[SENDER])
    person = messaging.consented(PHONE, program)
    messaging.queued(person, program, "c:1", "New episode: dosing in kids")
    worker_tick("w1")
    return program


def test_the_phone_shows_the_text_and_a_stop_reply_revokes_and_confirms(
    texted: object, signed_in: Callable[[Role], Client]
) -> None:
    client = signed_in(Role.ADMIN)
    page = client.get(URL, {"number": PHONE})
    assert page.status_code == 200
    assert "New episode: dosing in kids" in page.content.decode()
    assert PHONE in page.context["numbers"]
    assert page.context["reply_to"] == SENDER

    response = client.post(URL, {"number": PHONE, "to": SENDER, "body": "Stop."})
    assert response.status_code == 302
    worker_tick("w1")
    assert not consent_check(address=PHONE, channel="sms", program=texted).allowed  # type: ignore[arg-type]
    thread = client.get(URL, {"number": PHONE, "part": "thread"}, HTTP_HX_REQUEST="true")
    bodies = [text.body for text in thread.context["thread"]]
    assert bodies == ["New episode: dosing in kids", "Stop.", "Stopped Reply START to opt back in."]
    assert "<html" not in thread.content.decode()  # the htmx poll gets the thread alone


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"number": "12", "to": SENDER, "body": "hi"}, "Phone:"),
        ({"number": PHONE, "to": SENDER, "body": "  "}, "Message: type a reply."),
        ({"number": "+14155550111", "to": "", "body": "hi"}, "To: choose"),
        ({"number": PHONE, "to": SENDER, "body": "x" * 1601}, "at most 1600"),
    ],
)
def test_bad_replies_are_refused_next_to_the_field(
    texted: object,
    signed_in: Callable[[Role], Client],
    fields: dict[str, str],
    message: str,
) -> None:
    response = signed_in(Role.ADMIN).post(URL, fields)
    assert response.status_code == 400
    assert message in response.context["error"]
    assert 'aria-invalid="true"' in response.content.decode()


def test_roles_without_the_inbox_and_strangers_are_refused(
    signed_in: Callable[[Role], Client], client: Client
) -> None:
    assert signed_in(Role.ANALYST).get(URL).status_code == 403
    assert signed_in(Role.ANALYST).post(URL, {"number": PHONE, "body": "STOP"}).status_code == 403
    assert client.get(URL).status_code == 302


def test_there_is_no_simulator_with_a_real_carrier(
    signed_in: Callable[[Role], Client], settings: object
) -> None:
    settings.CHANNEL_PROVIDERS = {"sms": "twilio"}  # type: ignore[attr-defined]
    assert signed_in(Role.ADMIN).get(URL).status_code == 404


def test_a_mailbox_shows_the_mails_the_sandbox_delivered(
    signed_in: Callable[[Role], Client],
) -> None:
    program = factories.program("news", sender_emails=["news@example.com"])
    message = messaging.mailed(program, "dana@example.org", body="Episode 12 is out.")
    worker_tick("w1")
    client = signed_in(Role.ADMIN)
    assert "dana@example.org" in client.get(URL).context["numbers"]
    page = client.get(URL, {"number": "dana@example.org"})
    html = page.content.decode()
    assert page.status_code == 200
    assert message.subject in html
    assert "Episode 12 is out." in html
    assert 'name="body"' not in html  # no reply box for a mailbox


def test_a_call_shows_its_script_and_the_keypad_stops_calls(
    signed_in: Callable[[Role], Client],
) -> None:
    program = factories.program("reminders", sender_numbers=[SENDER])
    person = messaging.consented(PHONE, program)
    consent_record(
        contact=person,
        address=PHONE,
        channels=["voice"],
        programs=[program],
        action="grant",
        method="verbal",
        actor=None,
    )
    messaging.queued(person, program, "call:1", "Your visit is tomorrow at 9.", channel="voice")
    worker_tick("w1")
    client = signed_in(Role.ADMIN)
    page = client.get(URL, {"number": PHONE}).content.decode()
    assert "Call from +18005550100" in page
    assert "Your visit is tomorrow at 9." in page
    assert 'data-testid="keypad"' in page
    call = SandboxMessage.objects.get(channel="voice")

    wrong = client.post(URL, {"number": PHONE, "call": "SBMnope", "digits": "9"})
    assert wrong.status_code == 400
    response = client.post(URL, {"number": PHONE, "call": call.provider_message_id, "digits": "9"})
    assert response.status_code == 302
    worker_tick("w1")

    assert not consent_check(address=PHONE, channel="voice", program=program).allowed
    assert consent_check(address=PHONE, channel="sms", program=program).allowed
    page = client.get(URL, {"number": PHONE}).content.decode()
    assert "Pressed 9 on the call." in page
    assert 'data-testid="keypad"' not in page
