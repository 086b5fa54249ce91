"""Campaign rules: sign-off by someone else, bad input by field, local times, test sends, and
recipients the content refuses to render for."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.auth.models import User

from carereach.audience.models import HcpProfile
from carereach.audience.services import segment_save
from carereach.campaigns.errors import CampaignInvalidError
from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.campaigns.selectors import campaign_get, campaign_progress
from carereach.campaigns.services.editing import CampaignInput, campaign_update
from carereach.campaigns.services.lifecycle import (
    campaign_return,
    campaign_signoff,
    campaign_start,
    campaign_submit,
)
from carereach.campaigns.services.sending import campaign_test_send
from carereach.campaigns.tasks import campaigns_start_due
from carereach.channels.models import Direction, SandboxMessage
from carereach.content.models import ContentVersion, ProgramPolicy
from carereach.errors import ConflictError, PermissionDeniedError, ValidationError
from carereach.messaging.models import EventKind, Message, MessageStatus
from carereach.messaging.runtime import worker_tick
from carereach.security.roles import Role
from tests.campaigns import factories
from tests.campaigns.conftest import Clock, World
from tests.content import factories as content

pytestmark = pytest.mark.django_db


def _problems(error: pytest.ExceptionInfo[CampaignInvalidError]) -> dict[str, str]:
    return dict(error.value.problems)


def _input(world: World, **fields: object) -> CampaignInput:
    values: dict[str, object] = {
        "name": "Episode 12",
        "program": world.program,
        "content_version": world.version,
        "channel": "sms",
        "query": "kind = hcp",
    } | fields
    return CampaignInput(**values)  # type: ignore[arg-type]


def _create(world: World, actor: User | None = None, **fields: object) -> Campaign:
    values: dict[str, object] = {"program": world.program, "version": world.version} | fields
    if "content_version" in values:
        values["version"] = values.pop("content_version")
    return factories.campaign(actor=actor or world.marketer, **values)  # type: ignore[arg-type]


# -- sign-off -------------------------------------------------------------------------------------


@pytest.fixture
def promo(world: World, users: dict[Role, User]) -> Campaign:
    """A campaign of a marketing program, created and sent for sign-off by the admin."""
    program = factories.program("launch", type="marketing", name="Heartwell")
    version = factories.approved_version(
        program, author=world.marketer, reviewer=world.reviewer, code="launch-1"
    )
    admin = users[Role.ADMIN]
    campaign = factories.campaign(actor=admin, program=program, version=version)
    with pytest.raises(ValidationError) as error:
        campaign_start(campaign=campaign, actor=admin)
    assert error.value.code == "signoff_required"
    return campaign_submit(campaign=campaign, actor=admin)


def test_a_promotional_campaign_starts_only_once_someone_else_signs_it_off(
    promo: Campaign, users: dict[Role, User]
) -> None:
    assert promo.status == CampaignStatus.AWAITING_SIGNOFF
    with pytest.raises(PermissionDeniedError):  # no review_content
        campaign_signoff(campaign=promo, actor=users[Role.MARKETER])
    with pytest.raises(PermissionDeniedError, match="another reviewer"):  # its own author
        campaign_signoff(campaign=promo, actor=users[Role.ADMIN])
    campaigns_start_due()
    assert campaign_get(campaign_id=promo.pk).status == CampaignStatus.AWAITING_SIGNOFF
    assert not Message.objects.exists()

    signed = campaign_signoff(campaign=promo, actor=users[Role.COMPLIANCE], note="OK as is")
    assert signed.status == CampaignStatus.SCHEDULED
    assert signed.signed_off_by == users[Role.COMPLIANCE]
    assert signed.started_by == users[Role.ADMIN]  # the requester's contact scope
    campaigns_start_due()
    # Nobody consented to this program: every recipient is a skip, and the campaign is done.
    assert campaign_get(campaign_id=promo.pk).status == CampaignStatus.DONE
    assert campaign_get(campaign_id=promo.pk).skip_reasons == {"no_consent": 5}


def test_returning_to_draft_voids_the_sign_off(promo: Campaign, users: dict[Role, User]) -> None:
    campaign_return(campaign=promo, actor=users[Role.COMPLIANCE], note="Fix the segment")
    campaign = campaign_get(campaign_id=promo.pk)
    assert campaign.status == CampaignStatus.DRAFT
    with pytest.raises(ValidationError):
        campaign_start(campaign=campaign, actor=users[Role.ADMIN])
    campaign_submit(campaign=campaign, actor=users[Role.ADMIN])
    signed = campaign_signoff(campaign=campaign, actor=users[Role.COMPLIANCE])
    campaign_return(campaign=signed, actor=users[Role.ADMIN])
    campaign = campaign_get(campaign_id=promo.pk)
    assert (campaign.status, campaign.signed_off_by) == (CampaignStatus.DRAFT, None)


def test_a_non_promotional_campaign_needs_no_sign_off(world: World) -> None:
    with pytest.raises(ValidationError) as error:
        campaign_submit(campaign=_create(world), actor=world.marketer)
    assert error.value.code == "no_signoff"


def test_drug_promotion_needs_sign_off_even_in_an_informational_program(
    world: World, users: dict[Role, User]
) -> None:
    version = factories.approved_version(
        world.program,
        author=world.marketer,
        reviewer=world.reviewer,
        code="promo",
        text="Heart Matters: Heartwell (cardiolol) is here. {{ tracked_link }}",
        promotional=True,
        contact_kinds=["hcp"],
        brand_name="Heartwell",
        generic_name="cardiolol",
        serious_risks="May cause bleeding.",
        safety_info_url="https://heartwell.example.com/isi",
    )
    campaign = _create(world, content_version=version)
    with pytest.raises(ValidationError, match="promotional"):
        campaign_start(campaign=campaign, actor=world.marketer)


# -- bad input ------------------------------------------------------------------------------------


def test_bad_input_is_refused_field_by_field(world: World, clock: Clock) -> None:
    draft = content.item(actor=world.marketer, code="draft-ep", program=world.program)
    with pytest.raises(CampaignInvalidError) as error:
        _create(
            world,
            name=" ",
            content_version=content.first_version(draft),
            schedule_kind="at",
            send_at=clock.now - timedelta(minutes=1),
            query='kind = hcp and state = "ZZ"',
        )
    problems = _problems(error)
    assert problems["name"] == "Give the campaign a name."
    assert problems["send_at"] == "That time has passed; choose a time in the future."
    assert "not approved" in problems["content_version"]
    assert problems["query"] == "This segment selects no contacts you may reach."


def test_a_channel_the_program_does_not_use_is_refused(world: World) -> None:
    texts_only = factories.program("texts", channels=["sms"])
    with pytest.raises(CampaignInvalidError) as error:
        _create(world, program=texts_only, channel="email")
    problems = error.value.problems
    assert ("channel", "Heart Matters does not use email; it uses: text message.") in problems
    # The content belongs to another program, too.
    assert ("content_version", "Episode 12 v1 belongs to the program Heart Matters.") in problems


def test_content_without_a_body_for_the_channel_is_refused(world: World) -> None:
    with pytest.raises(CampaignInvalidError) as error:
        _create(world, channel="voice")
    assert _problems(error)["content_version"] == "Episode 12 v1 has no voice call text."


def test_segment_choices_and_query_errors(world: World) -> None:
    with pytest.raises(CampaignInvalidError) as error:
        _create(world, query="kind = doctor")
    assert "query" in _problems(error)
    with pytest.raises(CampaignInvalidError) as error:
        _create(world, query="")
    assert _problems(error) == {"segment": "Choose a saved segment or write a query."}
    saved = segment_save(name="All HCPs", query="kind = hcp", actor=world.marketer)
    with pytest.raises(CampaignInvalidError) as error:
        _create(world, segment=saved, query="kind = hcp")
    assert "not both" in _problems(error)["query"]
    campaign = _create(world, segment=saved, query="")
    assert (campaign.segment, campaign.query) == (saved, "kind = hcp")


def test_local_time_passed_everywhere_and_expiry_before_send_are_refused(
    world: World, clock: Clock
) -> None:
    with pytest.raises(CampaignInvalidError) as error:
        _create(world, schedule_kind="local", local_date=date(2026, 11, 22), local_time=time(10))
    assert _problems(error) == {"local_date": "That local time has passed everywhere."}
    with pytest.raises(CampaignInvalidError) as error:
        _create(world, schedule_kind="local", local_date=None, local_time=None)
    assert set(_problems(error)) == {"local_date", "local_time"}
    with pytest.raises(CampaignInvalidError) as error:
        _create(
            world,
            schedule_kind="at",
            send_at=clock.now + timedelta(days=1),
            expires_at=clock.now + timedelta(hours=1),
        )
    assert _problems(error) == {"expires_at": "The expiry must come after the last send time."}


def test_content_that_expires_before_the_send_is_refused(world: World, clock: Clock) -> None:
    with pytest.raises(CampaignInvalidError) as error:
        _create(world, schedule_kind="at", send_at=clock.now + timedelta(days=60))
    assert _problems(error)["content_version"] == (
        "Episode 12 v1 expires (2026-12-23 17:00 UTC) before the campaign's last send."
    )


def test_only_a_draft_changes(world: World) -> None:
    campaign = campaign_start(campaign=_create(world), actor=world.marketer)
    with pytest.raises(ConflictError):
        campaign_update(campaign=campaign, data=_input(world, name="New"), actor=world.marketer)
    with pytest.raises(ConflictError):
        campaign_start(campaign=campaign, actor=world.marketer)


def test_starting_checks_again(world: World, clock: Clock) -> None:
    campaign = _create(world, schedule_kind="at", send_at=clock.now + timedelta(hours=1))
    clock.advance(hours=2)
    with pytest.raises(CampaignInvalidError) as error:
        campaign_start(campaign=campaign, actor=world.marketer)
    assert "send_at" in _problems(error)


# -- when -----------------------------------------------------------------------------------------


def test_a_scheduled_campaign_waits_for_its_time(world: World, clock: Clock) -> None:
    campaign = _create(world, schedule_kind="at", send_at=clock.now + timedelta(hours=1))
    campaign = campaign_start(campaign=campaign, actor=world.marketer)
    assert campaign.expires_at == clock.now + timedelta(hours=1, days=3)
    campaigns_start_due()
    assert not Message.objects.exists()
    clock.advance(hours=1)
    campaigns_start_due()
    assert campaign_get(campaign_id=campaign.pk).status == CampaignStatus.RUNNING
    assert Message.objects.filter(status=MessageStatus.QUEUED).count() == 3  # 18:00 UTC: all


def test_a_local_time_goes_at_that_time_in_each_recipients_zone(world: World, clock: Clock) -> None:
    campaign = _create(
        world, schedule_kind="local", local_date=date(2026, 11, 24), local_time=time(10)
    )
    campaign = campaign_start(campaign=campaign, actor=world.marketer)
    assert campaign.begins_at == datetime(2026, 11, 23, 20, tzinfo=UTC)  # 10:00 at UTC+14
    campaigns_start_due()
    assert not Message.objects.exists()
    clock.now = datetime(2026, 11, 23, 20, tzinfo=UTC)
    campaigns_start_due()
    due = {
        name: Message.objects.get(contact=world.people[name]).due_at
        for name in ("ny", "la", "hawaii")
    }
    assert due == {
        "ny": datetime(2026, 11, 24, 15, tzinfo=UTC),
        "la": datetime(2026, 11, 24, 18, tzinfo=UTC),
        "hawaii": datetime(2026, 11, 24, 20, tzinfo=UTC),
    }
    ny = Message.objects.get(contact=world.people["ny"])
    assert ny.status == MessageStatus.HELD
    assert ny.reasons[-1] == {
        "code": "local_time",
        "text": "Planned for 10:00 in America/New_York.",
    }
    assert ny.events.get().kind == EventKind.HELD

    clock.now = datetime(2026, 11, 24, 15, 1, tzinfo=UTC)
    worker_tick("w1")
    delivered = SandboxMessage.objects.filter(direction=Direction.OUT)
    assert list(delivered.values_list("to", flat=True)) == [factories.PHONES["ny"]]


def test_a_recipient_whose_local_time_passed_gets_it_when_allowed(
    world: World, clock: Clock
) -> None:
    # 12:30 in New York today; 10:00 local has passed there and comes later in the west.
    clock.now = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
    campaign = _create(
        world, schedule_kind="local", local_date=date(2026, 11, 23), local_time=time(10)
    )
    campaign_start(campaign=campaign, actor=world.marketer)
    campaigns_start_due()
    ny = Message.objects.get(contact=world.people["ny"])
    assert (ny.status, ny.due_at) == (MessageStatus.QUEUED, clock.now)
    assert "had passed" in ny.reasons[-1]["text"]
    la = Message.objects.get(contact=world.people["la"])
    assert (la.status, la.due_at) == (MessageStatus.HELD, datetime(2026, 11, 23, 18, tzinfo=UTC))


# -- rendering refused ----------------------------------------------------------------------------


def test_a_recipient_the_content_refuses_is_skipped_not_fatal(world: World) -> None:
    # A name in a script texts cannot carry in GSM-7 makes this one text need three segments
    # where the program allows two: the renderer refuses it, the others go.
    ProgramPolicy.objects.filter(program=world.program).update(sms_segment_limit=2)
    HcpProfile.objects.filter(contact=world.people["la"]).update(first_name="李" * 60)
    campaign = campaign_start(campaign=_create(world), actor=world.marketer)
    campaigns_start_due()
    la = Message.objects.get(contact=world.people["la"])
    assert (la.status, la.body, la.segments) == (MessageStatus.SKIPPED, "", 0)
    assert [reason["code"] for reason in la.reasons] == ["segment_limit"]
    assert "segments" in la.reasons[0]["text"]
    assert list(la.events.values_list("kind", flat=True)) == [EventKind.SKIPPED]
    assert Message.objects.get(contact=world.people["ny"]).status == MessageStatus.QUEUED
    assert campaign_get(campaign_id=campaign.pk).skip_reasons["segment_limit"] == 1
    worker_tick("w1")
    assert not SandboxMessage.objects.filter(to=factories.PHONES["la"]).exists()


def test_contacts_outside_the_contents_audience_are_skipped_as_ineligible(
    world: World, users: dict[Role, User]
) -> None:
    patients_only = factories.approved_version(
        world.program,
        author=world.marketer,
        reviewer=world.reviewer,
        code="for-patients",
        contact_kinds=["patient"],
    )
    campaign = _create(world, content_version=patients_only)
    campaign_start(campaign=campaign, actor=world.marketer)
    campaigns_start_due()
    skipped = campaign_get(campaign_id=campaign.pk).skip_reasons
    assert skipped == {"ineligible": 3, "no_consent": 1, "consent_revoked": 1}


# -- test sends -----------------------------------------------------------------------------------


def test_a_test_send_reaches_the_typed_number_marked_and_uncounted(world: World) -> None:
    campaign = _create(world)
    message = campaign_test_send(campaign=campaign, actor=world.marketer, address="(415) 555-0177")
    assert message.address == "+14155550177"
    assert message.body.startswith("[TEST] Heart Matters: hi Ana, episode 12 is out:")
    assert message.program_id is None
    assert message.contact_id is None
    worker_tick("w1")
    (got,) = SandboxMessage.objects.filter(direction=Direction.OUT, to="+14155550177")
    assert (got.body or "").startswith("[TEST] ")
    assert campaign_progress(campaign=campaign).total == 0
    assert campaign.events.filter(action="test_sent").count() == 1


def test_a_test_send_refuses_a_bad_address_and_too_many(world: World) -> None:
    campaign = _create(world)
    with pytest.raises(ValidationError) as error:
        campaign_test_send(campaign=campaign, actor=world.marketer, address="not a phone")
    assert error.value.field == "address"
    for _ in range(10):
        campaign_test_send(campaign=campaign, actor=world.marketer, address="+14155550177")
    with pytest.raises(ConflictError):
        campaign_test_send(campaign=campaign, actor=world.marketer, address="+14155550177")


def test_unapproved_content_cannot_be_test_sent(world: World) -> None:
    campaign = _create(world)
    version: ContentVersion = world.version
    ContentVersion.objects.filter(pk=version.pk).update(status="withdrawn")
    with pytest.raises(ConflictError):
        campaign_test_send(campaign=campaign, actor=world.marketer, address="+14155550177")
