"""Twilio configured as the SMS provider, a consented person, and a signer for callbacks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.consent.services import consent_record
from carereach.ingest.app import writers_close
from tests.audience import factories as audience
from tests.channels.twilio_fake import SID, TOKEN, FakeTwilio, fake_twilio
from tests.consent import factories

PHONE = "+14155550101"
SENDER = "+18005550100"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with fake_twilio() as server:
        yield server


@pytest.fixture
def twilio(settings: Any, fake: FakeTwilio) -> FakeTwilio:
    """CARE_SMS_PROVIDER=twilio, pointed at the loopback stand-in."""
    settings.CHANNEL_PROVIDERS = {**settings.CHANNEL_PROVIDERS, "sms": "twilio"}
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_API_BASE = fake.url
    settings.TWILIO_TIMEOUT_SECONDS = 2
    settings.TRUST_PROXY = False
    return fake


@pytest.fixture
def person() -> Contact:
    return audience.contact(kind="hcp", last_name="Ruiz", phone=PHONE)


@pytest.fixture
def program(person: Contact) -> Program:
    found = factories.program("podcast", sender_numbers=[SENDER])
    consent_record(
        contact=person,
        address=PHONE,
        channels=["sms"],
        programs=[found],
        action="grant",
        method="verbal",
        actor=None,
    )
    return found


@pytest.fixture(autouse=True)
def _writers_stopped_after() -> Iterator[None]:
    """Each test starts with fresh writers (settings and database as it set them) and leaves no
    thread holding a connection to a database the next test empties."""
    yield
    writers_close()
