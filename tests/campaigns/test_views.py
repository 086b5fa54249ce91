"""Campaign console pages: field-level errors, preview, start, progress, test send, sign-off,
and every page refused to the wrong users."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.campaigns.selectors import campaign_get
from carereach.campaigns.services.lifecycle import campaign_start, campaign_submit
from carereach.channels.models import SandboxMessage
from carereach.messaging.models import Message
from carereach.messaging.runtime import worker_tick
from carereach.security.roles import MATRIX, Capability, Role
from tests.campaigns import factories
from tests.campaigns.conftest import Clock, World

pytestmark = pytest.mark.django_db

SignedIn = Callable[[Role], Client]
RUNNERS = [role for role in Role if Capability.RUN_CAMPAIGNS in MATRIX[role]]
REVIEWERS = [role for role in Role if Capability.REVIEW_CONTENT in MATRIX[role]]


@pytest.fixture
def campaign(world: World) -> Campaign:
    return factories.campaign(actor=world.marketer, program=world.program, version=world.version)


def _form(world: World, **fields: str) -> dict[str, str]:
    return {
        "name": "Episode 12 to everyone",
        "program": str(world.program.pk),
        "content_version": str(world.version.pk),
        "channel": "sms",
        "segment": "",
        "query": "kind = hcp",
        "schedule_kind": "now",
        "send_at": "",
        "local_date": "",
        "local_time": "",
        "expires_at": "",
    } | fields


def test_create_preview_start_and_watch_progress(
    world: World, clock: Clock, signed_in: SignedIn
) -> None:
    client = signed_in(Role.MARKETER)
    response = client.post("/campaigns/new/", _form(world))
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert response["Location"] == f"/campaigns/{campaign.pk}/"

    page = client.get(response["Location"]).content.decode()
    assert f'hx-get="/campaigns/{campaign.pk}/preview/"' in page
    assert "Start now" in page
    preview = client.get(f"/campaigns/{campaign.pk}/preview/").content.decode()
    assert '<strong data-testid="preview-receive">3</strong> of 5 will receive it' in preview
    assert 'data-testid="preview-no_consent"' in preview
    assert f'href="/audience/contacts/{world.people["stranger"].pk}/"' in preview
    assert "Heart Matters: hi Ana, episode 12 is out:" in preview

    response = client.post(f"/campaigns/{campaign.pk}/start/")
    assert response.status_code == 302
    campaign = campaign_get(campaign_id=campaign.pk)
    assert campaign.status == CampaignStatus.RUNNING  # the first batch went at once
    worker_tick("w1")
    progress = client.get(f"/campaigns/{campaign.pk}/progress/").content.decode()
    assert '<span class="figure" data-testid="count-delivered">2</span>' in progress
    assert 'hx-trigger="every 2s"' in progress  # still polling: Honolulu waits
    assert 'data-testid="skip-no_consent">1 · No consent</li>' in progress
    assert Message.objects.filter(key__startswith=campaign.trigger_key + ":").count() == 5


def test_bad_input_shows_each_problem_by_its_field(
    world: World, clock: Clock, signed_in: SignedIn
) -> None:
    client = signed_in(Role.MARKETER)
    other = factories.program("texts", channels=["sms"], name="Texts only")
    response = client.post(
        "/campaigns/new/",
        _form(
            world,
            program=str(other.pk),
            channel="email",
            schedule_kind="at",
            send_at="2026-11-23T10:00",
            query='kind = hcp and state = "ZZ"',
        ),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        '<p class="field-error" id="id_send_at_error">'
        "That time has passed; choose a time in the future.</p>"
    ) in page
    assert "Texts only does not use email; it uses: text message." in page
    assert "belongs to the program Heart Matters." in page
    assert "This segment selects no contacts you may reach." in page
    assert not Campaign.objects.exists()

    response = client.post("/campaigns/new/", _form(world, query="kind = doctor"))
    assert response.status_code == 400
    assert 'id="id_query_error"' in response.content.decode()


def test_edit_changes_only_a_draft(world: World, campaign: Campaign, signed_in: SignedIn) -> None:
    client = signed_in(Role.MARKETER)
    response = client.post(f"/campaigns/{campaign.pk}/edit/", _form(world, name="Renamed"))
    assert response.status_code == 302
    assert campaign_get(campaign_id=campaign.pk).name == "Renamed"
    campaign_start(campaign=campaign, actor=world.marketer)
    response = client.get(f"/campaigns/{campaign.pk}/edit/")
    assert response.status_code == 302  # back to the campaign, with a message


def test_pause_resume_and_cancel_buttons(
    world: World, campaign: Campaign, clock: Clock, signed_in: SignedIn
) -> None:
    client = signed_in(Role.CARE_COORDINATOR)
    client.post(f"/campaigns/{campaign.pk}/start/")
    assert client.post(f"/campaigns/{campaign.pk}/pause/").status_code == 302
    assert campaign_get(campaign_id=campaign.pk).status == CampaignStatus.PAUSED
    page = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'data-testid="resume"' in page
    assert client.post(f"/campaigns/{campaign.pk}/resume/").status_code == 302
    response = client.post(f"/campaigns/{campaign.pk}/cancel/", {"reason": "wrong list"})
    assert response.status_code == 302
    campaign = campaign_get(campaign_id=campaign.pk)
    assert (campaign.status, campaign.status_note) == (CampaignStatus.CANCELLED, "wrong list")
    response = client.post(f"/campaigns/{campaign.pk}/pause/")
    assert response.status_code == 400
    assert "A cancelled campaign cannot be paused." in response.content.decode()
    assert client.post(f"/campaigns/{campaign.pk}/explode/").status_code == 404


def test_a_test_send_from_the_page(
    world: World, campaign: Campaign, clock: Clock, signed_in: SignedIn
) -> None:
    client = signed_in(Role.MARKETER)
    response = client.post(f"/campaigns/{campaign.pk}/test/", {"address": "nope"})
    assert response.status_code == 400
    assert 'id="id_address_error"' in response.content.decode()
    response = client.post(f"/campaigns/{campaign.pk}/test/", {"address": "415-555-0177"})
    assert response.status_code == 302
    worker_tick("w1")
    (sent,) = SandboxMessage.objects.filter(to="+14155550177")
    assert (sent.body or "").startswith("[TEST] ")


def test_a_promotional_campaign_is_signed_off_by_a_reviewer(
    world: World, clock: Clock, signed_in: SignedIn, users: dict[Role, User]
) -> None:
    program = factories.program("launch", type="marketing", name="Heartwell")
    version = factories.approved_version(
        program, author=world.marketer, reviewer=world.reviewer, code="launch-1"
    )
    campaign = factories.campaign(actor=world.marketer, program=program, version=version)
    marketer = signed_in(Role.MARKETER)
    page = marketer.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert "Send for sign-off" in page
    assert 'data-testid="start"' not in page
    response = marketer.post(f"/campaigns/{campaign.pk}/start/")
    assert response.status_code == 400
    assert "must sign it off before it starts" in response.content.decode()
    assert marketer.post(f"/campaigns/{campaign.pk}/submit/").status_code == 302

    reviewer = signed_in(Role.COMPLIANCE)
    queue = reviewer.get("/campaigns/sign-off/").content.decode()
    assert f'data-testid="signoff-{campaign.pk}"' in queue
    page = reviewer.get(f"/campaigns/sign-off/{campaign.pk}/").content.decode()
    assert f'hx-get="/campaigns/sign-off/{campaign.pk}/preview/"' in page
    preview = reviewer.get(f"/campaigns/sign-off/{campaign.pk}/preview/").content.decode()
    assert 'data-testid="preview-no_consent"' in preview
    response = reviewer.post(
        f"/campaigns/sign-off/{campaign.pk}/", {"decision": "signoff", "note": "Fine."}
    )
    assert response.status_code == 302
    campaign = campaign_get(campaign_id=campaign.pk)
    assert campaign.signed_off_by == users[Role.COMPLIANCE]
    assert campaign.status in (CampaignStatus.RUNNING, CampaignStatus.DONE)


def test_the_author_cannot_sign_off_their_own_campaign(
    world: World, clock: Clock, signed_in: SignedIn, users: dict[Role, User]
) -> None:
    program = factories.program("launch", type="marketing", name="Heartwell")
    version = factories.approved_version(
        program, author=world.marketer, reviewer=world.reviewer, code="launch-1"
    )
    admin = users[Role.ADMIN]
    campaign = factories.campaign(actor=admin, program=program, version=version)
    campaign_submit(campaign=campaign, actor=admin)
    response = signed_in(Role.ADMIN).post(
        f"/campaigns/sign-off/{campaign.pk}/", {"decision": "signoff", "note": ""}
    )
    assert response.status_code == 400
    assert "another reviewer must sign it off" in response.content.decode()
    assert campaign_get(campaign_id=campaign.pk).status == CampaignStatus.AWAITING_SIGNOFF


def _pages(campaign: Campaign) -> list[tuple[str, str, Capability]]:
    pk = campaign.pk
    return [
        ("get", "/campaigns/", Capability.RUN_CAMPAIGNS),
        ("get", "/campaigns/new/", Capability.RUN_CAMPAIGNS),
        ("get", f"/campaigns/{pk}/", Capability.RUN_CAMPAIGNS),
        ("get", f"/campaigns/{pk}/edit/", Capability.RUN_CAMPAIGNS),
        ("get", f"/campaigns/{pk}/preview/", Capability.RUN_CAMPAIGNS),
        ("get", f"/campaigns/{pk}/progress/", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/test/", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/start/", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/pause/", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/resume/", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/cancel/", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/submit/", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/draft/", Capability.RUN_CAMPAIGNS),
        ("get", "/campaigns/sign-off/", Capability.REVIEW_CONTENT),
        ("get", f"/campaigns/sign-off/{pk}/", Capability.REVIEW_CONTENT),
        ("post", f"/campaigns/sign-off/{pk}/", Capability.REVIEW_CONTENT),
        ("get", f"/campaigns/sign-off/{pk}/preview/", Capability.REVIEW_CONTENT),
    ]


@pytest.mark.parametrize("role", list(Role))
def test_wrong_users_are_refused_every_page(
    role: Role, campaign: Campaign, signed_in: SignedIn
) -> None:
    client = signed_in(role)
    for method, url, capability in _pages(campaign):
        if capability in MATRIX[role]:
            continue
        response = getattr(client, method)(url, {"decision": "signoff"} if method == "post" else {})
        assert response.status_code == 403, (role, url)
        assert b"Not allowed" in response.content
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT  # nothing changed by a refused request


def test_anonymous_users_go_to_sign_in(campaign: Campaign, client: Client) -> None:
    for method, url, _ in _pages(campaign):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/signin/?next=")


@pytest.mark.parametrize("role", RUNNERS)
def test_runners_reach_the_campaign_pages(
    role: Role, campaign: Campaign, signed_in: SignedIn
) -> None:
    client = signed_in(role)
    for method, url, capability in _pages(campaign):
        if method == "get" and capability == Capability.RUN_CAMPAIGNS:
            assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role", REVIEWERS)
def test_reviewers_reach_the_sign_off_pages(
    role: Role, campaign: Campaign, signed_in: SignedIn
) -> None:
    client = signed_in(role)
    for method, url, capability in _pages(campaign):
        if method == "get" and capability == Capability.REVIEW_CONTENT:
            assert client.get(url).status_code == 200, url


def test_the_menu_shows_campaigns_to_those_who_run_them(signed_in: SignedIn) -> None:
    assert b'href="/campaigns/"' in signed_in(Role.MARKETER).get("/campaigns/").content
    page = signed_in(Role.COMPLIANCE).get("/campaigns/sign-off/").content
    assert b'href="/campaigns/sign-off/"' in page
    assert b'href="/campaigns/">' not in page
