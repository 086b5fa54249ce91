"""Signed links: tokens, the preference page and RFC 8058 one-click unsubscribe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent import links
from carereach.consent.models import ConsentEntry, ConsentState, Program
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record
from carereach.errors import ValidationError
from tests.audience import factories as audience
from tests.consent import factories

pytestmark = pytest.mark.django_db

PHONE = "+14155550101"
EMAIL = "lee.park@example.org"
ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def person() -> Contact:
    return audience.contact(kind="patient", first_name="Lee", phone=PHONE, email=EMAIL)


@pytest.fixture
def podcast() -> Program:
    return factories.program("podcast")


@pytest.fixture
def news() -> Program:
    return factories.program("news", channels=["email"], keywords=["NEWS"])


def _grant(contact: Contact, program: Program, address: str, channels: list[str]) -> None:
    consent_record(
        contact=contact,
        address=address,
        channels=channels,
        programs=[program],
        action="grant",
        method="in_person",
        actor=None,
        evidence={"typed_name": "Lee Park"},
    )


def _state(address: str, channel: str, program: Program) -> ConsentState:
    return ConsentState.objects.get(address=address, channel=channel, program=program)


@pytest.fixture
def subscribed(person: Contact, podcast: Program, news: Program) -> Contact:
    _grant(person, podcast, EMAIL, ["email"])
    _grant(person, news, EMAIL, ["email"])
    _grant(person, podcast, PHONE, ["sms", "voice"])
    return person


def _unsubscribe_path(program: Program) -> str:
    return "/u/" + links.unsubscribe_token(_state(EMAIL, "email", program)) + "/"


def _preferences_path(address: str, channel: str, program: Program) -> str:
    return "/p/" + links.preferences_token(_state(address, channel, program)) + "/"


# -- tokens ------------------------------------------------------------------------------------


def test_token_holds_no_contact_or_address(subscribed: Contact, podcast: Program) -> None:
    state = _state(EMAIL, "email", podcast)
    token = links.unsubscribe_token(state)
    assert links.unsubscribe_state(token) == state
    payload = signing.loads(token, salt=links.UNSUBSCRIBE_SALT)
    assert payload == {"s": state.pk}
    assert EMAIL not in token
    assert "lee" not in token.lower()


def test_tokens_are_bound_to_their_purpose(subscribed: Contact, podcast: Program) -> None:
    state = _state(EMAIL, "email", podcast)
    with pytest.raises(links.LinkInvalid):
        links.unsubscribe_state(links.preferences_token(state))
    with pytest.raises(ValueError, match="e-mail"):
        links.unsubscribe_token(_state(PHONE, "sms", podcast))


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-10] + ("B" if t[-10] == "A" else "A") + t[-9:],  # the signature
        lambda t: "e30" + t[3:],
        lambda t: signing.dumps({"s": 10**9}, salt=links.UNSUBSCRIBE_SALT),
        lambda t: signing.dumps({"s": "1"}, salt=links.UNSUBSCRIBE_SALT),
        lambda t: signing.dumps({"s": 1}, salt="another.salt"),
        lambda t: "not-a-token",
    ],
)
def test_tampered_tokens_get_a_plain_404(
    client: Client, subscribed: Contact, podcast: Program, mangle: object
) -> None:
    token = links.unsubscribe_token(_state(EMAIL, "email", podcast))
    bad = mangle(token)  # type: ignore[operator]
    for path in (f"/u/{bad}/", f"/p/{bad}/"):
        form = "application/x-www-form-urlencoded"
        for response in (client.get(path), client.post(path, ONE_CLICK, content_type=form)):
            assert response.status_code == 404, path
            html = response.content.decode()
            assert "This link does not work" in html
            assert "@" not in html
            assert "Podcast" not in html
    assert not ConsentEntry.objects.filter(action="revoke").exists()


def test_expired_tokens_get_410_and_do_nothing(
    client: Client, subscribed: Contact, podcast: Program, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _unsubscribe_path(podcast)
    preferences = _preferences_path(EMAIL, "email", podcast)
    assert client.get(path).status_code == 200
    # Still working past the 30 days CAN-SPAM asks for.
    later = timezone.now().timestamp() + timedelta(days=31).total_seconds()
    monkeypatch.setattr("time.time", lambda: later)
    assert client.get(path).status_code == 200
    expired = timezone.now().timestamp() + (links.LINK_MAX_AGE + timedelta(days=1)).total_seconds()
    monkeypatch.setattr("time.time", lambda: expired)
    gone = client.post(path, ONE_CLICK, content_type="application/x-www-form-urlencoded")
    assert gone.status_code == 410
    assert b"This link has expired" in gone.content
    assert client.get(preferences).status_code == 410
    assert not ConsentEntry.objects.filter(action="revoke").exists()


# -- one-click unsubscribe ---------------------------------------------------------------------


def test_get_never_unsubscribes(client: Client, subscribed: Contact, podcast: Program) -> None:
    path = _unsubscribe_path(podcast)
    for _ in range(3):
        response = client.get(path)
        assert response.status_code == 200
        assert b"Unsubscribe from Podcast program?" in response.content
        assert b'<form method="post">' in response.content
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "same-origin"
    assert client.head(path).status_code in {200, 405}
    assert not ConsentEntry.objects.filter(action="revoke").exists()
    assert consent_check(address=EMAIL, channel="email", program=podcast).allowed


def test_one_click_post_revokes_exactly_that_programs_email(
    subscribed: Contact, podcast: Program, news: Program
) -> None:
    # A mail provider: no session, no CSRF token, just the RFC 8058 body.
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(
        _unsubscribe_path(podcast),
        ONE_CLICK,
        content_type="application/x-www-form-urlencoded",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 200
    revoke = ConsentEntry.objects.get(action="revoke")
    assert (revoke.address, revoke.channel, revoke.program) == (EMAIL, "email", podcast)
    assert revoke.method == "email_unsubscribe"
    assert revoke.captured_by is None
    assert revoke.evidence["one_click"] is True
    assert revoke.evidence["ip"] == "203.0.113.9"
    assert not consent_check(address=EMAIL, channel="email", program=podcast).allowed
    assert consent_check(address=EMAIL, channel="email", program=news).allowed
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert consent_check(address=PHONE, channel="voice", program=podcast).allowed

    again = provider.post(
        _unsubscribe_path(podcast), ONE_CLICK, content_type="application/x-www-form-urlencoded"
    )
    assert again.status_code == 200
    assert ConsentEntry.objects.filter(action="revoke").count() == 1, "a retry writes nothing"


def test_the_confirmation_button_unsubscribes(
    client: Client, subscribed: Contact, podcast: Program
) -> None:
    path = _unsubscribe_path(podcast)
    page = client.get(path).content.decode()
    assert 'name="List-Unsubscribe" value="One-Click"' in page
    done = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert b"You are unsubscribed" in done.content
    assert not consent_check(address=EMAIL, channel="email", program=podcast).allowed


def test_unsubscribe_headers_follow_rfc_8058(
    subscribed: Contact, podcast: Program, settings: object
) -> None:
    settings.CARE_PUBLIC_URL = "https://care.example.org/"  # type: ignore[attr-defined]
    headers = links.unsubscribe_headers(EMAIL, podcast, mailto="unsubscribe@care.example.org")
    assert set(headers) == {"List-Unsubscribe", "List-Unsubscribe-Post"}
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    match = re.fullmatch(
        r"<(https://care\.example\.org/u/([^/>]+)/)>, <mailto:unsubscribe@care\.example\.org"
        r"\?subject=unsubscribe%20podcast>",
        headers["List-Unsubscribe"],
    )
    assert match, headers["List-Unsubscribe"]
    assert links.unsubscribe_state(match.group(2)) == _state(EMAIL, "email", podcast)
    assert "," not in match.group(1)
    assert " " not in match.group(1)
    only_https = links.unsubscribe_headers(EMAIL, podcast)
    assert only_https["List-Unsubscribe"].startswith("<https://care.example.org/u/")
    assert "mailto" not in only_https["List-Unsubscribe"]


def test_unsubscribe_headers_need_an_email_consent_record(person: Contact, news: Program) -> None:
    with pytest.raises(ValidationError, match="nothing to unsubscribe from"):
        links.unsubscribe_headers(EMAIL, news)


def test_public_url_defaults_to_the_local_server(
    subscribed: Contact, podcast: Program, settings: object
) -> None:
    if hasattr(settings, "CARE_PUBLIC_URL"):
        del settings.CARE_PUBLIC_URL
    url = links.unsubscribe_url(_state(EMAIL, "email", podcast))
    assert url.startswith("http://127.0.0.1:8000/u/")


# -- the preference page -----------------------------------------------------------------------


def test_preference_page_lists_the_address_programs_and_channels(
    client: Client, subscribed: Contact, podcast: Program
) -> None:
    response = client.get(_preferences_path(PHONE, "sms", podcast))
    assert response.status_code == 200
    html = response.content.decode()
    assert "••• ••• 0101" in html
    assert PHONE not in html
    assert "Podcast program: text messages" in html
    assert "Podcast program: voice calls" in html
    assert "News program" not in html  # an e-mail program: another address
    assert "csrfmiddlewaretoken" in html
    assert "no-store" in response["Cache-Control"]


def test_preference_page_needs_csrf(subscribed: Contact, podcast: Program) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(_preferences_path(PHONE, "sms", podcast), {"keep": []})
    assert response.status_code == 403
    assert not ConsentEntry.objects.filter(action="revoke").exists()


def test_preference_page_untick_revokes_and_tick_opts_in_again(
    client: Client, subscribed: Contact, podcast: Program
) -> None:
    path = _preferences_path(PHONE, "sms", podcast)
    sms, voice = (f"{c}:{podcast.pk}" for c in ("sms", "voice"))
    stopped = client.post(path, {"keep": [voice]}, REMOTE_ADDR="198.51.100.7")
    assert stopped.status_code == 200
    assert b"Saved: stopped 1" in stopped.content
    revoke = ConsentEntry.objects.get(action="revoke")
    assert (revoke.channel, revoke.method, revoke.program) == ("sms", "preference_page", podcast)
    assert not consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert consent_check(address=PHONE, channel="voice", program=podcast).allowed

    again = client.post(path, {"keep": [sms, voice]}, headers={"User-Agent": "Phone/2"})
    assert b"started again 1" in again.content
    regrant = ConsentEntry.objects.filter(action="grant").latest("id")
    assert (regrant.channel, regrant.method) == ("sms", "preference_page")
    assert regrant.evidence["user_agent"] == "Phone/2"
    assert regrant.evidence["ip"]
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed

    client.post(path, {"keep": [sms, voice], "stop_all": "1"})
    assert not consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert not consent_check(address=PHONE, channel="voice", program=podcast).allowed


def test_preference_page_never_opts_in_without_an_earlier_grant(
    client: Client, person: Contact, podcast: Program
) -> None:
    consent_record(
        contact=person,
        address=PHONE,
        channels=["sms"],
        programs=[podcast],
        action="pending",
        method="keyword",
        actor=None,
        evidence={"inbound_message_id": "SM1"},
    )
    path = _preferences_path(PHONE, "sms", podcast)
    html = client.get(path).content.decode()
    assert "disabled" in html
    client.post(path, {"keep": [f"sms:{podcast.pk}"]})
    assert not consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert ConsentEntry.objects.count() == 1


def test_preference_page_marketing_reopt_in_records_ip_and_user_agent(
    client: Client, person: Contact
) -> None:
    promo = factories.program("promo", type="marketing", channels=["sms"], keywords=["PROMO"])
    _grant(person, promo, PHONE, ["sms"])
    path = _preferences_path(PHONE, "sms", promo)
    client.post(path, {"keep": []})
    response = client.post(path, {"keep": [f"sms:{promo.pk}"]}, headers={"User-Agent": "P/1"})
    assert response.status_code == 200
    assert consent_check(address=PHONE, channel="sms", program=promo).allowed
