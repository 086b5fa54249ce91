"""Segment functions clicked(), replied() and consented(): one SQL statement, EXISTS subqueries,
right members, and the compiler's errors for bad arguments."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carereach.audience.models import Contact
from carereach.audience.segments.compiler import segment_filter, validate_segment
from carereach.audience.segments.errors import SegmentSyntaxError
from carereach.audience.segments.fields import default_contact_schema
from carereach.consent.services import consent_record
from carereach.messaging.models import InboundMessage
from tests.analytics import factories
from tests.analytics.factories import SENT, World
from tests.audience import factories as audience

pytestmark = pytest.mark.django_db

NOW = SENT + timedelta(days=3)


def _members(query: str) -> set[int]:
    schema = default_contact_schema()
    with CaptureQueriesContext(connection) as queries:
        found = set(
            segment_filter(Contact.objects.all(), query, schema, now=NOW).values_list(
                "pk", flat=True
            )
        )
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert "EXISTS" in queries[0]["sql"].upper()
    return found


def test_clicked_counts_people_not_scanners(world: World) -> None:
    clickers = {c.pk for c in world.people_a[:12]}
    assert _members('clicked(content = "flu-shots", within = 30d)') == clickers
    assert _members("clicked()") == clickers
    assert _members('clicked("flu-shots")') == clickers
    assert _members('clicked(content = "other-thing")') == set()
    # 3 days after: a 2-day window misses clicks made on day 0
    assert _members("clicked(within = 2d)") == set()
    everyone = {c.pk for c in [*world.people_a, *world.people_b]}
    assert _members("not clicked(within = 30d)") == everyone - clickers


def test_replied_reads_the_inbox(world: World) -> None:
    person = world.people_a[3]
    InboundMessage.objects.create(
        provider="sandbox",
        provider_message_id="in-1",
        from_number="+14155550003",
        to_number="+18005550100",
        body="yes please",
        contact=person,
        received_at=SENT + timedelta(days=1),
    )
    assert _members("replied(within = 7d)") == {person.pk}
    assert _members("replied(within = 1d)") == set()
    assert _members("replied()") == {person.pk}


def test_consented_is_the_live_state(world: World) -> None:
    person = audience.contact(kind="hcp", last_name="Ruiz", phone="+14155550111")
    other = audience.contact(kind="hcp", last_name="Okafor", phone="+14155550112")
    factories.click(factories.text(world.a, person), SENT + timedelta(days=1))
    for who, phone in ((person, "+14155550111"), (other, "+14155550112")):
        consent_record(
            contact=who,
            address=phone,
            channels=["sms"],
            programs=[world.program],
            action="grant",
            method="in_person",
            evidence={"typed_name": "Dana Doe"},
            actor=None,
        )
    consent_record(
        contact=other,
        address="+14155550112",
        channels=["sms"],
        programs=[world.program],
        action="revoke",
        method="reply",
        actor=None,
    )
    assert _members('consented(sms, "flu")') == {person.pk}
    assert _members("consented(sms, program = flu)") == {person.pk}
    assert _members("consented(sms)") == {person.pk}
    assert _members("consented(email)") == set()
    assert _members('consented(sms, "flu") and clicked(within = 30d)') == {person.pk}


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("consented()", "consented() needs"),
        ("consented(fax)", "expected one of sms, email, voice, letter"),
        ('consented(sms, "Not A Code")', "expected a program code"),
        ("clicked(within = 30)", "expected a duration"),
        ('clicked(content = "a b")', "expected a content code"),
        ("clicked(within = 30d, within = 2d)", "within"),
        ("replied(7d)", "replied()"),
        ("replyd(within = 7d)", 'did you mean "replied"'),
        ("clicked(url = 'x')", 'has no argument "url"'),
    ],
)
def test_bad_calls_are_refused_with_a_reason(query: str, words: str) -> None:
    with pytest.raises(SegmentSyntaxError) as caught:
        validate_segment(query, schema=default_contact_schema())
    assert words in caught.value.message


def test_segment_of_a_campaign_world_still_one_query(world: World) -> None:
    factories.click(world.messages_a[20], SENT + timedelta(days=1))
    assert world.people_a[20].pk in _members("clicked(within = 30d) and kind = hcp")
