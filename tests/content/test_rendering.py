"""Rendering for sending: templates, required blocks, tracked links, segment limits, PHI guard."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.consent.services import consent_record
from carereach.content.blocks import Filled, Rules, add_blocks, missing_blocks
from carereach.content.errors import (
    ContentUnavailableError,
    NotEligibleError,
    PhiFoundError,
    RequiredBlockError,
    SegmentLimitError,
)
from carereach.content.models import ContentVersion, TrackedLink
from carereach.content.phi import phi_findings
from carereach.content.rendering import (
    TOKEN_LENGTH,
    content_preview,
    content_render,
    format_appointment,
    version_problems,
)
from carereach.content.services import policy_save, version_submit, version_withdraw
from carereach.errors import ValidationError
from tests.audience import factories as audience
from tests.content import factories

pytestmark = pytest.mark.django_db
ISI = "https://heartwell.example.com/isi"
RISKS = "Heartwell can cause serious bleeding."


@pytest.fixture
def doctor(cardio: Program) -> Contact:
    return audience.contact(
        kind="hcp",
        first_name="Ana",
        last_name="Lee",
        credentials="MD",
        specialties="207RC0000X",
        phone="+14155550123",
        email="ana.lee@example.org",
        time_zone="America/Los_Angeles",
    )


def _approved(
    author: User, reviewer: User, program: Program | None, **version: object
) -> ContentVersion:
    item = factories.item(actor=author, program=program, **version)  # type: ignore[arg-type]
    return factories.approve(factories.first_version(item), author=author, reviewer=reviewer)


def test_sms_render_fills_fields_adds_footer_and_tracks_links(
    author: User, reviewer: User, cardio: Program, doctor: Contact
) -> None:
    version = _approved(
        author,
        reviewer,
        cardio,
        bodies=[
            factories.sms(
                "Hi {{ last_name_with_title }}, {{ rep_name }} says: {{ tracked_link }} and https://example.org/a?b=1."
            )
        ],
    )
    rendered = content_render(
        version=version,
        contact=doctor,
        channel="sms",
        language="en",
        message_key="msg-1",
        context={"rep_name": "Sam Ortiz"},
    )
    assert rendered.text.startswith("Heart Matters: Hi Dr. Lee, Sam Ortiz says: ")
    assert rendered.text.endswith("\nReply STOP to opt out.")
    assert [link.url for link in rendered.links] == [
        "https://media.example.org/ep1.mp3",
        "https://example.org/a?b=1",
    ]
    for link in rendered.links:
        assert link.short_url in rendered.text
        assert re.fullmatch(
            rf"http://127\.0\.0\.1:8000/l/[A-Za-z0-9]{{{TOKEN_LENGTH}}}", link.short_url
        )
        assert "Lee" not in link.short_url
        assert "Ana" not in link.short_url
    assert "media.example.org" not in rendered.text
    assert f"{rendered.links[1].short_url}." in rendered.text  # the full stop stays outside
    assert rendered.sms is not None
    assert rendered.sms.encoding == "GSM-7"
    stored = TrackedLink.objects.filter(message_key="msg-1").order_by("position")
    assert [(link.position, link.contact_id, link.version_id) for link in stored] == [
        (0, doctor.pk, version.pk),
        (1, doctor.pk, version.pk),
    ]
    again = content_render(
        version=version, contact=doctor, channel="sms", language="en", message_key="msg-1",
        context={"rep_name": "Sam Ortiz"},
    )  # fmt: skip
    assert again.text == rendered.text  # the same message renders the same links
    assert TrackedLink.objects.filter(message_key="msg-1").count() == 2
    other = content_render(
        version=version, contact=doctor, channel="sms", language="en", message_key="msg-2"
    )
    assert other.links[0].token != rendered.links[0].token


@override_settings(CARE_SHORT_URL="https://crr.example")
def test_short_base_url_is_configurable(
    author: User, reviewer: User, cardio: Program, doctor: Contact
) -> None:
    version = _approved(author, reviewer, cardio)
    rendered = content_render(
        version=version, contact=doctor, channel="sms", language="en", message_key="m"
    )
    assert rendered.links[0].short_url.startswith("https://crr.example/l/")


def test_render_refuses_unusable_and_ineligible(
    author: User, reviewer: User, cardio: Program, doctor: Contact
) -> None:
    draft = factories.first_version(factories.item(actor=author, program=cardio))
    with pytest.raises(ContentUnavailableError) as raised:
        content_render(version=draft, contact=doctor, channel="sms", language="en", message_key="m")
    assert raised.value.reason == "content_unapproved"
    version = _approved(author, reviewer, cardio, code="ep2", contact_kinds=["patient"])
    with pytest.raises(NotEligibleError) as not_eligible:
        content_render(
            version=version, contact=doctor, channel="sms", language="en", message_key="m"
        )
    assert not_eligible.value.as_dict()["reason"] == "wrong_contact_kind"
    with pytest.raises(ValidationError, match="message key"):
        content_render(
            version=version, contact=doctor, channel="sms", language="en", message_key=""
        )
    live = _approved(author, reviewer, cardio, code="ep3")
    version_withdraw(version=live, actor=reviewer, reason="label change")
    live.refresh_from_db()
    with pytest.raises(ContentUnavailableError, match="withdrawn"):
        content_render(version=live, contact=doctor, channel="sms", language="en", message_key="m")


def test_email_gets_postal_address_and_unsubscribe(
    author: User, reviewer: User, cardio: Program, doctor: Contact
) -> None:
    version = _approved(
        author,
        reviewer,
        cardio,
        bodies=[
            factories.email(
                "Dear {{ last_name_with_title }},\nListen: {{ tracked_link }}",
                html="<p>Dear {{ last_name_with_title }}</p>",
            )
        ],
    )
    with pytest.raises(RequiredBlockError, match="unsubscribe"):
        content_render(
            version=version, contact=doctor, channel="email", language="en",
            message_key="e1", address="ana.lee@example.org",
        )  # fmt: skip
    consent_record(
        contact=doctor, address="ana.lee@example.org", channels=["email"], programs=[cardio],
        action="grant", method="api", actor=None,
    )  # fmt: skip
    rendered = content_render(
        version=version, contact=doctor, channel="email", language="en",
        message_key="e1", address="ana.lee@example.org",
    )  # fmt: skip
    assert rendered.subject == "News"
    assert factories.ADDRESS in rendered.text
    assert factories.ADDRESS in rendered.html
    assert "/u/" in rendered.text
    assert "Unsubscribe" in rendered.html
    assert [link.url for link in rendered.links] == ["https://media.example.org/ep1.mp3"]


def test_appointment_time_in_the_recipients_zone() -> None:
    at = datetime(2026, 3, 3, 22, 30, tzinfo=UTC)
    assert format_appointment(at, time_zone="America/Los_Angeles", language="en") == (
        "Tue, Mar 3 at 2:30 PM PST"
    )
    assert format_appointment(at, time_zone="America/New_York", language="es") == (
        "mar 3 de mar, 17:30 EST"
    )
    assert format_appointment(at, time_zone="Not/AZone", language="en").endswith("UTC")


def test_segment_limit_refused_at_approval_and_render(
    author: User, reviewer: User, cardio: Program, doctor: Contact
) -> None:
    policy_save(
        program=cardio, actor=None, sms_footer_required=True, sms_segment_limit=1,
        postal_address=factories.ADDRESS, phi_to_accepted_channels=False,
    )  # fmt: skip
    long = "Heart Matters: " + "x" * 150 + " Reply STOP to opt out."
    draft = factories.first_version(
        factories.item(actor=author, program=cardio, bodies=[factories.sms(long)])
    )
    with pytest.raises(SegmentLimitError, match=r"needs 2 segments .* allows 1"):
        version_submit(version=draft, actor=author)
    short = factories.first_version(
        factories.item(
            actor=author,
            code="short",
            program=cardio,
            bodies=[factories.sms("Hi {{ first_name }}" + "y" * 60)],
        )
    )
    version = factories.approve(short, author=author, reviewer=reviewer)
    doctor.hcp.first_name = "A" * 90
    doctor.hcp.save()
    with pytest.raises(SegmentLimitError):
        content_render(
            version=version, contact=doctor, channel="sms", language="en", message_key="m"
        )


def test_promotional_blocks(author: User, reviewer: User, cardio: Program, doctor: Contact) -> None:
    fair = {
        "promotional": True,
        "brand_name": "Heartwell",
        "generic_name": "cardiolol",
        "serious_risks": RISKS,
        "safety_info_url": ISI,
        "contact_kinds": ["hcp"],
    }
    bad = factories.first_version(
        factories.item(
            actor=author,
            program=cardio,
            bodies=[factories.sms("Heartwell lowers LDL fast.")],
            **fair,
        )
    )
    problems = version_problems(bad)
    assert any("generic name “cardiolol” beside it" in p.message for p in problems)
    good = _approved(
        author, reviewer, cardio, code="good",
        bodies=[factories.sms("Heartwell (cardiolol) lowers LDL.")], **fair,
    )  # fmt: skip
    rendered = content_render(
        version=good, contact=doctor, channel="sms", language="en", message_key="p"
    )
    assert RISKS in rendered.text
    assert "Safety info: http://127.0.0.1:8000/l/" in rendered.text
    assert [link.url for link in rendered.links] == [ISI]
    assert rendered.text.index("Reply STOP") > rendered.text.index(RISKS)


def test_blocks_pure() -> None:
    rules = Rules(channel="sms", language="es", program_name="Refills", sms_footer=True)
    filled = add_blocks(Filled(text="Su receta está lista."), rules)
    assert filled.text == "Refills: Su receta está lista.\nResponda STOP para cancelar."
    assert missing_blocks(filled, rules) == []
    kept = add_blocks(Filled(text="Refills: hi. Text STOP to end."), rules)
    assert kept.text == "Refills: hi. Text STOP to end."
    email = Rules(channel="email", language="en", program_name="X", unsubscribe_url="https://u/1")
    assert any(
        "postal address" in p for p in missing_blocks(add_blocks(Filled("hi", "s"), email), email)
    )
    promo = Rules(channel="voice", language="en", promotional=True)
    assert len(missing_blocks(Filled("hi"), promo)) == 3


def test_phi_guard_pure() -> None:
    found = phi_findings(
        "Hi {{ first_name }}, your A1c results (MRN 12345678, DOB 04/12/1980) are in. "
        "Call 18005550100. Take Heartwell.",
        terms=[("A1c", "test"), ("HIV", "diagnosis")],
        drugs=["Heartwell"],
    )
    assert [(f.word, f.category) for f in found] == [
        ("MRN", "record_number"),
        ("12345678", "record_number"),
        ("DOB", "date_of_birth"),
        ("04/12/1980", "date_of_birth"),
        ("A1c", "test"),
        ("Heartwell", "drug"),
    ]
    assert phi_findings("Your results are ready in the portal. Call 1-800-555-0100.") == []
    assert phi_findings("{{ first_name }} <b>HIVE</b>", terms=[("HIV", "diagnosis")]) == []


def test_phi_guard_blocks_approval_and_says_which_words(
    author: User, reviewer: User, cardio: Program
) -> None:
    version = factories.first_version(
        factories.item(
            actor=author, program=cardio, contact_kinds=["patient"],
            bodies=[factories.sms("Heart Matters: your HIV test results are in. Reply STOP.")],
        )
    )  # fmt: skip
    with pytest.raises(PhiFoundError) as raised:
        version_submit(version=version, actor=author)
    assert "“HIV” (diagnosis)" in raised.value.message
    assert "“HIV test” (test)" in raised.value.message
    assert "Heart Matters" in raised.value.message  # names the program to mark
    hcp_only = factories.first_version(
        factories.item(
            actor=author, code="hcp", program=cardio, contact_kinds=["hcp"],
            bodies=[factories.sms("Heart Matters: new HIV test guidance. Reply STOP to opt out.")],
        )
    )  # fmt: skip
    version_submit(version=hcp_only, actor=author)  # HCP-facing: no PHI guard


def test_preview_writes_nothing_and_counts_with_real_link_length(
    author: User, cardio: Program
) -> None:
    version = factories.first_version(factories.item(actor=author, program=cardio))
    rendered = content_preview(
        version=version, channel="sms", language="en", values={"first_name": "Ana"}
    )
    assert rendered.text.startswith(
        "Heart Matters: Hi Ana, new episode: http://127.0.0.1:8000/l/PREVIEW"
    )
    assert TrackedLink.objects.count() == 0
    assert rendered.message_key is None


def test_sandbox_holds_at_render(
    author: User, reviewer: User, cardio: Program, doctor: Contact
) -> None:
    """Values are plain strings: a name that looks like a template stays text."""
    doctor.hcp.first_name = "{{ 7*7 }}{% raw %}"
    doctor.hcp.save()
    version = _approved(author, reviewer, cardio, bodies=[factories.sms("Hi {{ first_name }}")])
    rendered = content_render(
        version=version, contact=doctor, channel="sms", language="en", message_key="s"
    )
    assert "Hi {{ 7*7 }}{% raw %}" in rendered.text


def test_validity_window_is_enforced_even_before_the_sweep(
    author: User, reviewer: User, cardio: Program, doctor: Contact
) -> None:
    now = timezone.now()
    version = factories.approve(
        factories.first_version(factories.item(actor=author, program=cardio)),
        author=author, reviewer=reviewer, valid_from=now - timedelta(days=1),
        valid_until=now + timedelta(hours=1),
    )  # fmt: skip
    with pytest.raises(ContentUnavailableError) as raised:
        content_render(
            version=version, contact=doctor, channel="sms", language="en", message_key="x",
            now=now + timedelta(hours=2),
        )  # fmt: skip
    assert raised.value.reason == "content_expired"
