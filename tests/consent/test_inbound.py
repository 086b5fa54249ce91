"""Inbound texts and consent: STOP scope, exactly one confirmation, START, YES, HELP, keywords."""

from __future__ import annotations

import pytest

from carereach.audience.models import Contact
from carereach.consent.inbound import inbound_keyword_handle
from carereach.consent.models import ConsentEntry, Program
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record
from tests.audience import factories as audience
from tests.consent import factories

pytestmark = pytest.mark.django_db

PHONE = "+14155550101"
SENDER = "+18005550100"
OTHER_SENDER = "+18005550199"
_ids = iter(range(1, 10_000))


def _text(body: str, sender: str = SENDER) -> object:
    return inbound_keyword_handle(
        sender=sender, from_number=PHONE, text=body, inbound_message_id=f"SM{next(_ids)}"
    )


@pytest.fixture
def person() -> Contact:
    return audience.contact(kind="hcp", last_name="Ruiz", phone=PHONE)


@pytest.fixture
def programs(person: Contact) -> dict[str, Program]:
    found = {
        "podcast": factories.program("podcast"),
        "dosing": factories.program("dosing"),
        "events": factories.program("events", sender_numbers=[OTHER_SENDER]),
    }
    for program in found.values():
        consent_record(
            contact=person,
            address=PHONE,
            channels=["sms", "voice"],
            programs=[program],
            action="grant",
            method="verbal",
            actor=None,
        )
    return found


def allowed(program: Program, channel: str = "sms") -> bool:
    return consent_check(address=PHONE, channel=channel, program=program).allowed


@pytest.mark.parametrize("body", ["STOP", "stop.", " Stop! ", "unsubscribe", "BASTA", "OPT OUT"])
def test_stop_revokes_every_program_on_that_sender_for_texts_and_calls(
    programs: dict[str, Program], body: str
) -> None:
    outcome = _text(body)
    assert outcome.category == "opt_out"
    assert not allowed(programs["podcast"])
    assert not allowed(programs["dosing"])
    assert not allowed(programs["podcast"], "voice")
    assert allowed(programs["events"])  # another sender number: untouched
    assert "START" in outcome.reply


def test_stopall_revokes_every_program_on_every_number(programs: dict[str, Program]) -> None:
    _text("STOPALL")
    assert not any(allowed(p) for p in programs.values())


def test_a_burst_of_five_stops_gets_one_confirmation(programs: dict[str, Program]) -> None:
    replies = [_text("STOP").reply for _ in range(5)]
    assert replies[0] is not None
    assert replies[1:] == [None] * 4
    assert ConsentEntry.objects.filter(method="reply").count() == 5 * 2 * 2


def test_unclear_text_is_an_opt_out_until_reviewed(programs: dict[str, Program]) -> None:
    outcome = _text("stop it")
    assert outcome.category == "unclear"
    assert outcome.needs_review
    assert not allowed(programs["podcast"])


def test_ordinary_reply_changes_nothing(programs: dict[str, Program]) -> None:
    outcome = _text("C, thanks! see you Tuesday")
    assert outcome.category is None
    assert outcome.reply is None
    assert allowed(programs["podcast"])


def test_start_restores_what_stop_revoked(programs: dict[str, Program]) -> None:
    _text("STOP")
    outcome = _text("START")
    assert outcome.category == "opt_in"
    assert allowed(programs["podcast"])
    assert allowed(programs["dosing"])
    assert outcome.reply
    # Another STOP after START confirms again: it is a new opt-out.
    assert _text("STOP").reply is not None


def test_help_reply_carries_what_ctia_asks_for(programs: dict[str, Program]) -> None:
    outcome = _text("HELP")
    assert outcome.category == "help"
    assert "Msg & data rates may apply" in outcome.reply
    assert allowed(programs["podcast"])


def test_keyword_starts_double_opt_in_and_yes_completes_it(person: Contact) -> None:
    podcast = factories.program("podcast", double_opt_in=True)
    started = _text("podcast")
    assert started.category == "program_keyword"
    assert "reply YES" in started.reply
    assert consent_check(address=PHONE, channel="sms", program=podcast).reason == (
        "consent_pending"
    )
    confirmed = _text("YES")
    assert confirmed.category == "opt_in"
    assert allowed(podcast)
    entry = ConsentEntry.objects.filter(action="grant").get()
    assert entry.evidence["inbound_message_id"].startswith("SM")


def test_start_alone_creates_no_consent(person: Contact) -> None:
    podcast = factories.program("podcast")
    assert _text("START").reply is None
    assert not allowed(podcast)


def test_unknown_number_writes_nothing() -> None:
    factories.program("podcast")
    outcome = inbound_keyword_handle(
        sender=SENDER, from_number="+14155550999", text="STOP", inbound_message_id="SMx"
    )
    assert outcome.category == "opt_out"
    assert outcome.entries == []


def test_carrier_unsubscribed_error_is_written_back(programs: dict[str, Program]) -> None:
    from carereach.consent.inbound import carrier_opt_out_record

    entries = carrier_opt_out_record(
        sender=SENDER, number=PHONE, error_code="21610", carrier_message_id="SMabc"
    )
    assert {e.method for e in entries} == {"carrier"}
    assert entries[0].evidence == {"carrier_error": "21610", "carrier_message_id": "SMabc"}
    assert not allowed(programs["podcast"])
    assert allowed(programs["events"])
