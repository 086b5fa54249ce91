"""Tracked links on the slim ASGI path (what `carereach web`, `demo` and `ingest` serve): the
redirect goes out at once, the request is stored by the click writer shortly after, classified
as the Django view classifies it (tests/content/test_links.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from starlette.testclient import TestClient

from carereach.asgi import application
from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.content.models import ClickKind, LinkClick, TrackedLink
from carereach.content.rendering import Rendered, content_render
from carereach.content.services import version_withdraw
from carereach.content.tracking import ClickRecord, link_clicks_record, link_delivered
from carereach.ingest.app import writers_close
from carereach.ingest.links import clicks
from tests.audience import factories as audience
from tests.content import factories
from tests.content.test_links import BROWSER

pytestmark = pytest.mark.django_db(transaction=True)  # the writer commits from its own thread


@pytest.fixture
def sent(author: User, reviewer: User, cardio: Program) -> Rendered:
    doctor: Contact = audience.contact(kind="hcp", first_name="Ana", last_name="Lee")
    item = factories.item(actor=author, program=cardio)
    version = factories.approve(factories.first_version(item), author=author, reviewer=reviewer)
    return content_render(
        version=version, contact=doctor, channel="sms", language="en", message_key="msg-42"
    )


@pytest.fixture
def client() -> Iterator[TestClient]:
    yield TestClient(application, base_url="http://testserver", follow_redirects=False)
    writers_close()  # fresh caches and writers for the next test


def _path(rendered: Rendered) -> str:
    return "/l/" + rendered.links[0].token


def _stored() -> list[LinkClick]:
    assert clicks.get().flush()
    return list(LinkClick.objects.order_by("id"))


def test_a_person_is_redirected_at_once_and_the_click_stored_after(
    client: TestClient, sent: Rendered
) -> None:
    link_delivered(message_key="msg-42", at=timezone.now() - timedelta(minutes=5))
    for _ in range(3):  # the second and third come from the cache
        response = client.get(_path(sent), headers={"user-agent": BROWSER})
        assert response.status_code == 302
        assert response.headers["location"] == "https://media.example.org/ep1.mp3"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "no-store" in response.headers["cache-control"]
    stored = _stored()
    assert [(c.kind, c.method, c.available) for c in stored] == [("human", "GET", True)] * 3
    assert {c.link.token for c in stored} == {sent.links[0].token}


@pytest.mark.parametrize(
    ("method", "agent", "kind"),
    [
        ("head", BROWSER, ClickKind.HEAD),
        ("get", "Mozilla/5.0 (compatible; Googlebot/2.1)", ClickKind.SCANNER),
        ("get", "Barracuda Sentinel (EE)", ClickKind.SCANNER),
        ("get", "", ClickKind.SCANNER),
    ],
)
def test_machines_are_redirected_and_recorded_not_counted(
    client: TestClient, sent: Rendered, method: str, agent: str, kind: ClickKind
) -> None:
    response = client.request(method.upper(), _path(sent), headers={"user-agent": agent})
    assert response.status_code == 302
    assert [c.kind for c in _stored()] == [kind]


def test_a_request_just_after_delivery_is_a_prefetch(client: TestClient, sent: Rendered) -> None:
    link_delivered(message_key="msg-42", at=timezone.now())
    assert client.get(_path(sent), headers={"user-agent": BROWSER}).status_code == 302
    assert [c.kind for c in _stored()] == [ClickKind.PREFETCH]


def test_a_batch_is_classified_by_the_delivery_time_when_it_is_written(sent: Rendered) -> None:
    """The redirect went out before the receipt arrived; the receipt was stored before the
    click batch: the batch reads the delivery time and counts the request as a prefetch."""
    link = TrackedLink.objects.get(token=sent.links[0].token)
    now = timezone.now()
    link_delivered(message_key="msg-42", at=now - timedelta(milliseconds=300))
    stored = link_clicks_record(
        clicks=[
            ClickRecord(link_id=link.pk, at=now, method="GET", user_agent=BROWSER, available=True),
            ClickRecord(
                link_id=link.pk,
                at=now + timedelta(seconds=5),
                method="get",
                user_agent=BROWSER,
                available=True,
            ),
            ClickRecord(link_id=-1, at=now, method="GET", user_agent=BROWSER, available=True),
        ]
    )
    assert stored == 2  # the request for a link that no longer exists is not stored
    kinds = list(LinkClick.objects.order_by("at").values_list("kind", "method"))
    assert kinds == [("prefetch", "GET"), ("human", "GET")]


def test_withdrawn_content_is_410_and_recorded_as_unavailable(
    client: TestClient, sent: Rendered, reviewer: User
) -> None:
    version = TrackedLink.objects.get(token=sent.links[0].token).version
    version_withdraw(version=version, actor=reviewer, reason="label change")
    response = client.get(_path(sent), headers={"user-agent": BROWSER})
    assert response.status_code == 410
    assert "no longer available" in response.text
    assert "media.example.org" not in response.text
    assert [c.available for c in _stored()] == [False]


@pytest.mark.parametrize("token", ["AAAAAAAAAAAAAA", "short", "has-dash-inside", "x" * 40])
def test_unknown_or_malformed_tokens_get_a_plain_404_and_nothing_stored(
    client: TestClient, sent: Rendered, token: str
) -> None:
    response = client.get(f"/l/{token}")
    assert response.status_code == 404
    assert "Not found" in response.text
    assert "media.example.org" not in response.text
    assert _stored() == []


def test_post_is_not_served(client: TestClient, sent: Rendered) -> None:
    # Only GET and HEAD reach the link route; a POST falls through to Django, whose CSRF check
    # refuses it (`carereach ingest` alone answers 405).
    assert client.post(_path(sent)).status_code in (403, 405)
    assert _stored() == []
