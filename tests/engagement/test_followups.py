"""Rep follow-ups: a visit logged, approved content sent under the rep's name; meeting invites
with reminders and "reply 1 to confirm, 2 to cancel"; a text saying an e-mail waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.content.models import ContentVersion
from carereach.engagement.models import Interaction, MeetingStatus
from carereach.engagement.services.followups import InteractionInput, interaction_log
from carereach.engagement.tasks import engagement_tick
from carereach.errors import NotFoundError, ValidationError
from carereach.messaging.models import InboundMessage, Message
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_text_in
from carereach.security.roles import Role
from tests.content import factories as content
from tests.engagement.factories import SENDER, Clock, Podcast, grant, hcp, territory

pytestmark = pytest.mark.django_db

FOLLOW_UP = "Heart Matters: {{ first_name }}, as promised by {{ rep_name }}: {{ tracked_link }}"


@pytest.fixture
def rep(users: dict[Role, User]) -> User:
    user = users[Role.FIELD_REP]
    user.first_name, user.last_name = "Sam", "Ortiz"
    user.save()
    territory("west", rep=user)
    territory("east")
    return user


@pytest.fixture
def leaflet(world: Podcast) -> ContentVersion:
    item = content.item(
        actor=world.author,
        code="dosing-leaflet",
        program=world.program,
        kind="dosing_update",
        bodies=[
            content.sms(FOLLOW_UP),
            content.email(
                "Dear {{ last_name_with_title }}, from {{ rep_name }}: {{ tracked_link }}",
                subject="Dosing leaflet",
            ),
        ],
        contact_kinds=["hcp"],
    )  # fmt: skip
    return content.approve(
        content.first_version(item), author=world.author, reviewer=world.reviewer
    )


def mine(world: Podcast, **fields: str) -> int:
    person = hcp("Gus", phone="+14155550177", territory="west", **fields)
    grant(person, "+14155550177", world.program)
    return person.pk


def outbox(key: str) -> Message:
    return Message.objects.get(key__startswith=key)


def test_a_follow_up_goes_under_the_reps_name_with_attribution(
    world: Podcast, rep: User, leaflet: ContentVersion
) -> None:
    contact = mine(world)
    logged = interaction_log(
        actor=rep,
        data=InteractionInput(contact_id=contact, kind="visit", follow_up=leaflet, notes="Asked."),
    )
    message = outbox(f"rep:{logged.interaction.pk}:followup:")
    assert message.status == "queued"
    assert "as promised by Sam Ortiz" in message.body
    assert message.origin == "rep"
    attribution = [r for r in message.reasons if r["code"] == "on_behalf_of"]
    assert attribution[0]["text"].startswith("Follow-up from Sam Ortiz after a visit on")
    assert logged.sent["followup"] == "queued on sms"


def test_reps_act_only_in_their_territory(
    world: Podcast, rep: User, leaflet: ContentVersion
) -> None:
    outsider = hcp("Hal", phone="+12125550188", territory="east")
    with pytest.raises(NotFoundError):
        interaction_log(
            actor=rep, data=InteractionInput(contact_id=outsider.pk, kind="call", follow_up=leaflet)
        )
    assert not Interaction.objects.exists()


def test_content_the_hcp_may_not_receive_is_refused_by_its_field(world: Podcast, rep: User) -> None:
    item = content.item(
        actor=world.author, code="kids", program=world.program, specialties=["208000000X"]
    )
    pediatric = content.approve(
        content.first_version(item), author=world.author, reviewer=world.reviewer
    )
    with pytest.raises(ValidationError) as error:
        interaction_log(
            actor=rep,
            data=InteractionInput(contact_id=mine(world), kind="visit", follow_up=pediatric),
        )
    assert error.value.field == "follow_up"


def test_an_email_follow_up_is_announced_by_text(
    world: Podcast, rep: User, leaflet: ContentVersion
) -> None:
    person = hcp("Ivy", phone="+14155550166", email="ivy@example.org", territory="west")
    grant(person, "+14155550166", world.program)
    grant(person, "ivy@example.org", world.program, channel="email")
    logged = interaction_log(
        actor=rep,
        data=InteractionInput(
            contact_id=person.pk, kind="call", follow_up=leaflet, channel="email",
            notify_by_text=True,
        ),
    )  # fmt: skip
    key = f"rep:{logged.interaction.pk}"
    assert outbox(f"{key}:followup:").channel == "email"
    waiting = outbox(f"{key}:waiting:")
    assert (waiting.channel, waiting.status) == ("sms", "queued")
    assert waiting.body == "Heart Matters: Sam Ortiz sent you an e-mail. Reply STOP to opt out."


def test_meeting_invite_reminder_and_reply_one_confirms(
    world: Podcast, rep: User, clock: Clock
) -> None:
    contact = mine(world)
    meeting = clock.now + timedelta(days=2)
    logged = interaction_log(
        actor=rep,
        data=InteractionInput(
            contact_id=contact, kind="call", program=world.program, meeting_at=meeting,
            meeting_link="https://meet.example.org/abc",
        ),
    )  # fmt: skip
    interaction = logged.interaction
    invite = outbox(f"rep:{interaction.pk}:invite:")
    assert "Reply 1 to confirm, 2 to cancel." in invite.body
    assert "https://meet.example.org/abc" in invite.body
    assert invite.expires_at == meeting
    assert interaction.reminder_at == meeting - timedelta(hours=24)
    worker_tick("w1")

    engagement_tick()
    assert not Message.objects.filter(key__startswith=f"rep:{interaction.pk}:reminder:").exists()
    clock.advance(days=1)
    engagement_tick()
    reminder = outbox(f"rep:{interaction.pk}:reminder:")
    assert reminder.body.startswith("Heart Matters: reminder of your virtual meeting with Sam")
    worker_tick("w1")

    sandbox_text_in(from_number="+14155550177", to=SENDER, body="1!")
    worker_tick("w1")
    interaction.refresh_from_db()
    assert interaction.meeting_status == MeetingStatus.CONFIRMED
    assert InboundMessage.objects.get().handled_by == "meeting"
    answer = outbox(f"rep:{interaction.pk}:answer:")
    assert answer.body == "Thank you, your meeting with Sam Ortiz is confirmed."


def test_reply_two_cancels_and_no_reminder_follows(world: Podcast, rep: User, clock: Clock) -> None:
    contact = mine(world)
    logged = interaction_log(
        actor=rep,
        data=InteractionInput(
            contact_id=contact, kind="visit", program=world.program,
            meeting_at=clock.now + timedelta(days=3), meeting_link="https://meet.example.org/x",
        ),
    )  # fmt: skip
    worker_tick("w1")
    sandbox_text_in(from_number="+14155550177", to=SENDER, body="dos")
    worker_tick("w1")
    interaction = Interaction.objects.get(pk=logged.interaction.pk)
    assert interaction.meeting_status == MeetingStatus.CANCELLED
    clock.advance(days=2, hours=1)
    engagement_tick()
    assert not Message.objects.filter(key__startswith=f"rep:{interaction.pk}:reminder:").exists()


def test_other_replies_reach_the_reps_inbox(world: Podcast, rep: User, clock: Clock) -> None:
    logged = interaction_log(
        actor=rep,
        data=InteractionInput(
            contact_id=mine(world), kind="visit", program=world.program,
            meeting_at=clock.now + timedelta(days=3), meeting_link="https://meet.example.org/x",
        ),
    )  # fmt: skip
    worker_tick("w1")
    sandbox_text_in(from_number="+14155550177", to=SENDER, body="Can we do Friday instead?")
    worker_tick("w1")
    sandbox_text_in(from_number="+14155550177", to=SENDER, body="I can't make it at 2")
    worker_tick("w1")
    assert list(InboundMessage.objects.values_list("handled_by", flat=True)) == ["", ""]
    assert Interaction.objects.get(pk=logged.interaction.pk).meeting_status == "invited"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"meeting_link": "https://x.example.org"}, "meeting_at"),
        ({"meeting_at": "past", "meeting_link": "https://x.example.org"}, "meeting_at"),
        ({"meeting_at": "future", "meeting_link": "ftp://x"}, "meeting_link"),
        ({"kind": "lunch"}, "kind"),
        ({"notify_by_text": True}, "notify_by_text"),
        (
            {"meeting_at": "future", "meeting_link": "https://x.example.org", "no_program": 1},
            "program",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_refused_by_field_and_nothing_is_written(
    world: Podcast, rep: User, clock: Clock, fields: dict[str, object], field: str
) -> None:
    values: dict[str, object] = {
        "contact_id": mine(world),
        "kind": "visit",
        "program": world.program,
    }
    if fields.pop("no_program", None):
        values["program"] = None
    when = fields.pop("meeting_at", None)
    if when:
        values["meeting_at"] = clock.now + timedelta(days=1 if when == "future" else -1)
    values.update(fields)
    with pytest.raises(ValidationError) as error:
        interaction_log(actor=rep, data=InteractionInput(**values))  # type: ignore[arg-type]
    assert error.value.field == field
    assert not Interaction.objects.exists()
    assert not Message.objects.filter(origin="rep").exists()


def test_console_form_logs_a_visit_and_the_api_too(
    world: Podcast,
    rep: User,
    leaflet: ContentVersion,
    signed_in: Callable[[Role], Client],
    api_key: Callable[[Role], str],
) -> None:
    contact = mine(world)
    client = signed_in(Role.FIELD_REP)
    panel = client.get(f"/engagement/contacts/{contact}/", HTTP_HX_REQUEST="true")
    assert panel.status_code == 200
    assert "Log a visit or call" in panel.content.decode()
    assert "Dosing Leaflet v1" in panel.content.decode()
    bad = client.post(
        f"/engagement/contacts/{contact}/interactions/",
        {"kind": "visit", "meeting_link": "https://meet.example.org/a"},
    )
    assert bad.status_code == 400
    assert "Give the meeting" in bad.content.decode()
    good = client.post(
        f"/engagement/contacts/{contact}/interactions/",
        {"kind": "visit", "follow_up": leaflet.pk, "notes": "Left samples."},
    )
    assert good.status_code == 302
    assert Interaction.objects.count() == 1

    api = Client(HTTP_AUTHORIZATION=f"Bearer {api_key(Role.FIELD_REP)}")
    response = api.post(
        "/api/v1/interactions",
        {"contact": contact, "kind": "call", "follow_up": leaflet.pk},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["sent"]["followup"] == "queued on sms"
    listed = api.get(f"/api/v1/contacts/{contact}/interactions").json()
    assert [row["kind"] for row in listed] == ["call", "visit"]
    refused = api.post(
        "/api/v1/interactions", {"contact": contact, "kind": "nap"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert refused.json()["field"] == "kind"


def test_roles_without_the_inbox_cannot_log_visits(
    world: Podcast, rep: User, signed_in: Callable[[Role], Client]
) -> None:
    contact = mine(world)
    for role in (Role.MARKETER, Role.ANALYST, Role.COMPLIANCE):
        response = signed_in(role).post(
            f"/engagement/contacts/{contact}/interactions/", {"kind": "visit"}
        )
        assert response.status_code == 403
