"""The public web sign-up: the page, double opt-in by YES or e-mail link, and what is sent."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from carereach.audience.models import Contact
from carereach.consent import links
from carereach.consent.inbound import inbound_keyword_handle
from carereach.consent.models import ConsentEntry, ConsentState, Program
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.consent import factories
from tests.consent.conftest import SentNotices

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"
EMAIL = "ana@clinic.example"
SENDER = "+18005550100"
BROWSER = "PhoneBrowser/2.0"


@pytest.fixture
def podcast() -> Program:
    """Double opt-in, for HCPs, by text or e-mail."""
    return factories.program(
        "podcast",
        channels=["sms", "email"],
        web_signup=True,
        signup_kind="hcp",
        replies={},
        terms_url="https://example.org/terms",
    )


@pytest.fixture
def tips() -> Program:
    """No double opt-in; the page asks who the person is."""
    return factories.program(
        "tips",
        channels=["sms", "voice", "email"],
        keywords=["TIPS"],
        sender_numbers=["+18005550111"],
        web_signup=True,
        double_opt_in=False,
    )


def _form(program: Program, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "first_name": "Ana",
        "last_name": "Pedersen",
        "phone": "(415) 555-0123",
        "email": "",
        "channels": ["sms"],
        "disclosure_version": program.disclosure_version,
        "website": "",
    }
    if not program.signup_kind:
        data["kind"] = "patient"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def _post(client: Client, program: Program, **overrides: Any) -> Any:
    return client.post(
        f"/join/{program.code}/",
        _form(program, **overrides),
        headers={"User-Agent": BROWSER},
        REMOTE_ADDR="203.0.113.9",
    )


def _confirm_path(url: str) -> str:
    match = re.search(r"/c/[^/\s]+/", url)
    assert match, url
    return match.group(0)


# -- the page ----------------------------------------------------------------------------------


def test_page_shows_the_disclosure_unticked_boxes_and_a_honeypot(
    client: Client, podcast: Program
) -> None:
    response = client.get("/join/podcast/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Sign up for Podcast program" in html
    assert "Terms of this program, version v1" in html
    assert "Consent is not a condition of purchase" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'name="disclosure_version" value="{podcast.disclosure_version}"' in html
    boxes = re.findall(r'<input type="checkbox" name="channels"[^>]*>', html)
    assert len(boxes) == 2
    assert all("checked" not in box for box in boxes)
    assert 'class="hp" aria-hidden="true"' in html
    assert 'name="website"' in html
    assert 'name="kind"' not in html  # the program says who signs up
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_page_asks_who_the_person_is_when_the_program_does_not_say(
    client: Client, tips: Program
) -> None:
    html = client.get("/join/tips/").content.decode()
    assert 'name="kind" value="hcp"' in html
    assert 'name="kind" value="patient"' in html
    # Texts and e-mail only: calls cannot be confirmed from a web form.
    assert re.findall(r'name="channels" value="(\w+)"', html) == ["sms", "email"]


@pytest.mark.parametrize(
    "program",
    [
        {"code": "closed", "web_signup": False},
        {"code": "ended", "web_signup": True, "active": False},
        {"code": "letters", "web_signup": True, "channels": ["letter"]},
        {"code": "mute", "web_signup": True, "channels": ["sms"], "sender_numbers": []},
    ],
)
def test_page_is_404_unless_the_program_opens_it(client: Client, program: dict[str, Any]) -> None:
    code = program.pop("code")
    factories.program(code, keywords=[code.upper()], **program)
    for path in (f"/join/{code}/", f"/join/{code}/thanks/", "/join/nothing-here/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"This sign-up page is not open" in response.content
    assert client.post(f"/join/{code}/", {}).status_code == 404
    assert not ConsentEntry.objects.exists()


def test_csrf_is_enforced(podcast: Program) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/join/podcast/", _form(podcast))
    assert response.status_code == 403
    assert not ConsentEntry.objects.exists()
    page = client.get("/join/podcast/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token
    ok = client.post("/join/podcast/", {**_form(podcast), "csrfmiddlewaretoken": token.group(1)})
    assert ok.status_code == 302


# -- double opt-in by text ---------------------------------------------------------------------


def test_text_sign_up_is_pending_until_yes(
    client: Client, podcast: Program, sent_notices: SentNotices
) -> None:
    response = _post(client, podcast)
    assert response.status_code == 302
    assert response["Location"] == "/join/podcast/thanks/?sent=sms&step=confirm"
    contact = Contact.objects.get()
    assert contact.kind == "hcp"
    assert contact.hcp.last_name == "Pedersen"
    entry = ConsentEntry.objects.get()
    assert (entry.contact, entry.address, entry.channel, entry.program) == (
        contact,
        PHONE,
        "sms",
        podcast,
    )
    assert (entry.action, entry.method, entry.disclosure_version) == ("pending", "web_form", "v1")
    assert entry.evidence["ip"] == "203.0.113.9"
    assert entry.evidence["user_agent"] == BROWSER
    assert entry.evidence["page"] == "/join/podcast/"
    assert consent_check(address=PHONE, channel="sms", program=podcast).reason == "consent_pending"

    [notice] = sent_notices.calls
    assert (notice.kind, notice.channel, notice.address) == ("double_opt_in_request", "sms", PHONE)
    assert notice.sender == SENDER
    assert notice.program_id == podcast.pk
    assert notice.contact_id == contact.pk
    assert notice.body == (
        "Podcast program: reply YES to get up to 4 msgs/mo. Reply STOP to opt out, HELP for "
        "help. Msg & data rates may apply."
    )

    thanks = client.get(response["Location"]).content.decode()
    assert "reply <strong>YES</strong> to the text" in thanks

    outcome = inbound_keyword_handle(
        sender=SENDER, from_number=PHONE, text="yes", inbound_message_id="SM1"
    )
    assert outcome.programs == [podcast]
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed


def test_a_second_sign_up_the_same_day_sends_one_request(
    client: Client, podcast: Program, sent_notices: SentNotices
) -> None:
    for _ in range(3):
        assert _post(client, podcast).status_code == 302
    assert ConsentEntry.objects.filter(action="pending").count() == 3  # each act is evidence
    assert Contact.objects.count() == 1  # the person is matched by the number the second time
    assert len(sent_notices.of("double_opt_in_request")) == 1


def test_signing_up_again_when_subscribed_asks_nothing(
    client: Client, podcast: Program, sent_notices: SentNotices
) -> None:
    contact = audience.contact(kind="hcp", last_name="Pedersen", phone=PHONE)
    consent_record(
        contact=contact,
        address=PHONE,
        channels=["sms"],
        programs=[podcast],
        action="grant",
        method="verbal",
        actor=None,
    )
    response = _post(client, podcast)
    assert response.status_code == 302
    assert response["Location"].endswith("step=confirm")  # the page tells nobody who is on file
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert sent_notices.calls == []


# -- double opt-in by e-mail -------------------------------------------------------------------


def test_email_sign_up_is_confirmed_by_a_post_to_the_signed_link(
    client: Client, podcast: Program, sent_notices: SentNotices
) -> None:
    response = _post(client, podcast, phone="", email="Ana@Clinic.Example", channels=["email"])
    assert response.status_code == 302
    pending = ConsentEntry.objects.get()
    assert (pending.address, pending.channel, pending.action) == (EMAIL, "email", "pending")
    [request] = sent_notices.calls
    assert (request.kind, request.channel, request.address) == (
        "double_opt_in_request",
        "email",
        EMAIL,
    )
    assert request.subject == "Confirm your subscription to Podcast program"
    link = request.extra["confirm_url"]
    assert link.startswith("http://127.0.0.1:8000/c/")
    assert link in request.body
    assert "works for 7 days" in request.body
    path = _confirm_path(link)

    # A GET (a mail scanner, or the person looking) changes nothing.
    page = client.get(path)
    assert page.status_code == 200
    assert b"Yes, subscribe me" in page.content
    assert b"a\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2@clinic.example" in page.content
    assert ConsentEntry.objects.count() == 1
    assert len(sent_notices.calls) == 1

    sent_notices.clear()
    done = client.post(path, headers={"User-Agent": BROWSER}, REMOTE_ADDR="198.51.100.7")
    assert done.status_code == 200
    assert b"You're subscribed" in done.content
    grant = ConsentEntry.objects.get(action="grant")
    assert (grant.method, grant.channel, grant.disclosure_version) == ("web_form", "email", "v1")
    assert grant.evidence["confirms_entry"] == pending.pk
    assert grant.evidence["ip"] == "198.51.100.7"
    assert consent_check(address=EMAIL, channel="email", program=podcast).allowed
    [confirmation] = sent_notices.calls
    assert (confirmation.kind, confirmation.channel, confirmation.address) == (
        "opt_in_confirmation",
        "email",
        EMAIL,
    )
    state = ConsentState.objects.get(address=EMAIL, channel="email", program=podcast)
    assert links.unsubscribe_url(state) in confirmation.body
    assert confirmation.extra["unsubscribe_url"] == links.unsubscribe_url(state)
    assert "Terms: https://example.org/terms" in confirmation.body

    # A second click changes nothing and sends nothing.
    sent_notices.clear()
    again = client.post(path)
    assert again.status_code == 200
    assert b"Already confirmed" in again.content
    assert ConsentEntry.objects.count() == 2
    assert sent_notices.calls == []


def test_confirm_link_tampered_expired_or_revoked_since(
    client: Client,
    podcast: Program,
    sent_notices: SentNotices,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _post(client, podcast, phone="", email=EMAIL, channels=["email"])
    path = _confirm_path(sent_notices.calls[0].extra["confirm_url"])
    token = path.split("/")[2]

    tampered = client.post(f"/c/{token[:-2]}xx/")
    assert tampered.status_code == 404
    assert b"This link does not work" in tampered.content
    other_salt = links.preferences_token(ConsentState.objects.get())
    assert client.post(f"/c/{other_salt}/").status_code == 404

    revoke = ConsentEntry.objects.get()
    consent_record(
        contact=revoke.contact,
        address=EMAIL,
        channels=["email"],
        programs=[podcast],
        action="revoke",
        method="email_unsubscribe",
        actor=None,
    )
    void = client.post(path)
    assert void.status_code == 410
    assert b"This link no longer applies" in void.content
    assert b"/join/podcast/" in void.content
    assert not consent_check(address=EMAIL, channel="email", program=podcast).allowed

    later = timezone.now().timestamp() + (links.CONFIRM_MAX_AGE + timedelta(hours=1)).seconds
    later += links.CONFIRM_MAX_AGE.days * 86400
    monkeypatch.setattr("time.time", lambda: later)
    expired = client.get(path)
    assert expired.status_code == 410
    assert b"This link has expired" in expired.content
    assert b"work for 7 days" in expired.content
    assert ConsentEntry.objects.filter(action="grant").count() == 0


def test_both_channels_at_once(client: Client, podcast: Program, sent_notices: SentNotices) -> None:
    response = _post(client, podcast, email=EMAIL, channels=["sms", "email"])
    assert response["Location"] == "/join/podcast/thanks/?sent=sms&sent=email&step=confirm"
    assert {(e.channel, e.action) for e in ConsentEntry.objects.all()} == {
        ("sms", "pending"),
        ("email", "pending"),
    }
    assert sorted((n.channel, n.address) for n in sent_notices.calls) == [
        ("email", EMAIL),
        ("sms", PHONE),
    ]
    contact = Contact.objects.get()
    assert set(contact.emails.values_list("address", flat=True)) == {EMAIL}
    assert set(contact.phones.values_list("e164", flat=True)) == {PHONE}


# -- programs without double opt-in ------------------------------------------------------------


def test_without_double_opt_in_it_grants_and_confirms_once(
    client: Client, tips: Program, sent_notices: SentNotices
) -> None:
    response = _post(client, tips, email=EMAIL, channels=["sms", "email"])
    assert response["Location"] == "/join/tips/thanks/?sent=sms&sent=email&step=done"
    assert {(e.channel, e.action, e.method) for e in ConsentEntry.objects.all()} == {
        ("sms", "grant", "web_form"),
        ("email", "grant", "web_form"),
    }
    assert Contact.objects.get().kind == "patient"
    assert consent_check(address=PHONE, channel="sms", program=tips).allowed
    assert not consent_check(address=PHONE, channel="voice", program=tips).allowed
    text, email = sorted(sent_notices.calls, key=lambda n: n.channel, reverse=True)
    assert (text.kind, text.channel, text.address, text.body) == (
        "opt_in_confirmation",
        "sms",
        PHONE,
        "Thanks!",  # the program's own confirmation reply
    )
    assert (email.kind, email.address) == ("opt_in_confirmation", EMAIL)
    assert "Thanks!" in email.body
    assert "Unsubscribe at any time: http://127.0.0.1:8000/u/" in email.body
    assert b"You're signed up" in client.get(response["Location"]).content

    sent_notices.clear()
    _post(client, tips, email=EMAIL, channels=["sms", "email"])
    assert sent_notices.calls == []  # nothing changed: no second confirmation


def test_marketing_sign_up_keeps_written_evidence(
    client: Client, sent_notices: SentNotices
) -> None:
    promo = factories.program(
        "promo", type="marketing", channels=["sms"], web_signup=True, double_opt_in=False
    )
    assert _post(client, promo).status_code == 302
    entry = ConsentEntry.objects.get()
    assert (entry.action, entry.evidence["ip"]) == ("grant", "203.0.113.9")
    assert consent_check(address=PHONE, channel="sms", program=promo).allowed


# -- matching a known contact ------------------------------------------------------------------


def test_known_contact_is_matched_by_number_and_name(client: Client, podcast: Program) -> None:
    known = audience.contact(kind="hcp", first_name="Ana", last_name="Pedersen", phone=PHONE)
    _post(client, podcast, last_name=" pedersen ")
    assert Contact.objects.count() == 1
    assert ConsentEntry.objects.get().contact == known


def test_same_number_other_name_is_someone_else(client: Client, podcast: Program) -> None:
    family = audience.contact(kind="hcp", last_name="Okafor", phone=PHONE)
    _post(client, podcast)
    assert Contact.objects.count() == 2
    entry = ConsentEntry.objects.get()
    assert entry.contact != family
    assert entry.contact.phones.get().e164 == PHONE


def test_an_address_the_known_contact_lacks_makes_a_new_contact(
    client: Client, podcast: Program
) -> None:
    """Audience has no public service to add an address to a known contact yet."""
    known = audience.contact(kind="hcp", last_name="Pedersen", phone=PHONE)
    _post(client, podcast, email=EMAIL, channels=["sms", "email"])
    assert Contact.objects.count() == 2
    new = Contact.objects.exclude(pk=known.pk).get()
    assert {e.contact for e in ConsentEntry.objects.all()} == {new}


def test_a_patient_on_file_is_not_matched_by_an_hcp_sign_up(
    client: Client, podcast: Program
) -> None:
    audience.contact(kind="patient", last_name="Pedersen", phone=PHONE)
    _post(client, podcast)
    assert ConsentEntry.objects.get().contact.kind == "hcp"


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"first_name": "", "last_name": ""}, {"first_name", "last_name"}),
        ({"channels": None}, {"channels"}),
        ({"phone": ""}, {"phone"}),
        ({"phone": "12"}, {"phone"}),
        ({"channels": ["email"], "phone": "", "email": "ana@"}, {"email"}),
        ({"channels": ["email"], "phone": ""}, {"email"}),
        ({"channels": ["fax"]}, {"channels"}),
        ({"phone": "+44 20 7946 0000"}, {"phone"}),  # a landline takes no texts
        ({"disclosure_version": "v0"}, {"disclosure_version"}),
    ],
)
def test_errors_show_by_their_field_and_nothing_is_written(
    client: Client,
    podcast: Program,
    sent_notices: SentNotices,
    overrides: dict[str, Any],
    fields: set[str],
) -> None:
    response = _post(client, podcast, **overrides)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Your sign-up is not recorded" in html
    assert "Nothing was written." in html
    assert set(response.context["form"].errors) == fields
    for field in fields:
        assert f'href="#{field}-field"' in html, field
        assert f'id="{field}-field"' in html, field
    assert not Contact.objects.exists()
    assert not ConsentEntry.objects.exists()
    assert sent_notices.calls == []


def test_field_errors_are_tied_to_their_inputs(client: Client, podcast: Program) -> None:
    html = _post(client, podcast, phone="12").content.decode()
    assert 'aria-invalid="true"' in html
    assert 'aria-describedby="phone-hint phone-error"' in html
    assert '<p class="field-error" id="phone-error">' in html
    assert 'value="12"' in html  # what the person typed stays


def test_the_kind_is_required_when_the_page_asks(client: Client, tips: Program) -> None:
    response = _post(client, tips, kind=None)
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"kind"}
    assert _post(client, tips, kind="robot").status_code == 400
    assert not ConsentEntry.objects.exists()


def test_terms_changed_while_the_page_was_open(client: Client, podcast: Program) -> None:
    html = client.get("/join/podcast/").content.decode()
    assert 'value="v1"' in html
    podcast.disclosure_version = "v2"
    podcast.save()
    response = _post(client, podcast, disclosure_version="v1")
    assert response.status_code == 400
    assert "read them again" in response.content.decode()
    assert "version v2" in response.content.decode()
    assert 'name="disclosure_version" value="v2"' in response.content.decode()
    assert not ConsentEntry.objects.exists()
    assert _post(client, podcast, disclosure_version="v2").status_code == 302
    assert ConsentEntry.objects.get().disclosure_version == "v2"


def test_a_filled_honeypot_looks_like_success_and_writes_nothing(
    client: Client, podcast: Program, sent_notices: SentNotices
) -> None:
    response = _post(client, podcast, website="https://spam.example")
    assert response.status_code == 302
    assert "/join/podcast/thanks/" in response["Location"]
    assert not Contact.objects.exists()
    assert not ConsentEntry.objects.exists()
    assert sent_notices.calls == []


def test_signup_pages_need_no_sign_in_and_console_users_change_nothing(
    signed_in: Any, podcast: Program
) -> None:
    for role in (Role.ADMIN, Role.ANALYST):
        assert signed_in(role).get("/join/podcast/").status_code == 200


def test_a_long_email_address_keeps_the_message_key_short(
    client: Client, podcast: Program, sent_notices: SentNotices
) -> None:
    long_address = "a" * 64 + "@" + ".".join(["sub" + "d" * 56] * 3) + ".example"
    assert len(long_address) > 200
    response = _post(client, podcast, phone="", email=long_address, channels=["email"])
    assert response.status_code == 302
    [request] = sent_notices.calls
    assert request.address == long_address
    assert len(request.key) < 40


# -- the same flow through the API -------------------------------------------------------------


def test_api_sign_up_from_another_sites_form(
    api: Any, podcast: Program, sent_notices: SentNotices
) -> None:
    client = api(Role.CARE_COORDINATOR)
    body = {
        "first_name": "Ana",
        "last_name": "Pedersen",
        "phone": "415-555-0123",
        "channels": ["sms"],
        "disclosure_version": "v1",
        "ip": "203.0.113.5",
        "user_agent": BROWSER,
        "page": "https://brand.example/podcast",
    }
    response = client.post("/api/v1/programs/podcast/signups", body, "application/json")
    assert response.status_code == 201
    data = response.json()
    assert (data["pending"], data["channels"]) == (True, ["sms"])
    entry = ConsentEntry.objects.get(pk=data["entries"][0])
    assert (entry.action, entry.method, entry.contact_id) == (
        "pending",
        "web_form",
        data["contact_id"],
    )
    assert entry.evidence["ip"] == "203.0.113.5"
    assert entry.evidence["passed_on_by"] == "care_coordinator-user"
    assert [n.kind for n in sent_notices.calls] == ["double_opt_in_request"]

    bad = client.post(
        "/api/v1/programs/podcast/signups", {**body, "phone": "12"}, "application/json"
    )
    assert (bad.status_code, bad.json()["field"]) == (400, "phone")
    bad = client.post(
        "/api/v1/programs/podcast/signups", {**body, "ip": "nowhere"}, "application/json"
    )
    assert (bad.status_code, bad.json()["field"]) == (400, "ip")
    bad = client.post(
        "/api/v1/programs/podcast/signups",
        {**body, "disclosure_version": "v0"},
        "application/json",
    )
    assert (bad.status_code, bad.json()["field"]) == (400, "disclosure_version")
    assert ConsentEntry.objects.count() == 1
    refused = api(Role.MARKETER).post("/api/v1/programs/podcast/signups", body, "application/json")
    assert refused.status_code == 403


def test_program_api_opens_the_sign_up_page(api: Any, client: Client) -> None:
    body = {
        "code": "events",
        "name": "Events",
        "type": "informational",
        "channels": ["email"],
        "frequency": "up to 2 msgs/mo",
        "help_contact": "help@example.org",
        "disclosure_text": "You agree to receive e-mails about events.",
        "disclosure_version": "e1",
    }
    admin = api(Role.ADMIN)
    created = admin.post("/api/v1/programs", body, "application/json")
    assert created.status_code == 201
    assert (created.json()["web_signup"], created.json()["signup_kind"]) == (False, "")
    assert client.get("/join/events/").status_code == 404
    opened = admin.put(
        "/api/v1/programs/events",
        {**body, "web_signup": True, "signup_kind": "patient"},
        "application/json",
    )
    assert opened.status_code == 200
    assert client.get("/join/events/").status_code == 200
    wrong = admin.put(
        "/api/v1/programs/events", {**body, "signup_kind": "robot"}, "application/json"
    )
    assert (wrong.status_code, wrong.json()["field"]) == (400, "signup_kind")


def test_one_network_gets_a_limited_number_of_sign_ups(
    client: Client, podcast: Program, sent_notices: SentNotices, settings: Any
) -> None:
    """A script feeding the form numbers (SMS pumping) is stopped after the hourly limit; the
    refused POST writes and sends nothing, and another network is not affected."""
    settings.SIGNUP_PER_HOUR = 2
    numbers = ["+14155550131", "+14155550132", "+14155550133"]
    answers = [_post(client, podcast, phone=number) for number in numbers]
    assert [answer.status_code for answer in answers] == [302, 302, 429]
    assert "Too many sign-ups from this network" in answers[2].content.decode()
    assert set(ConsentEntry.objects.values_list("address", flat=True)) == set(numbers[:2])
    assert len(sent_notices.messages) == 2
    elsewhere = client.post(
        f"/join/{podcast.code}/", _form(podcast, phone="+14155550135"), REMOTE_ADDR="198.51.100.7"
    )
    assert elsewhere.status_code == 302


def test_old_attempts_are_forgotten(client: Client, podcast: Program, settings: Any) -> None:
    from carereach.consent.models import SignupAttempt
    from carereach.consent.throttle import signup_attempts_prune

    settings.SIGNUP_PER_HOUR = 1
    assert _post(client, podcast, phone="+14155550141").status_code == 302
    assert _post(client, podcast, phone="+14155550142").status_code == 429
    SignupAttempt.objects.update(at=timezone.now() - timedelta(days=1, minutes=1))
    assert signup_attempts_prune() == 1
    assert _post(client, podcast, phone="+14155550142").status_code == 302
