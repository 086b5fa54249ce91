"""Tracked links: redirects, scanners and prefetchers, retired content, unknown tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent.models import Program
from carereach.content.clicks import click_kind, is_scanner_agent
from carereach.content.models import ClickKind, LinkClick, TrackedLink
from carereach.content.rendering import Rendered, content_render
from carereach.content.services import version_withdraw, versions_expire_due
from carereach.content.tracking import link_click_record, link_delivered
from tests.audience import factories as audience
from tests.content import factories

pytestmark = pytest.mark.django_db
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
)


@pytest.fixture
def sent(author: User, reviewer: User, cardio: Program) -> Rendered:
    doctor: Contact = audience.contact(kind="hcp", first_name="Ana", last_name="Lee")
    item = factories.item(actor=author, program=cardio)
    version = factories.approve(factories.first_version(item), author=author, reviewer=reviewer)
    return content_render(
        version=version, contact=doctor, channel="sms", language="en", message_key="msg-42"
    )


def _path(rendered: Rendered) -> str:
    return "/l/" + rendered.links[0].token


def test_a_person_is_redirected_and_counted(client: Client, sent: Rendered) -> None:
    link_delivered(message_key="msg-42", at=timezone.now() - timedelta(minutes=5))
    response = client.get(_path(sent), headers={"user-agent": BROWSER})
    assert response.status_code == 302
    assert response["Location"] == "https://media.example.org/ep1.mp3"
    assert response["Referrer-Policy"] == "no-referrer"
    click = LinkClick.objects.get()
    assert (click.kind, click.method, click.available) == (ClickKind.HUMAN, "GET", True)


@pytest.mark.parametrize(
    ("method", "agent", "kind"),
    [
        ("head", BROWSER, ClickKind.HEAD),
        ("get", "Mozilla/5.0 (compatible; Googlebot/2.1)", ClickKind.SCANNER),
        ("get", "Mozilla/5.0 facebookexternalhit/1.1 Facebot Twitterbot/1.0", ClickKind.SCANNER),
        ("get", "Barracuda Sentinel (EE)", ClickKind.SCANNER),
        ("get", "python-requests/2.32", ClickKind.SCANNER),
        ("get", "", ClickKind.SCANNER),
    ],
)
def test_machines_are_recorded_not_counted(
    client: Client, sent: Rendered, method: str, agent: str, kind: ClickKind
) -> None:
    response = getattr(client, method)(_path(sent), headers={"user-agent": agent})
    assert response.status_code == 302  # they still get the redirect
    assert LinkClick.objects.get().kind == kind


def test_a_click_within_a_second_of_delivery_is_a_prefetch(sent: Rendered) -> None:
    delivered = timezone.now()
    assert link_delivered(message_key="msg-42", at=delivered) == 1
    token = sent.links[0].token
    fast = link_click_record(
        token=token, method="GET", user_agent=BROWSER, at=delivered + timedelta(milliseconds=400)
    )
    slow = link_click_record(
        token=token, method="GET", user_agent=BROWSER, at=delivered + timedelta(seconds=3)
    )
    assert (fast.kind, slow.kind) == (ClickKind.PREFETCH, ClickKind.HUMAN)


def test_a_receipt_after_the_click_recounts_it(sent: Rendered) -> None:
    """The gateway clicked before the delivery receipt reached us: still a machine."""
    now = timezone.now()
    token = sent.links[0].token
    early = link_click_record(token=token, method="GET", user_agent=BROWSER, at=now)
    assert early.kind == ClickKind.HUMAN
    link_delivered(message_key="msg-42", at=now - timedelta(milliseconds=200))
    assert LinkClick.objects.get().kind == ClickKind.PREFETCH
    assert TrackedLink.objects.get(token=token).delivered_at is not None


def test_withdrawn_content_shows_no_longer_available(
    client: Client, sent: Rendered, reviewer: User
) -> None:
    version = TrackedLink.objects.get(token=sent.links[0].token).version
    version_withdraw(version=version, actor=reviewer, reason="label change")
    response = client.get(_path(sent), headers={"user-agent": BROWSER})
    assert response.status_code == 410
    assert b"no longer available" in response.content
    assert b"media.example.org" not in response.content
    assert LinkClick.objects.get().available is False


def test_expired_content_shows_no_longer_available(client: Client, sent: Rendered) -> None:
    versions_expire_due(now=timezone.now() + timedelta(days=60))
    response = client.get(_path(sent), headers={"user-agent": BROWSER})
    assert response.status_code == 410


@pytest.mark.parametrize("token", ["AAAAAAAAAAAAAA", "short", "has-dash-inside", "x" * 40, "%00"])
def test_unknown_or_tampered_tokens_get_a_plain_404(
    client: Client, sent: Rendered, token: str
) -> None:
    response = client.get(f"/l/{token}")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Not found" in body
    assert "Sign in" not in body
    assert "media.example.org" not in body
    tampered = sent.links[0].token[:-1] + ("a" if sent.links[0].token[-1] != "a" else "b")
    assert client.get(f"/l/{tampered}").status_code == 404


def test_post_is_not_allowed(client: Client, sent: Rendered) -> None:
    assert client.post(_path(sent)).status_code == 405
    assert LinkClick.objects.count() == 0


def test_click_rules_pure() -> None:
    now = timezone.now()
    assert is_scanner_agent("")
    assert is_scanner_agent("curl/8.5")
    assert not is_scanner_agent(BROWSER)
    assert (
        click_kind(method="GET", user_agent=BROWSER, at=now, delivered_at=None) == ClickKind.HUMAN
    )
    assert (
        click_kind(
            method="GET", user_agent=BROWSER, at=now, delivered_at=now - timedelta(seconds=1)
        )
        == ClickKind.HUMAN
    )
    assert (
        click_kind(
            method="GET", user_agent=BROWSER, at=now, delivered_at=now + timedelta(seconds=5)
        )
        == ClickKind.PREFETCH
    )
