"""The content REST API: authoring, review, diff, preview, SMS counts, series, rules, PHI terms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.content.hooks import RetiredVersion
from carereach.security.roles import Role
from tests.audience import factories as audience

pytestmark = pytest.mark.django_db
Api = Callable[[Role], Client]
SMS = "Heart Matters: hi {{ first_name }} {{ tracked_link }} Reply STOP to opt out."


def _post(client: Client, url: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(url, data or {}, content_type="application/json")


def _item(code: str = "ep-1", text: str = SMS, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "title": code.title(),
        "kind": "podcast_episode",
        "program": "cardio",
        "version": {
            "bodies": [{"channel": "sms", "language": "en", "text": text}],
            "media_url": "https://media.example.org/ep.mp3",
            **extra,
        },
    }


APPROVAL = {
    "review_code": "MLR-9",
    "valid_from": "2020-01-01T00:00:00Z",
    "valid_until": "2099-01-01T00:00:00Z",
}


def test_author_to_reviewer_round_trip(
    api: Api, cardio: Program, retired_calls: list[RetiredVersion]
) -> None:
    author, reviewer = api(Role.MARKETER), api(Role.COMPLIANCE)
    created = _post(author, "/api/v1/content/items", _item())
    assert created.status_code == 201, created.json()
    item = created.json()
    version_id = item["versions"][0]["id"]
    assert item["versions"][0]["status"] == "draft"
    assert (
        _post(author, f"/api/v1/content/versions/{version_id}/submit").json()["status"]
        == "in_review"
    )
    queue = reviewer.get("/api/v1/content/review").json()
    assert [v["id"] for v in queue] == [version_id]
    refused = _post(author, f"/api/v1/content/versions/{version_id}/approve", APPROVAL)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    approved = _post(reviewer, f"/api/v1/content/versions/{version_id}/approve", APPROVAL)
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert (body["status"], body["review_code"], body["reviewer"]) == (
        "approved",
        "MLR-9",
        "compliance_reviewer-user",
    )
    changed = author.put(
        f"/api/v1/content/versions/{version_id}",
        {"bodies": [{"channel": "sms", "language": "en", "text": SMS + " v2"}]},
        content_type="application/json",
    ).json()
    assert (changed["number"], changed["status"], changed["based_on_id"]) == (
        2,
        "draft",
        version_id,
    )
    diff = author.get(
        f"/api/v1/content/items/{item['id']}/diff?a={version_id}&b={changed['id']}"
    ).json()
    text = next(section for section in diff if section["title"] == "Text message (en): text")
    assert text["changed"] is True
    assert text["rows"][0]["kind"] == "changed"
    withdrawn = _post(
        reviewer, f"/api/v1/content/versions/{version_id}/withdraw", {"reason": "label change"}
    ).json()
    assert withdrawn["version"]["status"] == "withdrawn"
    assert withdrawn["cancelled"] == 2
    assert retired_calls[0].version_id == version_id


def test_admin_may_not_approve_own_version(api: Api, cardio: Program) -> None:
    admin = api(Role.ADMIN)
    version_id = _post(admin, "/api/v1/content/items", _item()).json()["versions"][0]["id"]
    _post(admin, f"/api/v1/content/versions/{version_id}/submit")
    response = _post(admin, f"/api/v1/content/versions/{version_id}/approve", APPROVAL)
    assert response.status_code == 403
    assert "another reviewer" in response.json()["message"]


def test_bad_input_is_refused_specifically(api: Api, cardio: Program) -> None:
    author, reviewer = api(Role.MARKETER), api(Role.COMPLIANCE)
    template = _post(author, "/api/v1/content/items", _item(text="Hi {{ first_name }"))
    assert template.status_code == 400
    assert template.json()["code"] == "template"
    assert template.json()["line"] == 1
    assert template.json()["field"] == "bodies.0.text"
    blocks = _post(
        author,
        "/api/v1/content/items",
        _item(code="promo", text="Heartwell works.", promotional=True, brand_name="Heartwell"),
    )
    version_id = blocks.json()["versions"][0]["id"]
    refused = _post(author, f"/api/v1/content/versions/{version_id}/submit")
    assert refused.status_code == 400
    assert refused.json()["code"] == "required_block"
    assert "generic name" in refused.json()["message"]
    ok = _post(author, "/api/v1/content/items", _item(code="ok")).json()["versions"][0]["id"]
    _post(author, f"/api/v1/content/versions/{ok}/submit")
    window = _post(
        reviewer,
        f"/api/v1/content/versions/{ok}/approve",
        {**APPROVAL, "valid_until": "2019-01-01T00:00:00Z"},
    )
    assert window.status_code == 400
    assert window.json() == {
        "code": "invalid",
        "message": "The validity window ends before it starts.",
        "field": "valid_until",
    }


def test_preview_and_sms_info(api: Api, cardio: Program) -> None:
    author = api(Role.MARKETER)
    version_id = _post(author, "/api/v1/content/items", _item()).json()["versions"][0]["id"]
    preview = _post(
        author,
        f"/api/v1/content/versions/{version_id}/preview",
        {"channel": "sms", "language": "en", "recipient": "patient"},
    ).json()
    assert preview["text"].startswith("Heart Matters: hi Maria http://127.0.0.1:8000/l/PREVIEW")
    assert preview["links"] == ["https://media.example.org/ep.mp3"]
    assert preview["sms"]["encoding"] == "GSM-7"
    info = _post(author, "/api/v1/content/sms-info", {"text": "Caf\u00e9 \u2014 m\u00e1s"}).json()
    assert info["analysis"]["encoding"] == "UCS-2"
    assert info["analysis"]["non_gsm"] == ["\u2014", "\u00e1"]
    assert info["replaced_text"] == "Caf\u00e9 - mas"
    assert info["replaced"]["encoding"] == "GSM-7"


def test_series_rules_and_phi_terms(api: Api, cardio: Program) -> None:
    author, reviewer, admin = api(Role.MARKETER), api(Role.COMPLIANCE), api(Role.ADMIN)
    series = _post(
        author, "/api/v1/content/series", {"code": "heart", "name": "Heart", "program": "cardio"}
    )
    assert series.status_code == 201
    series_id = series.json()["id"]
    ids = []
    for number in (1, 2):
        payload = {**_item(code=f"heart-{number}"), "series": "heart"}
        ids.append(_post(author, "/api/v1/content/items", payload).json()["id"])
    ordered = author.put(
        f"/api/v1/content/series/{series_id}/order",
        {"items": ids[::-1]},
        content_type="application/json",
    ).json()
    assert [e["code"] for e in ordered["episodes"]] == ["heart-2", "heart-1"]
    bad = author.put(
        f"/api/v1/content/series/{series_id}/order",
        {"items": ids[:1]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    rules = admin.put(
        "/api/v1/content/programs/cardio/rules",
        {"sms_footer_required": False, "sms_segment_limit": 4, "postal_address": "1 Main St"},
        content_type="application/json",
    ).json()
    assert (rules["sms_segment_limit"], rules["saved"]) == (4, True)
    assert reviewer.get("/api/v1/content/programs/cardio/rules").status_code == 403
    added = _post(reviewer, "/api/v1/content/phi-terms", {"term": "Lupus", "category": "diagnosis"})
    assert added.status_code == 201
    assert "Lupus" in [t["term"] for t in reviewer.get("/api/v1/content/phi-terms").json()]
    assert (
        _post(
            reviewer, "/api/v1/content/phi-terms", {"term": "lupus", "category": "diagnosis"}
        ).status_code
        == 409
    )
    assert reviewer.delete(f"/api/v1/content/phi-terms/{added.json()['id']}").status_code == 204
    assert (
        _post(author, "/api/v1/content/phi-terms", {"term": "x", "category": "test"}).status_code
        == 403
    )


def test_eligibility_endpoint(api: Api, cardio: Program, author: User, reviewer: User) -> None:
    patient: Contact = audience.contact(kind="patient", first_name="Eva", last_name="Ruiz")
    marketer, compliance = api(Role.MARKETER), api(Role.COMPLIANCE)
    version_id = _post(marketer, "/api/v1/content/items", _item(contact_kinds=["hcp"])).json()[
        "versions"
    ][0]["id"]
    _post(marketer, f"/api/v1/content/versions/{version_id}/submit")
    _post(compliance, f"/api/v1/content/versions/{version_id}/approve", APPROVAL)
    check = _post(
        api(Role.CARE_COORDINATOR),
        f"/api/v1/content/versions/{version_id}/eligibility",
        {"contact_id": patient.pk, "channel": "sms"},
    ).json()
    assert check == {
        "eligible": False,
        "reason": "wrong_contact_kind",
        "message": "the version is not for this kind of contact",
    }
    assert (
        _post(
            compliance,
            f"/api/v1/content/versions/{version_id}/eligibility",
            {"contact_id": patient.pk},
        ).status_code
        == 403
    )
