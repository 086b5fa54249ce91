"""Rendering for many recipients at once gives each exactly what `content_render` gives them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.consent.services import consent_record
from carereach.content.batch import Target, content_render_many
from carereach.content.models import ContentVersion, TrackedLink
from carereach.content.rendering import Rendered, content_render
from carereach.errors import CarereachError
from tests.audience import factories as audience
from tests.content import factories

pytestmark = pytest.mark.django_db

SMS = (
    "Hi {{ last_name_with_title }} ({{ first_name }}), from {{ rep_name }}: episode 1 is out: "
    "{{ tracked_link }} Settings: {{ preference_link }}"
)


def _version(author: User, reviewer: User, program: Program, **fields: object) -> ContentVersion:
    item = factories.item(actor=author, program=program, **fields)  # type: ignore[arg-type]
    return factories.approve(factories.first_version(item), author=author, reviewer=reviewer)


def _grant(person: Contact, address: str, channel: str, program: Program) -> None:
    consent_record(
        contact=person, address=address, channels=[channel], programs=[program],
        action="grant", method="api", actor=None,
    )  # fmt: skip


def _same(batch: list[Rendered | CarereachError], one_by_one: list[object]) -> None:
    assert len(batch) == len(one_by_one)
    for mine, theirs in zip(batch, one_by_one, strict=True):
        if isinstance(theirs, CarereachError):
            assert isinstance(mine, type(theirs))
            assert (mine.code, mine.message) == (theirs.code, theirs.message)
        else:
            assert mine == theirs


def _one_by_one(version: ContentVersion, channel: str, targets: list[Target]) -> list[object]:
    results: list[object] = []
    for target in targets:
        try:
            results.append(
                content_render(
                    version=version,
                    contact=Contact.objects.get(pk=target.contact_id),
                    channel=channel,
                    language=target.language,
                    message_key=target.message_key,
                    address=target.address,
                )
            )
        except CarereachError as error:
            results.append(error)
    return results


def test_each_text_is_what_content_render_makes(
    author: User, reviewer: User, cardio: Program
) -> None:
    version = _version(
        author,
        reviewer,
        cardio,
        contact_kinds=["hcp", "patient"],
        bodies=[
            factories.sms(SMS),
            factories.sms("Hola {{ first_name }}: {{ tracked_link }}", "es"),
        ],
    )
    doctor = audience.contact(
        kind="hcp", first_name="Ana", last_name="Lee", credentials="MD", phone="+14155550123"
    )
    nurse = audience.contact(kind="hcp", first_name="Bo", last_name="Kim", phone="+14155550124")
    patient = audience.contact(
        kind="patient", first_name="Cy", last_name="Diaz", phone="+14155550125", language="es"
    )
    caregiver = audience.contact(kind="caregiver", first_name="Di", phone="+14155550126")
    for person, phone in ((doctor, "+14155550123"), (patient, "+14155550125")):
        _grant(person, phone, "sms", cardio)
    targets = [
        Target(doctor.pk, "m:1", "en", "+14155550123"),
        Target(nurse.pk, "m:2", "en", "+14155550124"),
        Target(patient.pk, "m:3", "es", "+14155550125"),
        Target(caregiver.pk, "m:4", "en", "+14155550126"),  # not in the content's audience
        Target(doctor.pk, "m:5", "es", "+14155550123"),  # asked in a language she does not read
    ]
    batch = content_render_many(version=version, channel="sms", targets=targets)
    assert TrackedLink.objects.count() == 3
    # Rendering again reuses each message's links, so the one-by-one texts are comparable.
    _same(batch, _one_by_one(version, "sms", targets))
    assert TrackedLink.objects.count() == 3
    first = batch[0]
    assert isinstance(first, Rendered)
    assert first.text.startswith("Heart Matters: Hi Dr. Lee (Ana)")
    assert "/p/" in first.text  # her own preference link
    second = batch[1]
    assert isinstance(second, Rendered)
    assert "Hi Bo Kim (Bo)" in second.text
    assert "/p/" not in second.text  # no consent record of hers: no preference link


def test_email_needs_the_addresss_consent_record_for_its_unsubscribe_link(
    author: User, reviewer: User, cardio: Program
) -> None:
    version = _version(
        author,
        reviewer,
        cardio,
        bodies=[factories.email("Dear {{ last_name_with_title }}, listen: {{ tracked_link }}")],
    )
    granted = audience.contact(kind="hcp", last_name="Lee", email="lee@example.org")
    _grant(granted, "lee@example.org", "email", cardio)
    unknown = audience.contact(kind="hcp", last_name="Kim", email="kim@example.org")
    targets = [
        Target(granted.pk, "e:1", "en", "lee@example.org"),
        Target(unknown.pk, "e:2", "en", "kim@example.org"),
    ]
    batch = content_render_many(version=version, channel="email", targets=targets)
    _same(batch, _one_by_one(version, "email", targets))
    assert "/u/" in batch[0].text  # type: ignore[union-attr]
