"""Next best content for HCPs: what similar HCPs engaged with, never what may not be sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.content.models import ContentItem, ContentVersion
from carereach.content.rendering import content_render
from carereach.content.services import version_withdraw
from carereach.content.tracking import link_click_record
from carereach.insights.next_content import next_best_content
from carereach.insights.ranking import ItemStats, colleague_rate, cosine, rank
from carereach.messaging.models import EventKind, Message, MessageStatus
from carereach.messaging.services.outbox import event_new, message_enqueue
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.content import factories as content

pytestmark = pytest.mark.django_db

PEDS, FAMILY, GERI, CARDIO = "208000000X", "207Q00000X", "207QG0300X", "207RC0000X"
BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1"


@pytest.fixture
def people(users: dict[Role, User]) -> dict[str, User]:
    return {"author": users[Role.MARKETER], "reviewer": users[Role.COMPLIANCE]}


@pytest.fixture
def program() -> Program:
    audience.specialties()
    return content.program("cardio")


def _item(people: dict[str, User], program: Program, code: str, **rules: object) -> ContentItem:
    made = content.item(actor=people["author"], program=program, code=code, **rules)
    content.approve(
        content.first_version(made), author=people["author"], reviewer=people["reviewer"]
    )
    return made


def _version(item: ContentItem) -> ContentVersion:
    return item.versions.get(number=1)


def _hcp(name: str, specialty: str) -> Contact:
    return audience.contact(kind="hcp", first_name=name, last_name="Doe", specialties=specialty)


def _sent(person: Contact, item: ContentItem, *, clicked: bool = False, replied: bool = False):
    """A delivered text carrying the item, and what the person did with it."""
    version = _version(item)
    key = f"test:{item.code}:{person.pk}"
    message = message_enqueue(
        key=key,
        origin="campaign",
        channel="sms",
        address="+14155550100",
        sender="+18005550100",
        body="x",
        contact_id=person.pk,
        content_version_id=version.pk,
        reasons=[],
    )
    assert message is not None
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.DELIVERED)
    later = timezone.now() + timedelta(minutes=5)
    if clicked:  # rendering makes the tracked link (and refuses what may not go to the person)
        rendered = content_render(
            version=version, contact=person, channel="sms", language="en", message_key=key
        )
        link_click_record(token=rendered.links[0].token, method="GET", user_agent=BROWSER, at=later)
    if replied:
        event_new(message, EventKind.REPLIED, later).save()


def test_colleagues_engagement_orders_the_suggestions(
    people: dict[str, User], program: Program
) -> None:
    popular = _item(people, program, "dosing-update")
    ignored = _item(people, program, "formulary-news")
    fresh = _item(people, program, "meeting-recap")
    target = _hcp("Ana", PEDS)
    for n in range(12):
        colleague = _hcp(f"Peer{n}", PEDS)
        _sent(colleague, popular, clicked=n < 9)  # 9 of 12 clicked
        _sent(colleague, ignored, replied=n < 1)  # 1 of 12 replied
    found = next_best_content(contact=target)
    # Nobody had the fresh item: it is expected to do as well as the average item, better than
    # one that twelve colleagues were sent and all but one ignored.
    assert [s.item.code for s in found] == [popular.code, fresh.code, ignored.code]
    assert found[0].reasons == ["9 of 12 colleagues in the same specialty engaged with it."]
    assert found[1].reasons == [
        "Approved for this HCP and not sent yet; nobody similar has had it yet."
    ]
    assert found[2].reasons == ["1 of 12 colleagues in the same specialty engaged with it."]
    assert found[0].score > found[1].score > found[2].score > 0


def test_read_together_counts_what_this_hcp_engaged_with(
    people: dict[str, User], program: Program
) -> None:
    episode1 = _item(people, program, "podcast-1")
    episode2 = _item(people, program, "podcast-2")
    unrelated = _item(people, program, "formulary-news")
    target = _hcp("Ana", CARDIO)
    _sent(target, episode1, clicked=True)
    for n in range(4):  # other specialties: no colleagues, but the same taste
        other = _hcp(f"Fan{n}", GERI)
        _sent(other, episode1, clicked=True)
        _sent(other, episode2, clicked=True)
        _sent(other, unrelated)
    found = next_best_content(contact=target)
    assert [s.item.code for s in found] == [episode2.code, unrelated.code]
    assert found[0].reasons == [
        "People who engaged with “Podcast 1”, as this HCP did, engaged with it too."
    ]


def test_never_suggests_what_may_not_be_sent_or_was_had(
    people: dict[str, User], program: Program
) -> None:
    had = _item(people, program, "already-had")
    for_peds = _item(people, program, "peds-only", pediatric=True)
    withdrawn = _item(people, program, "withdrawn")
    draft = content.item(actor=people["author"], program=program, code="still-a-draft")
    for_patients = _item(people, program, "patients-only", contact_kinds=["patient"])
    spanish = _item(people, program, "solo-espanol", bodies=[content.sms("Hola", language="es")])
    cardiologist = _hcp("Gus", CARDIO)
    _sent(cardiologist, had)
    for n in range(12):  # everything is popular among cardiologists; nothing may go
        peer = _hcp(f"Peer{n}", CARDIO)
        for item in (had, for_peds, withdrawn, for_patients, spanish):
            _sent(peer, item, replied=True)
    version_withdraw(version=_version(withdrawn), actor=people["reviewer"], reason="Outdated.")
    assert next_best_content(contact=cardiologist) == []
    pediatrician = _hcp("Pia", PEDS)
    # 12 of 12 engaged with the pediatric item, 12 of 13 with the other
    assert [s.item.code for s in next_best_content(contact=pediatrician)] == [
        for_peds.code,
        had.code,
    ]
    assert draft.code not in [s.item.code for s in next_best_content(contact=pediatrician)]


def test_scanner_clicks_do_not_count(people: dict[str, User], program: Program) -> None:
    scanned = _item(people, program, "scanned")
    quiet = _item(people, program, "quiet")
    target = _hcp("Ana", PEDS)
    for n in range(12):
        peer = _hcp(f"Peer{n}", PEDS)
        _sent(peer, quiet, replied=n < 3)
        _sent(peer, scanned)
        link = content_render(
            version=_version(scanned),
            contact=peer,
            channel="sms",
            language="en",
            message_key=f"test:{scanned.code}:{peer.pk}",
        ).links[0]
        link_click_record(
            token=link.token,
            method="GET",
            user_agent="Mozilla/5.0 (compatible; Barracuda Sentinel)",
            at=timezone.now() + timedelta(minutes=5),
        )
    assert [s.item.code for s in next_best_content(contact=target)] == [quiet.code, scanned.code]


def test_patients_get_no_suggestions(people: dict[str, User], program: Program) -> None:
    _item(people, program, "anything")
    patient = audience.contact(kind="patient", first_name="Pat", last_name="Doe")
    assert next_best_content(contact=patient) == []


# -- the arithmetic ------------------------------------------------------------------------------


def test_small_samples_are_pulled_towards_the_overall_rate() -> None:
    lucky = ItemStats(item_id=1, peers_sent=1, peers_engaged=1, all_sent=1, all_engaged=1)
    proven = ItemStats(item_id=2, peers_sent=200, peers_engaged=120, all_sent=400, all_engaged=240)
    assert colleague_rate(lucky, 0.1) == pytest.approx(0.375)
    assert colleague_rate(proven, 0.1) == pytest.approx(0.6, abs=0.001)
    ranked = rank(
        candidates=[lucky, proven], engagers={}, overlaps={}, engaged_by_hcp=[], overall=0.1
    )
    assert [r.item_id for r in ranked] == [2, 1]


def test_cosine_of_engager_sets() -> None:
    assert cosine(0, 5, 5) == 0.0
    assert cosine(4, 4, 4) == pytest.approx(1.0)
    assert cosine(2, 4, 16) == pytest.approx(0.25)


counts = st.integers(min_value=0, max_value=500)


@given(sent=counts, engaged=counts, all_sent=counts, all_engaged=counts, overall=st.floats(0, 1))
def test_colleague_rate_is_a_share(
    sent: int, engaged: int, all_sent: int, all_engaged: int, overall: float
) -> None:
    engaged, all_engaged = min(engaged, sent), min(all_engaged, all_sent)
    stats = ItemStats(1, sent, engaged, all_sent, all_engaged)
    assert 0.0 <= colleague_rate(stats, overall) <= 1.0


# -- console and API -----------------------------------------------------------------------------


def test_the_rep_sees_suggestions_for_their_own_hcps_only(
    people: dict[str, User],
    program: Program,
    users: dict[Role, User],
    signed_in: Callable[[Role], Client],
    api: Callable[[Role], Client],
) -> None:
    from carereach.audience.services import territory_assign_rep, territory_create

    west = territory_create(code="W1", name="West", actor=None)
    territory_create(code="E1", name="East", actor=None)
    territory_assign_rep(territory=west, rep=users[Role.FIELD_REP], actor=None)
    mine = audience.contact(kind="hcp", last_name="Mine", specialties=PEDS, territory="W1")
    theirs = audience.contact(kind="hcp", last_name="Theirs", specialties=PEDS, territory="E1")
    _item(people, program, "dosing-update")

    page = signed_in(Role.FIELD_REP).get(f"/audience/contacts/{mine.pk}/")
    assert f'hx-get="/contacts/{mine.pk}/next-content/"' in page.content.decode()
    fragment = signed_in(Role.FIELD_REP).get(f"/contacts/{mine.pk}/next-content/")
    assert fragment.status_code == 200
    assert "Dosing Update" in fragment.content.decode()
    assert signed_in(Role.FIELD_REP).get(f"/contacts/{theirs.pk}/next-content/").status_code == 404

    listed = api(Role.FIELD_REP).get(f"/api/v1/contacts/{mine.pk}/next-content")
    assert listed.status_code == 200
    assert [(s["item_code"], s["version_number"]) for s in listed.json()] == [("dosing-update", 1)]
    assert api(Role.FIELD_REP).get(f"/api/v1/contacts/{theirs.pk}/next-content").status_code == 404
