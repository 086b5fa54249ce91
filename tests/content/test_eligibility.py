"""Eligibility: the per-contact check and the batch SQL condition agree, rule by rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.audience.services import patient_privacy_update, territory_create
from carereach.consent.models import Program
from carereach.content.eligibility import Reason, content_eligibility, content_eligible_q
from carereach.content.models import ContentVersion
from carereach.content.services import version_withdraw
from tests.audience import factories as audience
from tests.content import factories

pytestmark = pytest.mark.django_db
SMS = "Heart Matters: news {{ tracked_link }} Reply STOP to opt out."


@pytest.fixture
def people(cardio: Program) -> dict[str, Contact]:
    territory_create(code="W1", name="West", actor=None)
    territory_create(code="E1", name="East", actor=None)
    return {
        "pediatrician": audience.contact(
            kind="hcp", first_name="Ana", last_name="Lee", specialties="208000000X", territory="W1"
        ),
        "family": audience.contact(
            kind="hcp", first_name="Bo", last_name="Ng", specialties="207Q00000X", territory="E1"
        ),
        "geriatric": audience.contact(
            kind="hcp", first_name="Cy", last_name="Oh", specialties="207QG0300X"
        ),
        "cardiologist": audience.contact(
            kind="hcp", first_name="Di", last_name="Po", specialties="207RC0000X", territory="W1"
        ),
        "patient": audience.contact(kind="patient", first_name="Eva", last_name="Ruiz"),
        "spanish": audience.contact(
            kind="patient", first_name="Fe", last_name="Sol", language="es", territory="W1"
        ),
    }


def _approved(
    author: User, reviewer: User, program: Program, code: str = "item", **version: object
) -> ContentVersion:
    item = factories.item(
        actor=author,
        code=code,
        program=program,
        bodies=version.pop("bodies", [factories.sms(SMS)]),  # type: ignore[arg-type]
        **version,
    )
    return factories.approve(factories.first_version(item), author=author, reviewer=reviewer)


def _agree(
    version: ContentVersion, people: dict[str, Contact], channel: str | None = None
) -> set[str]:
    """Names the per-contact check admits; asserts the SQL condition admits the same."""
    admitted = {
        name
        for name, contact in people.items()
        if content_eligibility(version=version, contact=contact, channel=channel)
    }
    ids = set(
        Contact.objects.filter(content_eligible_q(version=version, channel=channel)).values_list(
            "pk", flat=True
        )
    )
    assert ids == {people[name].pk for name in admitted}
    return admitted


def test_pediatric_reaches_pediatrics_and_family_medicine_only(
    author: User, reviewer: User, cardio: Program, people: dict[str, Contact]
) -> None:
    version = _approved(author, reviewer, cardio, pediatric=True, contact_kinds=["hcp"])
    admitted = _agree(version, people)
    assert admitted == {"pediatrician", "family", "geriatric"}  # geriatric: family medicine
    check = content_eligibility(version=version, contact=people["cardiologist"])
    assert (check.eligible, check.reason) == (False, Reason.WRONG_SPECIALTY)


def test_pediatric_and_listed_specialties_intersect(
    author: User, reviewer: User, cardio: Program, people: dict[str, Contact]
) -> None:
    version = _approved(author, reviewer, cardio, pediatric=True, specialties=["208000000X"])
    assert _agree(version, people) == {"pediatrician", "patient"}


def test_kinds_languages_territories(
    author: User, reviewer: User, cardio: Program, people: dict[str, Contact]
) -> None:
    hcp_only = _approved(author, reviewer, cardio, code="a", contact_kinds=["hcp"])
    assert _agree(hcp_only, people) == {"pediatrician", "family", "geriatric", "cardiologist"}
    assert content_eligibility(version=hcp_only, contact=people["patient"]).reason == (
        Reason.WRONG_CONTACT_KIND
    )
    west = _approved(author, reviewer, cardio, code="b", territories=["W1"])
    assert _agree(west, people) == {"pediatrician", "cardiologist"}  # the Spanish one: no body
    assert content_eligibility(version=west, contact=people["family"]).reason == (
        Reason.WRONG_TERRITORY
    )
    both = _approved(
        author,
        reviewer,
        cardio,
        code="c",
        bodies=[
            factories.sms(SMS),
            factories.sms("Heart Matters: noticias. Responda STOP para cancelar.", "es"),
        ],
    )
    assert _agree(both, people) == set(people)
    assert _agree(both, people, channel="sms") == set(people)
    assert _agree(both, people, channel="email") == set()
    english = _approved(author, reviewer, cardio, code="d")
    spanish = content_eligibility(version=english, contact=people["spanish"])
    assert spanish.reason == Reason.WRONG_LANGUAGE
    assert "language" in spanish.message
    assert (
        content_eligibility(version=english, contact=people["patient"], language="es").reason
        == Reason.WRONG_LANGUAGE
    )
    assert content_eligibility(
        version=english, contact=people["patient"], channel="voice"
    ).reason == (Reason.NO_BODY)


def test_unusable_versions_reach_nobody(
    author: User, reviewer: User, cardio: Program, people: dict[str, Contact]
) -> None:
    draft = factories.first_version(
        factories.item(actor=author, program=cardio, bodies=[factories.sms(SMS)])
    )
    assert content_eligibility(version=draft, contact=people["patient"]).reason == (
        Reason.CONTENT_UNAPPROVED
    )
    assert _agree(draft, people) == set()
    now = timezone.now()
    later = factories.approve(
        factories.first_version(
            factories.item(actor=author, code="later", program=cardio, bodies=[factories.sms(SMS)])
        ),
        author=author,
        reviewer=reviewer,
        valid_from=now + timedelta(days=1),
        valid_until=now + timedelta(days=5),
    )
    assert content_eligibility(version=later, contact=people["patient"]).reason == (
        Reason.CONTENT_NOT_YET_VALID
    )
    assert (
        content_eligibility(
            version=later, contact=people["patient"], now=now + timedelta(days=6)
        ).reason
        == Reason.CONTENT_EXPIRED
    )
    assert _agree(later, people) == set()
    live = _approved(author, reviewer, cardio, code="live")
    version_withdraw(version=live, actor=reviewer, reason="gone")
    live.refresh_from_db()
    assert content_eligibility(version=live, contact=people["patient"]).reason == (
        Reason.CONTENT_WITHDRAWN
    )
    assert _agree(live, people) == set()


def test_phi_channels_need_the_patients_acceptance(
    author: User, reviewer: User, people: dict[str, Contact]
) -> None:
    program = factories.program("refills", name="Refill reminders", type="healthcare_exempt")
    from carereach.content.services import policy_save

    policy_save(
        program=program,
        actor=None,
        sms_footer_required=True,
        sms_segment_limit=2,
        postal_address="",
        phi_to_accepted_channels=True,
    )
    version = _approved(
        author,
        reviewer,
        program,
        bodies=[
            factories.sms("Refill reminders: your diabetes refill is due. Reply STOP to opt out.")
        ],
    )
    assert version.phi_channels == ["sms"]
    assert content_eligibility(
        version=version, contact=people["patient"], channel="sms"
    ).reason == (Reason.PHI_NOT_ACCEPTED)
    assert "patient" not in _agree(version, people, channel="sms")
    patient_privacy_update(
        patient=people["patient"],
        confidential_channel="",
        confidential_address="",
        phi_accepted_channels=["sms"],
        actor=None,
    )
    people["patient"].refresh_from_db()
    assert content_eligibility(version=version, contact=people["patient"], channel="sms")
    assert "patient" in _agree(version, people, channel="sms")
    assert "cardiologist" in _agree(version, people, channel="sms")  # HCPs are not patients
