"""The campaigns REST API: typed input and output, problems by field, capabilities per route."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carereach.campaigns.models import Campaign, CampaignStatus
from carereach.messaging.runtime import worker_tick
from carereach.security.roles import MATRIX, Capability, Role
from tests.campaigns import factories
from tests.campaigns.conftest import Clock, World

pytestmark = pytest.mark.django_db

Api = Callable[[Role], Client]


def _post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(
        "/api/v1" + url, data=json.dumps(body or {}), content_type="application/json"
    )


def _body(world: World, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Episode 12",
        "program": world.program.code,
        "content_version": world.version.pk,
        "channel": "sms",
        "query": "kind = hcp",
    } | fields


def test_create_preview_start_progress_pause_resume_cancel(
    world: World, clock: Clock, api: Api
) -> None:
    client = api(Role.MARKETER)
    response = _post(client, "/campaigns", _body(world))
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["status"] == "draft"
    assert created["promotional"] is False
    pk = created["id"]

    preview = client.get(f"/api/v1/campaigns/{pk}/preview").json()
    assert (preview["total"], preview["receive"], preview["hold"], preview["skip"]) == (5, 3, 1, 2)
    groups = {group["code"]: group for group in preview["groups"]}
    assert groups["no_consent"]["sample_contact_ids"] == [world.people["stranger"].pk]
    assert preview["sample_text"].startswith("Heart Matters: hi Ana")

    started = _post(client, f"/campaigns/{pk}/start").json()
    assert started["status"] == "running"
    worker_tick("w1")
    progress = client.get(f"/api/v1/campaigns/{pk}/progress").json()
    assert (progress["delivered"], progress["queued"], progress["skipped"]) == (2, 1, 2)
    assert progress["skip_reasons"] == {"no_consent": 1, "consent_revoked": 1}

    paused = _post(client, f"/campaigns/{pk}/pause").json()
    assert (paused["campaign"]["status"], paused["affected"]) == ("paused", 1)
    resumed = _post(client, f"/campaigns/{pk}/resume").json()
    assert (resumed["campaign"]["status"], resumed["affected"]) == ("running", 1)
    cancelled = _post(client, f"/campaigns/{pk}/cancel", {"reason": "enough"}).json()
    assert (cancelled["campaign"]["status"], cancelled["affected"]) == ("cancelled", 1)
    assert cancelled["campaign"]["status_note"] == "enough"
    listed = client.get("/api/v1/campaigns?status=cancelled").json()
    assert [row["id"] for row in listed] == [pk]


def test_bad_input_comes_back_by_field(world: World, clock: Clock, api: Api) -> None:
    client = api(Role.MARKETER)
    response = _post(
        client,
        "/campaigns",
        _body(world, channel="letter", schedule="at", send_at="2026-11-23T09:00:00Z", query=""),
    )
    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid"
    fields = {error["field"]: error["message"] for error in data["errors"]}
    assert fields == {
        "channel": "Campaigns cannot send by letter yet.",
        "send_at": "That time has passed; choose a time in the future.",
        "segment": "Choose a saved segment or write a query.",
    }
    assert (data["field"], data["message"]) == ("channel", "Campaigns cannot send by letter yet.")

    response = _post(client, "/campaigns", _body(world, program="nope"))
    assert (response.status_code, response.json()["field"]) == (400, "program")
    response = _post(client, "/campaigns", _body(world, content_version=999999))
    assert (response.status_code, response.json()["field"]) == (400, "content_version")
    response = _post(client, "/campaigns", _body(world, schedule="someday"))
    assert (response.status_code, response.json()["field"]) == (400, "schedule")
    assert not Campaign.objects.exists()


def test_a_naive_send_time_is_taken_as_utc(world: World, clock: Clock, api: Api) -> None:
    response = _post(
        api(Role.MARKETER), "/campaigns", _body(world, schedule="at", send_at="2026-11-24T15:00")
    )
    assert response.status_code == 201, response.json()
    assert response.json()["send_at"].startswith("2026-11-24T15:00:00")


def test_edit_a_draft_and_test_send(world: World, clock: Clock, api: Api) -> None:
    client = api(Role.CARE_COORDINATOR)
    pk = _post(client, "/campaigns", _body(world)).json()["id"]
    response = client.put(
        f"/api/v1/campaigns/{pk}",
        data=json.dumps(_body(world, name="Renamed")),
        content_type="application/json",
    )
    assert response.json()["name"] == "Renamed"
    response = _post(client, f"/campaigns/{pk}/test-send", {"address": "+14155550177"})
    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    response = _post(client, f"/campaigns/{pk}/test-send", {"address": "555"})
    assert (response.status_code, response.json()["field"]) == (400, "address")
    assert client.get("/api/v1/campaigns/999999").status_code == 404


def test_sign_off_needs_a_reviewer_who_is_not_the_author(
    world: World, clock: Clock, api: Api
) -> None:
    program = factories.program("launch", type="marketing", name="Heartwell")
    version = factories.approved_version(
        program, author=world.marketer, reviewer=world.reviewer, code="launch-1"
    )
    admin = api(Role.ADMIN)
    pk = _post(admin, "/campaigns", _body(world, program="launch", content_version=version.pk))
    pk = pk.json()["id"]
    response = _post(admin, f"/campaigns/{pk}/start")
    assert (response.status_code, response.json()["code"]) == (400, "signoff_required")
    assert _post(admin, f"/campaigns/{pk}/submit").json()["status"] == "awaiting_signoff"
    waiting = api(Role.COMPLIANCE).get("/api/v1/campaigns/sign-off").json()
    assert [row["id"] for row in waiting] == [pk]

    response = _post(api(Role.MARKETER), f"/campaigns/{pk}/sign-off", {"decision": "signoff"})
    assert response.status_code == 403
    response = _post(admin, f"/campaigns/{pk}/sign-off", {"decision": "signoff"})
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    response = _post(
        api(Role.COMPLIANCE), f"/campaigns/{pk}/sign-off", {"decision": "signoff", "note": "ok"}
    )
    assert response.status_code == 200
    assert response.json()["signed_off_by"] == "compliance_reviewer-user"
    assert Campaign.objects.get(pk=pk).status in (CampaignStatus.RUNNING, CampaignStatus.DONE)


def _operations(pk: int) -> list[tuple[str, str, Capability]]:
    return [
        ("get", "/campaigns", Capability.RUN_CAMPAIGNS),
        ("post", "/campaigns", Capability.RUN_CAMPAIGNS),
        ("get", f"/campaigns/{pk}", Capability.RUN_CAMPAIGNS),
        ("put", f"/campaigns/{pk}", Capability.RUN_CAMPAIGNS),
        ("get", f"/campaigns/{pk}/preview", Capability.RUN_CAMPAIGNS),
        ("get", f"/campaigns/{pk}/progress", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/test-send", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/start", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/submit", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/draft", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/pause", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/resume", Capability.RUN_CAMPAIGNS),
        ("post", f"/campaigns/{pk}/cancel", Capability.RUN_CAMPAIGNS),
        ("get", "/campaigns/sign-off", Capability.REVIEW_CONTENT),
        ("post", f"/campaigns/{pk}/sign-off", Capability.REVIEW_CONTENT),
    ]


@pytest.mark.parametrize("role", list(Role))
def test_wrong_roles_get_403_on_every_operation(
    role: Role, world: World, clock: Clock, api: Api
) -> None:
    campaign = factories.campaign(
        actor=world.marketer, program=world.program, version=world.version
    )
    client = api(role)
    for method, url, capability in _operations(campaign.pk):
        if capability in MATRIX[role]:
            continue
        response = client.generic(
            method.upper(),
            "/api/v1" + url,
            data=json.dumps({"decision": "signoff"}),
            content_type="application/json",
        )
        assert response.status_code == 403, (role, method, url)
        assert response.json()["code"] == "forbidden"
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_anonymous_gets_401(world: World, clock: Clock, client: Client) -> None:
    for method, url, _ in _operations(1):
        response = client.generic(method.upper(), "/api/v1" + url)
        assert response.status_code == 401, url
