"""Plan → decide → render → outbox for a recipient set: every send and every skip explained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from carereach.audience.models import Contact, Phone
from carereach.audience.services import patient_privacy_update
from carereach.consent.models import Program
from carereach.consent.services import consent_record
from carereach.messaging.models import EventKind, Lane, Message, MessageStatus
from carereach.messaging.services.dispatch import dispatch_due
from carereach.messaging.services.fanout import Rendered, Trigger, fanout, fanout_preview
from carereach.messaging.services.pacing import sender_kind
from tests.audience import factories as audience
from tests.consent import factories
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

# Monday 2026-11-23 17:00 UTC: noon in New York, 09:00 in Los Angeles, 07:00 in Honolulu.
NOON_NY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def hello(contact: Contact, key: str, language: str) -> Rendered:
    return Rendered(body=f"Hola {contact.pk}" if language == "es" else f"Hello {contact.pk}")


@pytest.fixture
def program() -> Program:
    return factories.program("podcast", sender_numbers=["+14155550100"])


def _trigger(program: Program, **fields: object) -> Trigger:
    values: dict[str, object] = {
        "key": "campaign:1",
        "origin": "campaign",
        "program": program,
        "channel": "sms",
    } | fields
    return Trigger(**values)  # type: ignore[arg-type]


def _person(phone: str, program: Program | None, **fields: str) -> Contact:
    if program is not None:
        return messaging.consented(phone, program, last_name="Doe", **fields)
    return audience.contact(kind="hcp", last_name="Doe", phone=phone, **fields)


def _status(person: Contact) -> tuple[str, str]:
    message = Message.objects.get(contact=person)
    return message.status, message.reasons[0]["code"]


def test_each_recipient_is_queued_held_or_skipped_with_a_reason(program: Program) -> None:
    ny = _person("+14155550101", program, time_zone="America/New_York")
    spanish = _person("+14155550102", program, time_zone="America/Chicago", language="es")
    hawaii = _person("+14155550103", program, time_zone="Pacific/Honolulu")
    stranger = _person("+14155550104", None, time_zone="America/New_York")
    revoked = _person("+14155550105", program, time_zone="America/New_York")
    consent_record(
        contact=revoked,
        address="+14155550105",
        channels=["sms"],
        programs=[program],
        action="revoke",
        method="call_center",
        actor=None,
        reason="asked",
    )
    landline = _person("+14155550106", program, time_zone="America/New_York")
    Phone.objects.filter(contact=landline).update(line_type="landline")
    nobody = audience.contact(kind="hcp", last_name="Email-only", email="x@example.org")

    report = fanout(
        trigger=_trigger(program),
        contacts=Contact.objects.all(),
        render=hello,
        now=NOON_NY,
    )
    assert (report.planned, report.queued, report.held, report.skipped) == (7, 2, 1, 4)
    assert report.skip_reasons == {
        "no_consent": 1,
        "consent_revoked": 1,
        "landline": 1,
        "no_address": 1,
    }
    assert _status(ny) == ("queued", "allowed")
    assert _status(spanish) == ("queued", "allowed")
    assert Message.objects.get(contact=spanish).body == f"Hola {spanish.pk}"
    assert _status(hawaii) == ("held", "quiet_hours")
    assert Message.objects.get(contact=hawaii).due_at == datetime(2026, 11, 23, 18, tzinfo=UTC)
    assert _status(stranger) == ("skipped", "no_consent")
    assert _status(revoked) == ("skipped", "consent_revoked")
    assert _status(landline) == ("skipped", "landline")
    assert _status(nobody) == ("skipped", "no_address")
    assert Message.objects.get(contact=stranger).body == ""  # nothing rendered for a skip
    assert Message.objects.filter(events__kind=EventKind.SKIPPED).count() == 4


def test_running_a_trigger_again_creates_nothing_twice(program: Program) -> None:
    for n in range(5):
        _person(f"+1415555011{n}", program, time_zone="America/New_York")
    everyone = Contact.objects.all()
    first = fanout(trigger=_trigger(program), contacts=everyone, render=hello, now=NOON_NY)
    # The same people through an overlapping segment, and the whole trigger again.
    overlap = everyone.filter(pk__in=everyone.values("pk")[:3])
    again = fanout(trigger=_trigger(program), contacts=overlap | everyone, render=hello)
    assert first.queued == 5
    assert (again.planned, again.existing) == (0, 5)
    assert Message.objects.count() == 5


def test_a_crash_half_way_then_a_rerun_completes_without_duplicates(program: Program) -> None:
    people = [_person(f"+1415555012{n}", program, time_zone="America/New_York") for n in range(6)]
    calls = {"n": 0}

    def flaky(contact: Contact, key: str, language: str) -> Rendered:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("renderer crashed")
        return hello(contact, key, language)

    with pytest.raises(RuntimeError):
        fanout(
            trigger=_trigger(program),
            contacts=Contact.objects.all(),
            render=flaky,
            now=NOON_NY,
            batch_size=2,
        )
    assert Message.objects.count() == 2  # the first batch committed, the second rolled back
    report = fanout(
        trigger=_trigger(program), contacts=Contact.objects.all(), render=hello, now=NOON_NY
    )
    assert (report.existing, report.queued) == (2, 4)
    assert sorted(Message.objects.values_list("contact_id", flat=True)) == [p.pk for p in people]


def test_confidential_communication_requests_hold(program: Program) -> None:
    patient = audience.contact(
        kind="patient", first_name="Ana", phone="+14155550131", email="ana@example.org"
    )
    messaging.grant(patient, "+14155550131", program)
    patient_privacy_update(
        patient=patient,
        confidential_channel="email",
        confidential_address="ana@example.org",
        phi_accepted_channels=[],
        actor=None,
    )
    fanout(trigger=_trigger(program), contacts=Contact.objects.all(), render=hello, now=NOON_NY)
    assert _status(patient) == ("skipped", "confidential")


def test_marketing_caps_count_across_programs_and_clinical_bypasses_them() -> None:
    marketing = factories.program("brand", type="marketing", sender_numbers=["12345"])
    other = factories.program("brand2", type="marketing", sender_numbers=["12345"])
    person = _person("+14155550141", marketing, time_zone="America/New_York")
    messaging.grant(person, "+14155550141", other)
    for n in range(3):
        messaging.queued(person, other, f"earlier:{n}", "earlier")
    fanout(trigger=_trigger(marketing), contacts=Contact.objects.all(), render=hello, now=NOON_NY)
    capped = Message.objects.get(key__startswith="campaign:1")
    assert (capped.status, capped.reasons[0]["code"]) == ("skipped", "frequency_cap")
    clinical = _trigger(marketing, key="reminder:1", lane=Lane.CLINICAL)
    fanout(trigger=clinical, contacts=Contact.objects.all(), render=hello, now=NOON_NY)
    assert Message.objects.get(key__startswith="reminder:1").status == MessageStatus.QUEUED


def test_expired_content_and_ineligible_contacts_are_skipped(program: Program) -> None:
    peds = _person("+14155550151", program, time_zone="America/New_York")
    fanout(
        trigger=_trigger(program, content_problem="Version 2 was withdrawn."),
        contacts=Contact.objects.all(),
        render=hello,
        now=NOON_NY,
    )
    assert _status(peds) == ("skipped", "content_unavailable")
    fanout(
        trigger=_trigger(program, key="campaign:2", eligible=lambda reach: reach.kind == "patient"),
        contacts=Contact.objects.all(),
        render=hello,
        now=NOON_NY,
    )
    assert Message.objects.get(key__startswith="campaign:2").reasons[0]["code"] == "ineligible"


def test_a_hold_that_would_outlive_the_message_is_skipped(program: Program) -> None:
    hawaii = _person("+14155550161", program, time_zone="Pacific/Honolulu")
    fanout(
        trigger=_trigger(program, expires_at=NOON_NY + timedelta(minutes=30)),
        contacts=Contact.objects.all(),
        render=hello,
        now=NOON_NY,
    )
    assert _status(hawaii) == ("skipped", "expired")


def test_queued_messages_are_then_dispatched(program: Program) -> None:
    person = _person("+14155550171", program, time_zone="America/New_York")
    # Decided at a past noon in New York: due at once, whatever the real clock says.
    past_noon = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    fanout(trigger=_trigger(program), contacts=Contact.objects.all(), render=hello, now=past_noon)
    assert dispatch_due(worker="w1").sent == 1
    assert Message.objects.get(contact=person).status == MessageStatus.DELIVERED


@pytest.mark.parametrize(
    ("sender", "kind"),
    [("12345", "short_code"), ("+18005550100", "toll_free"), ("+14155550100", "long_code")],
)
def test_sender_kinds(sender: str, kind: str) -> None:
    assert sender_kind(sender) == kind


def test_a_preview_counts_what_would_happen_and_writes_nothing(program: Program) -> None:
    _person("+14155550181", program, time_zone="America/New_York")
    _person("+14155550182", program, time_zone="Pacific/Honolulu")
    stranger = _person("+14155550183", None)
    preview = fanout_preview(trigger=_trigger(program), contacts=Contact.objects.all(), now=NOON_NY)
    assert (preview.total, preview.send, preview.hold, preview.skip) == (3, 1, 1, 1)
    assert preview.by_reason == {"allowed": 1, "quiet_hours": 1, "no_consent": 1}
    assert preview.samples["no_consent"] == [stranger.pk]
    assert "No consent" in preview.texts["no_consent"]
    assert Message.objects.count() == 0


def test_a_cascade_uses_the_first_channel_each_person_can_get(program: Program) -> None:
    texter = _person("+14155550191", program, time_zone="America/New_York")
    mailer = audience.contact(
        kind="hcp", last_name="Mail", phone="+14155550192", email="mail@example.org"
    )
    consent_record(
        contact=mailer,
        address="mail@example.org",
        channels=["email"],
        programs=[program],
        action="grant",
        method="verbal",
        actor=None,
    )
    nobody = _person("+14155550193", None)
    trigger = _trigger(program, fallback=("email",))
    renderers = {"email": lambda c, k, lang: Rendered(body="By mail", subject="News")}
    report = fanout(
        trigger=trigger,
        contacts=Contact.objects.all(),
        render=hello,
        render_by_channel=renderers,
        now=NOON_NY,
    )
    assert (report.queued, report.skipped) == (2, 1)
    by_text = Message.objects.get(contact=texter)
    by_mail = Message.objects.get(contact=mailer)
    assert (by_text.channel, by_mail.channel) == ("sms", "email")
    assert (by_mail.body, by_mail.subject, by_mail.address) == (
        "By mail",
        "News",
        "mail@example.org",
    )
    assert by_mail.reasons[1] == {
        "code": "fallback",
        "text": "Not by sms: No consent for this address, channel and program.",
    }
    assert Message.objects.get(contact=nobody).reasons[0]["code"] == "no_consent"
    # Consent to texts arrives later: a re-run sends nothing new on the other channel.
    messaging.grant(mailer, "+14155550192", program)
    again = fanout(trigger=trigger, contacts=Contact.objects.all(), render=hello, now=NOON_NY)
    assert (again.existing, again.planned) == (3, 0)
