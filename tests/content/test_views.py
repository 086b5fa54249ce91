"""Console pages of the content app, each with the users who must be refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.content.models import ContentItem, ContentVersion, ProgramPolicy, VersionStatus
from carereach.content.services import version_submit
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.content import factories

pytestmark = pytest.mark.django_db
SignedIn = Callable[[Role], Client]
SMS = "Heart Matters: hi {{ first_name }} {{ tracked_link }} Reply STOP to opt out."


def _item_post(**overrides: str) -> dict[str, str]:
    data = {
        "code": "ep-9",
        "title": "Episode 9",
        "kind": "podcast_episode",
        "body-sms-en-text": SMS,
        "media_url": "https://media.example.org/ep9.mp3",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/content/", {Role.ADMIN, Role.MARKETER}),
        ("/content/review/", {Role.ADMIN, Role.COMPLIANCE}),
        ("/content/composer/", {Role.ADMIN, Role.MARKETER}),
        ("/content/series/", {Role.ADMIN, Role.MARKETER}),
        ("/content/programs/", {Role.ADMIN, Role.MARKETER}),
    ],
)
def test_pages_and_who_is_refused(
    signed_in: SignedIn, client: Client, url: str, allowed: set[Role]
) -> None:
    for role in Role:
        response = signed_in(role).get(url)
        assert response.status_code == (200 if role in allowed else 403), (role, url)
    assert client.get(url).status_code == 302


def test_author_creates_an_item_on_the_page(signed_in: SignedIn, cardio: Program) -> None:
    client = signed_in(Role.MARKETER)
    response = client.post("/content/items/new/", _item_post(program=str(cardio.pk)))
    item = ContentItem.objects.get(code="ep-9")
    assert response.status_code == 302
    assert response["Location"] == f"/content/items/{item.pk}/"
    page = client.get(response["Location"])
    assert b"Episode 9" in page.content
    assert b"Submit for review" in page.content
    version = item.versions.get()
    assert version.bodies.get().text == SMS


def test_template_errors_show_the_position(signed_in: SignedIn, cardio: Program) -> None:
    client = signed_in(Role.MARKETER)
    response = client.post(
        "/content/items/new/", _item_post(**{"body-sms-en-text": "Hi\n{{ firstname }}"})
    )
    assert response.status_code == 400
    assert "Unknown field “firstname”".encode() in response.content
    assert b"line 2, column 4" in response.content
    assert not ContentItem.objects.exists()


def test_composer_count_and_replace(signed_in: SignedIn) -> None:
    client = signed_in(Role.MARKETER)
    text = "It\u2019s \u201ctime\u201d"
    count = client.post(
        "/content/composer/count/", {"slot": "scratch", "field": "text", "text": text}
    )
    assert count.status_code == 200
    assert b"UCS-2" in count.content
    assert b"U+2019" in count.content
    assert b"<mark>" in count.content
    assert b"Replace 3 kinds of character" in count.content
    replaced = client.post(
        "/content/composer/replace/", {"slot": "scratch", "field": "text", "text": text}
    )
    assert replaced.status_code == 200
    assert b"It&#x27;s &quot;time&quot;</textarea>" in replaced.content
    assert b"GSM-7" in replaced.content
    assert b"Replaced 3 characters" in replaced.content
    assert (
        signed_in(Role.COMPLIANCE).post("/content/composer/count/", {"text": "x"}).status_code
        == 403
    )


def test_editing_an_approved_version_on_the_page_makes_a_draft(
    signed_in: SignedIn, author: User, reviewer: User, cardio: Program
) -> None:
    item = factories.item(actor=author, program=cardio, bodies=[factories.sms(SMS)])
    approved = factories.approve(factories.first_version(item), author=author, reviewer=reviewer)
    client = signed_in(Role.MARKETER)
    page = client.get(f"/content/versions/{approved.pk}/edit/")
    assert b"Save as new draft" in page.content
    response = client.post(
        f"/content/versions/{approved.pk}/edit/",
        {"body-sms-en-text": SMS + " New.", "media_url": approved.media_url},
    )
    draft = item.versions.get(number=2)
    assert response["Location"] == f"/content/versions/{draft.pk}/edit/"
    assert draft.status == VersionStatus.DRAFT
    submit = client.post(f"/content/versions/{draft.pk}/submit/")
    assert submit.status_code == 302
    draft.refresh_from_db()
    assert draft.status == VersionStatus.IN_REVIEW
    diff = client.get(f"/content/items/{item.pk}/diff/?a={approved.pk}&b={draft.pk}")
    assert b"<ins>" + (SMS + " New.").encode() in diff.content.replace(b"&quot;", b'"')


def test_reviewer_approves_on_the_page(
    signed_in: SignedIn, author: User, reviewer: User, cardio: Program
) -> None:
    item = factories.item(actor=author, program=cardio, bodies=[factories.sms(SMS)])
    version = version_submit(version=factories.first_version(item), actor=author)
    client = signed_in(Role.COMPLIANCE)
    queue = client.get("/content/review/")
    assert f"/content/review/{version.pk}/".encode() in queue.content
    page = client.get(f"/content/review/{version.pk}/")
    assert b"Approve" in page.content
    preview = client.get(
        f"/content/review/{version.pk}/preview/?recipient=hcp&body=sms/en",
        headers={"HX-Request": "true"},
    )
    assert b"Heart Matters: hi Ana" in preview.content
    bad = client.post(
        f"/content/review/{version.pk}/",
        {
            "action": "approve",
            "review_code": "MLR-7",
            "valid_from": "2030-01-02T00:00",
            "valid_until": "2030-01-01T00:00",
        },
    )
    assert bad.status_code == 400
    assert b"ends before it starts" in bad.content
    ok = client.post(
        f"/content/review/{version.pk}/",
        {
            "action": "approve",
            "review_code": "MLR-7",
            "valid_from": "2020-01-01T00:00",
            "valid_until": "2099-01-01T00:00",
            "supersede": "on",
        },
    )
    assert ok.status_code == 302
    version.refresh_from_db()
    assert (version.status, version.review_code, version.reviewer) == (
        "approved",
        "MLR-7",
        reviewer,
    )
    assert signed_in(Role.MARKETER).get(f"/content/review/{version.pk}/").status_code == 403
    withdraw = client.post(
        f"/content/review/{version.pk}/", {"action": "withdraw", "reason": "label"}
    )
    assert withdraw.status_code == 302
    version.refresh_from_db()
    assert version.status == VersionStatus.WITHDRAWN


def test_admin_cannot_approve_what_they_wrote(
    signed_in: SignedIn, users: dict[Role, User], cardio: Program
) -> None:
    admin = users[Role.ADMIN]
    item = factories.item(actor=admin, program=cardio, bodies=[factories.sms(SMS)])
    version = version_submit(version=factories.first_version(item), actor=admin)
    response = signed_in(Role.ADMIN).post(
        f"/content/review/{version.pk}/",
        {
            "action": "approve",
            "review_code": "MLR-7",
            "valid_from": "2020-01-01T00:00",
            "valid_until": "2099-01-01T00:00",
        },
    )
    assert response.status_code == 400
    assert b"another reviewer" in response.content


def test_preview_of_a_real_patient_masks_phi_without_view_phi(
    signed_in: SignedIn, author: User, users: dict[Role, User], cardio: Program
) -> None:
    patient: Contact = audience.contact(kind="patient", first_name="Maria", last_name="Gomez")
    item = factories.item(actor=author, program=cardio, bodies=[factories.sms(SMS)])
    version = factories.first_version(item)
    url = f"/content/versions/{version.pk}/preview/?recipient={patient.pk}&body=sms/en"
    masked = signed_in(Role.MARKETER).get(url, headers={"HX-Request": "true"})
    assert b"[first name]" in masked.content
    assert b"Maria" not in masked.content
    admin = signed_in(Role.ADMIN).get(url, headers={"HX-Request": "true"})
    assert b"hi Maria" in admin.content
    assert AuditEntry.objects.filter(
        action="read", object_type="contact", object_id=str(patient.pk), actor=users[Role.ADMIN]
    ).exists()


def test_series_pages_order_episodes(signed_in: SignedIn, author: User, cardio: Program) -> None:
    client = signed_in(Role.MARKETER)
    created = client.post(
        "/content/series/", {"code": "heart", "name": "Heart Matters", "program": cardio.pk}
    )
    assert created.status_code == 302
    series_url = created["Location"]
    series_id = int(series_url.rstrip("/").split("/")[-1])
    for number in (1, 2, 3):
        client.post(
            "/content/items/new/",
            _item_post(code=f"heart-{number}", title=f"Episode {number}", series=str(series_id)),
        )
    episodes = list(ContentItem.objects.filter(series_id=series_id).order_by("episode_number"))
    assert [e.code for e in episodes] == ["heart-1", "heart-2", "heart-3"]
    client.post(series_url, {"item": episodes[2].pk, "move": "up"})
    order = list(
        ContentItem.objects.filter(series_id=series_id)
        .order_by("episode_number")
        .values_list("code", flat=True)
    )
    assert order == ["heart-1", "heart-3", "heart-2"]
    page = client.get(series_url).content
    episodes_html = page[page.index(b'data-testid="episodes"') :]
    assert episodes_html.index(b"Episode 3") < episodes_html.index(b"Episode 2")


def test_program_rules_page(signed_in: SignedIn, cardio: Program) -> None:
    client = signed_in(Role.MARKETER)
    response = client.post(
        "/content/programs/",
        {
            "program": cardio.code,
            f"{cardio.code}-sms_footer_required": "on",
            f"{cardio.code}-sms_segment_limit": "2",
            f"{cardio.code}-postal_address": "1 Main St",
        },
    )
    assert response.status_code == 302
    policy = ProgramPolicy.objects.get(program=cardio)
    assert (policy.sms_segment_limit, policy.postal_address) == (2, "1 Main St")
    assert policy.phi_to_accepted_channels is False


def test_library_filters(signed_in: SignedIn, author: User, cardio: Program) -> None:
    factories.item(actor=author, code="alpha", program=cardio)
    factories.item(actor=author, code="beta", program=cardio, kind="survey")
    client = signed_in(Role.MARKETER)
    page = client.get("/content/?kind=survey")
    assert b"Beta" in page.content
    assert b"Alpha" not in page.content
    assert b"Alpha" in client.get("/content/?q=alp").content


def test_version_pages_404(signed_in: SignedIn) -> None:
    client = signed_in(Role.ADMIN)
    for url in (
        "/content/items/999/",
        "/content/versions/999/edit/",
        "/content/review/999/",
        "/content/series/999/",
    ):
        assert client.get(url).status_code == 404


def test_draft_version_is_not_reviewable_twice(
    signed_in: SignedIn, author: User, cardio: Program
) -> None:
    item = factories.item(actor=author, program=cardio, bodies=[factories.sms(SMS)])
    version: ContentVersion = factories.first_version(item)
    response = signed_in(Role.COMPLIANCE).post(
        f"/content/review/{version.pk}/", {"action": "changes", "comments": "No."}
    )
    assert response.status_code == 400
    assert b"not in review" in response.content
