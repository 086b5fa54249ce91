"""Campaigns through the whole pipeline and the sandbox carrier: create → preview → start →
fan-out → worker → the phone; STOP mid-campaign; pause and resume; cancel; withdrawn content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.campaigns.selectors import campaign_get, campaign_preview, campaign_progress
from carereach.campaigns.services.lifecycle import (
    campaign_cancel,
    campaign_pause,
    campaign_resume,
    campaign_start,
)
from carereach.campaigns.services.sending import campaign_advance
from carereach.campaigns.tasks import campaigns_start_due
from carereach.channels.models import Direction, SandboxMessage
from carereach.consent.services import consent_record
from carereach.content.services import version_withdraw
from carereach.messaging.models import EventKind, Message, MessageStatus
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_text_in
from carereach.security.models import AuditEntry
from tests.audience import factories as audience
from tests.campaigns import factories
from tests.campaigns.conftest import Clock, World
from tests.content import factories as content

pytestmark = pytest.mark.django_db


def _campaign(world: World, **fields: object) -> Campaign:
    return factories.campaign(
        actor=world.marketer, program=world.program, version=world.version, **fields
    )


def _texts_to(name: str) -> list[str]:
    """What the sandbox carrier delivered to one test phone from campaigns (not notices)."""
    return [
        row.body or ""
        for row in SandboxMessage.objects.filter(
            direction=Direction.OUT, to=factories.PHONES[name], key__startswith="campaign:"
        )
    ]


def _message(campaign: Campaign, world: World, name: str) -> Message:
    return Message.objects.get(key=f"{campaign.trigger_key}::{world.people[name].pk}:sms")


def test_create_preview_start_and_the_phones_get_it(world: World, clock: Clock) -> None:
    campaign = _campaign(world)
    assert campaign.status == CampaignStatus.DRAFT

    preview = campaign_preview(campaign=campaign, user=world.marketer)
    assert (preview.total, preview.send, preview.hold, preview.skip) == (5, 2, 1, 2)
    groups = {group.code: group for group in preview.groups}
    assert groups["no_consent"].samples[0].contact_id == world.people["stranger"].pk
    assert groups["consent_revoked"].samples[0].contact_id == world.people["stopped"].pk
    assert groups["quiet_hours"].count == 1
    assert preview.sample is not None
    assert "Heart Matters: hi Ana" in preview.sample.text
    assert not Message.objects.exists()  # a preview writes nothing

    campaign = campaign_start(campaign=campaign, actor=world.marketer)
    assert campaign.status == CampaignStatus.SCHEDULED
    campaigns_start_due()
    campaign = campaign_get(campaign_id=campaign.pk)
    assert campaign.status == CampaignStatus.RUNNING
    assert campaign.audience_size == 5
    assert campaign.fanned_out_at is not None
    assert campaign.skip_reasons == {"no_consent": 1, "consent_revoked": 1}
    progress = campaign_progress(campaign=campaign)
    assert (progress.queued, progress.sent, progress.skipped) == (3, 0, 2)

    worker_tick("w1")
    (text,) = _texts_to("ny")
    assert text.startswith("Heart Matters: hi Ny, episode 12 is out: http")
    assert "/l/" in text  # the media link became a tracked link
    assert text.endswith("Reply STOP to opt out.")
    assert len(_texts_to("la")) == 1
    assert _texts_to("hawaii") == []  # 07:00 there: held for quiet hours
    assert _message(campaign, world, "hawaii").status == MessageStatus.HELD
    progress = campaign_progress(campaign=campaign_get(campaign_id=campaign.pk))
    assert (progress.delivered, progress.queued, progress.skipped) == (2, 1, 2)

    clock.advance(hours=1)  # 08:00 in Honolulu
    worker_tick("w1")
    assert len(_texts_to("hawaii")) == 1
    campaigns_start_due()
    campaign = campaign_get(campaign_id=campaign.pk)
    assert campaign.status == CampaignStatus.DONE
    assert campaign.finished_at == clock.now
    notes = set(
        AuditEntry.objects.filter(object_type="campaign", object_id=str(campaign.pk)).values_list(
            "note", flat=True
        )
    )
    assert {"started sending", "done"} <= notes
    assert any(note.startswith("scheduled") for note in notes)


def test_a_stop_mid_campaign_stops_the_rest(world: World, clock: Clock) -> None:
    campaign = campaign_start(campaign=_campaign(world), actor=world.marketer)
    # The fan-out decides one contact at a time here: New York first.
    campaign_advance(campaign_id=campaign.pk, max_batches=1, batch_size=1)
    worker_tick("w1")
    assert len(_texts_to("ny")) == 1
    # Honolulu is decided (and held for quiet hours) after sending STOP, but before the STOP
    # is processed: the last-moment consent check stops their text.
    campaign_advance(campaign_id=campaign.pk, max_batches=1, batch_size=1)  # Los Angeles
    assert _message(campaign, world, "la").status == MessageStatus.QUEUED
    sandbox_text_in(from_number=factories.PHONES["hawaii"], to=factories.SENDER, body="STOP")
    campaign_advance(campaign_id=campaign.pk, batch_size=1)  # the rest, Honolulu held
    assert _message(campaign, world, "hawaii").status == MessageStatus.HELD
    worker_tick("w1")  # the STOP is processed before any send
    clock.advance(hours=2)
    worker_tick("w1")

    hawaii = _message(campaign, world, "hawaii")
    assert hawaii.status == MessageStatus.SKIPPED
    assert hawaii.reasons[-1]["code"] == "consent_gone"
    assert _texts_to("hawaii") == []
    # The one confirmation the opt-out is owed did go.
    assert (
        SandboxMessage.objects.filter(
            direction=Direction.OUT, to=factories.PHONES["hawaii"], key__startswith="notice:reply:"
        ).count()
        == 1
    )
    assert len(_texts_to("la")) == 1


def test_a_stop_before_the_fan_out_reaches_them_is_a_skip(world: World, clock: Clock) -> None:
    campaign = campaign_start(campaign=_campaign(world), actor=world.marketer)
    campaign_advance(campaign_id=campaign.pk, max_batches=1, batch_size=1)  # New York
    worker_tick("w1")
    sandbox_text_in(from_number=factories.PHONES["la"], to=factories.SENDER, body="stop")
    worker_tick("w1")
    campaigns_start_due()
    la = _message(campaign, world, "la")
    assert (la.status, la.reasons[0]["code"]) == (MessageStatus.SKIPPED, "consent_revoked")
    worker_tick("w1")
    assert _texts_to("la") == []


def test_pause_and_resume_never_send_twice(world: World, clock: Clock) -> None:
    campaign = campaign_start(campaign=_campaign(world), actor=world.marketer)
    campaigns_start_due()
    worker_tick("w1")  # New York and Los Angeles get it; Honolulu is held
    campaign, held = campaign_pause(campaign=campaign, actor=world.marketer)
    assert held == 1
    assert campaign.status == CampaignStatus.PAUSED
    hawaii = _message(campaign, world, "hawaii")
    assert hawaii.status == MessageStatus.PAUSED
    assert hawaii.events.filter(kind=EventKind.HELD).count() == 2  # quiet hours, then paused

    clock.advance(hours=3)  # the window is open in Honolulu, but the campaign is paused
    worker_tick("w1")
    campaigns_start_due()
    assert _texts_to("hawaii") == []
    assert campaign_get(campaign_id=campaign.pk).status == CampaignStatus.PAUSED

    campaign, report = campaign_resume(campaign=campaign, actor=world.marketer)
    assert (report.queued, report.held, report.expired) == (1, 0, 0)
    assert campaign.status == CampaignStatus.RUNNING
    for _ in range(2):
        campaigns_start_due()
        worker_tick("w1")
    for name in ("ny", "la", "hawaii"):
        assert len(_texts_to(name)) == 1, name
    assert Message.objects.filter(key__startswith=campaign.trigger_key + ":").count() == 5
    assert campaign_get(campaign_id=campaign.pk).status == CampaignStatus.DONE


def test_pause_in_the_middle_of_the_fan_out_stops_it_until_resumed(
    world: World, clock: Clock
) -> None:
    campaign = campaign_start(campaign=_campaign(world), actor=world.marketer)
    campaign_advance(campaign_id=campaign.pk, max_batches=1, batch_size=2)
    campaign, held = campaign_pause(campaign=campaign, actor=world.marketer)
    assert held == 2
    campaigns_start_due()
    worker_tick("w1")
    assert Message.objects.filter(key__startswith=campaign.trigger_key + ":").count() == 2
    assert not SandboxMessage.objects.filter(key__startswith="campaign:").exists()

    campaign, _ = campaign_resume(campaign=campaign, actor=world.marketer)
    campaigns_start_due()
    worker_tick("w1")
    assert Message.objects.filter(key__startswith=campaign.trigger_key + ":").count() == 5
    assert len(_texts_to("ny")) == 1
    assert len(_texts_to("la")) == 1


def test_resuming_at_night_holds_for_quiet_hours(world: World, clock: Clock) -> None:
    campaign = campaign_start(campaign=_campaign(world), actor=world.marketer)
    campaign_advance(campaign_id=campaign.pk, max_batches=1, batch_size=1)  # New York queued
    campaign_pause(campaign=campaign, actor=world.marketer)
    clock.advance(hours=11)  # 23:00 in New York
    _, report = campaign_resume(campaign=campaign, actor=world.marketer)
    assert (report.queued, report.held) == (0, 1)
    ny = _message(campaign, world, "ny")
    assert ny.status == MessageStatus.HELD
    assert ny.due_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 08:00 in New York
    worker_tick("w1")
    assert _texts_to("ny") == []


def test_cancel_cancels_what_waits_and_keeps_what_went(world: World, clock: Clock) -> None:
    campaign = campaign_start(campaign=_campaign(world), actor=world.marketer)
    campaigns_start_due()
    worker_tick("w1")
    campaign, cancelled = campaign_cancel(
        campaign=campaign, actor=world.marketer, reason="wrong episode"
    )
    assert cancelled == 1
    assert campaign.status == CampaignStatus.CANCELLED
    assert campaign.status_note == "wrong episode"
    hawaii = _message(campaign, world, "hawaii")
    assert hawaii.status == MessageStatus.CANCELLED
    assert hawaii.reasons[-1]["code"] == "campaign_cancelled"
    assert _message(campaign, world, "ny").status == MessageStatus.DELIVERED
    clock.advance(hours=2)
    worker_tick("w1")
    campaigns_start_due()
    assert _texts_to("hawaii") == []
    assert AuditEntry.objects.filter(
        object_type="campaign", object_id=str(campaign.pk), note="cancelled"
    ).exists()


def test_cancel_before_the_fan_out_finished_stops_it(world: World, clock: Clock) -> None:
    campaign = campaign_start(campaign=_campaign(world), actor=world.marketer)
    campaign_advance(campaign_id=campaign.pk, max_batches=1, batch_size=1)
    campaign_cancel(campaign=campaign, actor=world.marketer)
    campaigns_start_due()
    worker_tick("w1")
    assert Message.objects.filter(key__startswith=campaign.trigger_key + ":").count() == 1
    assert not SandboxMessage.objects.filter(key__startswith="campaign:").exists()


def test_withdrawn_content_cancels_waiting_and_paused_messages(
    world: World, clock: Clock, users: dict[object, User]
) -> None:
    running = campaign_start(campaign=_campaign(world), actor=world.marketer)
    paused = campaign_start(campaign=_campaign(world, name="Again"), actor=world.marketer)
    campaigns_start_due()
    worker_tick("w1")  # both: New York and Los Angeles get it; Honolulu held
    campaign_pause(campaign=paused, actor=world.marketer)
    assert _message(paused, world, "hawaii").status == MessageStatus.PAUSED

    retirement = version_withdraw(version=world.version, actor=world.reviewer, reason="label")

    assert retirement.cancelled == 2
    for campaign in (running, paused):
        hawaii = _message(campaign, world, "hawaii")
        assert hawaii.status == MessageStatus.CANCELLED
        assert hawaii.reasons[-1]["code"] == "content_retired"
        refreshed = campaign_get(campaign_id=campaign.pk)
        assert refreshed.status == CampaignStatus.CANCELLED
        assert "withdrawn" in refreshed.status_note
    clock.advance(hours=2)
    worker_tick("w1")
    assert _texts_to("hawaii") == []


def test_resuming_after_the_expiry_expires_instead_of_sending_late(
    world: World, clock: Clock
) -> None:
    campaign = _campaign(world, expires_at=clock.now + timedelta(hours=2))
    campaign = campaign_start(campaign=campaign, actor=world.marketer)
    campaigns_start_due()
    campaign, held = campaign_pause(campaign=campaign, actor=world.marketer)
    assert held == 3
    clock.advance(hours=3)
    campaign, report = campaign_resume(campaign=campaign, actor=world.marketer)
    assert (report.queued, report.held, report.expired) == (0, 0, 3)
    worker_tick("w1")
    assert not SandboxMessage.objects.filter(key__startswith="campaign:").exists()
    campaigns_start_due()
    assert campaign_get(campaign_id=campaign.pk).status == CampaignStatus.DONE


def test_a_fallback_channel_reaches_those_the_first_cannot(world: World, clock: Clock) -> None:
    both = factories.approved_version(
        world.program,
        author=world.marketer,
        reviewer=world.reviewer,
        code="both",
        bodies=[
            content.sms(factories.TEXT),
            content.email("Hello {{ last_name_with_title }}, episode 12: {{ tracked_link }}"),
        ],
    )
    mail = audience.contact(
        kind="hcp",
        first_name="Mae",
        last_name="Doe",
        phone="+12125550106",
        email="mae@example.org",
        time_zone="America/New_York",
    )
    consent_record(
        contact=mail,
        address="mae@example.org",
        channels=["email"],
        programs=[world.program],
        action="grant",
        method="in_person",
        evidence={"typed_name": "Mae Doe"},
        actor=None,
    )
    campaign = _campaign(world, content_version=both, fallback_channels=("email",))
    assert campaign.fallback_channels == ["email"]
    campaign_start(campaign=campaign, actor=world.marketer)
    campaigns_start_due()
    message = Message.objects.get(contact=mail)
    assert (message.channel, message.status, message.address) == (
        "email",
        MessageStatus.QUEUED,
        "mae@example.org",
    )
    assert message.reasons[1] == {
        "code": "fallback",
        "text": "Not by sms: No consent for this address, channel and program.",
    }
    assert Message.objects.get(contact=world.people["ny"]).channel == "sms"
    stranger = Message.objects.get(contact=world.people["stranger"])
    assert (stranger.status, stranger.reasons[0]["code"]) == (MessageStatus.SKIPPED, "no_consent")
    worker_tick("w1")
    (sent,) = SandboxMessage.objects.filter(channel="email", to="mae@example.org")
    assert sent.subject == "News"
    assert "Hello Mae Doe, episode 12:" in (sent.body or "")


def test_one_broken_campaign_stops_alone_and_never_the_scheduler(
    world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from carereach.campaigns import tasks
    from carereach.errors import ValidationError

    broken = campaign_start(campaign=_campaign(world, name="Broken"), actor=world.marketer)
    flaky = campaign_start(campaign=_campaign(world, name="Flaky"), actor=world.marketer)
    fine = campaign_start(campaign=_campaign(world, name="Fine"), actor=world.marketer)
    real = tasks.campaign_advance

    def advance(*, campaign_id: int, **kwargs: object) -> int:
        if campaign_id == broken.pk:
            raise ValidationError("position 0: unknown field", field="query")
        if campaign_id == flaky.pk:
            raise RuntimeError("database went away")
        return real(campaign_id=campaign_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tasks, "campaign_advance", advance)
    campaigns_start_due()
    stopped = campaign_get(campaign_id=broken.pk)
    assert stopped.status == CampaignStatus.CANCELLED
    assert stopped.status_note == "it could not continue: position 0: unknown field"
    assert campaign_get(campaign_id=flaky.pk).status == CampaignStatus.SCHEDULED  # next tick
    assert campaign_get(campaign_id=fine.pk).status == CampaignStatus.RUNNING
