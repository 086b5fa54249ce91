"""The demo's sent campaign, and `carereach campaign-start ID --user NAME`."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from carereach.audience.models import Contact
from carereach.campaigns.demo import demo_campaigns_seed
from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.channels.models import Direction, SandboxMessage
from carereach.console.demo import demo_programs_seed
from carereach.content.demo import demo_content_seed
from carereach.messaging.models import Message
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.campaigns import factories
from tests.campaigns.conftest import Clock, World

pytestmark = pytest.mark.django_db


def _hcp(n: int, state: str) -> Contact:
    return audience.contact(
        kind="hcp",
        first_name=f"Demo{n}",
        last_name="Doe",
        phone=f"+1213555{n:04d}",
        address_line1="1 Main St",
        city="Los Angeles",
        state=state,
        postal_code="90001",
        time_zone="America/Los_Angeles",
    )


def test_the_demo_seeds_one_sent_campaign_once(clock: Clock, users: dict[Role, User]) -> None:
    marketer, reviewer = users[Role.MARKETER], users[Role.COMPLIANCE]
    assert demo_campaigns_seed(marketer=marketer) == []  # no programs, content or audience yet
    audience.specialties()
    demo_programs_seed(actor=users[Role.ADMIN])
    demo_content_seed(author=marketer, reviewer=reviewer)
    for n in range(110, 119):
        _hcp(n, "CA")

    notes = demo_campaigns_seed(marketer=marketer, rep=users[Role.FIELD_REP])

    assert len(notes) == 1
    assert "sent" in notes[0]
    campaign = Campaign.objects.get()
    assert campaign.status == CampaignStatus.DONE  # 09:00 in Los Angeles: all went at once
    assert campaign.skip_reasons == {"no_consent": 3}  # nine HCPs in CA, six consented
    delivered = SandboxMessage.objects.filter(direction=Direction.OUT, key__startswith="campaign:")
    assert delivered.count() == 6
    assert all("Heart Matters podcast: Hi Demo" in (row.body or "") for row in delivered)
    assert demo_campaigns_seed(marketer=marketer) == []
    assert Campaign.objects.count() == 1


def test_cli_starts_and_fans_out_a_campaign(world: World, clock: Clock) -> None:
    campaign = factories.campaign(
        actor=world.marketer, program=world.program, version=world.version
    )
    out = io.StringIO()
    call_command("campaign_start", str(campaign.pk), user=world.marketer.username, stdout=out)
    assert out.getvalue().startswith(f"campaign {campaign.pk} running: ")
    assert "queued 3" in out.getvalue()
    assert "skipped 2" in out.getvalue()
    assert Message.objects.count() == 5


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("nobody", "error (user): No active user 'nobody'."),
        ("analyst-user", "error: analyst-user may not run campaigns."),
    ],
)
def test_cli_refuses_unknown_users_and_wrong_roles(
    world: World, clock: Clock, users: dict[Role, User], username: str, message: str
) -> None:
    campaign = factories.campaign(
        actor=world.marketer, program=world.program, version=world.version
    )
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("campaign_start", str(campaign.pk), user=username, stderr=err)
    assert exit_.value.code == 2
    assert err.getvalue().strip() == message


def test_cli_names_a_missing_campaign(world: World, clock: Clock) -> None:
    err = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("campaign_start", "999999", user=world.marketer.username, stderr=err)
    assert err.getvalue().strip() == "error: No such campaign."
