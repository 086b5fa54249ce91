"""Consented contacts and queued messages for outbox tests."""

from __future__ import annotations

from typing import Any

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.consent.services import consent_record
from carereach.messaging.models import Message
from carereach.messaging.services.outbox import Reason, message_enqueue
from tests.audience import factories as audience

SENDER = "+18005550100"
PHONE = "+14155550101"  # the consented HCP of the `texting` fixture


def grant(person: Contact, phone: str, program: Program, channel: str = "sms") -> None:
    """Written consent in person (good for marketing programs too) to texts on this phone (or
    to another channel at another address)."""
    consent_record(
        contact=person,
        address=phone,
        channels=[channel],
        programs=[program],
        action="grant",
        method="in_person",
        evidence={"typed_name": "Dana Doe"},
        actor=None,
    )


def consented(phone: str, program: Program, last_name: str = "Ruiz", **fields: str) -> Contact:
    """An HCP with this phone who consented to texts from this program."""
    person = audience.contact(kind="hcp", last_name=last_name, phone=phone, **fields)
    grant(person, phone, program)
    return person


def queued(person: Contact, program: Program, key: str, body: str, **fields: Any) -> Message:
    """A campaign text to the person's phone, queued now unless `fields` say otherwise."""
    phone = person.phones.values_list("e164", flat=True).first()
    assert phone is not None
    values: dict[str, Any] = {
        "origin": "campaign",
        "channel": "sms",
        "address": phone,
        "sender": SENDER,
        "reasons": [Reason("consented", f"Consented to {program.name}.")],
    } | fields
    message = message_enqueue(
        key=key, body=body, contact_id=person.pk, program_id=program.pk, **values
    )
    assert message is not None
    return message


def mailed(
    program: Program, to: str, key: str = "mail:1", body: str = "Episode 12 is out."
) -> Message:
    """An HCP with this e-mail address, consented to the program's e-mail, and one mail queued."""
    person = audience.contact(kind="hcp", last_name="Doe", email=to)
    consent_record(
        contact=person,
        address=to,
        channels=["email"],
        programs=[program],
        action="grant",
        method="verbal",
        actor=None,
    )
    message = message_enqueue(
        key=key,
        origin="campaign",
        channel="email",
        address=to,
        sender="news@example.com",
        subject="New episode",
        body=body,
        contact_id=person.pk,
        program_id=program.pk,
        reasons=[Reason("consented", "Consented.")],
    )
    assert message is not None
    return message
