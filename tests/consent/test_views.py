"""Consent console pages: the contact's timeline, rep capture, staff revocation, proof."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.audience.models import Contact, Territory
from carereach.audience.services import territory_assign_rep, territory_create
from carereach.consent.models import ConsentEntry, ConsentState, Program
from carereach.consent.selectors import consent_check
from carereach.consent.services import consent_record
from carereach.errors import ValidationError
from carereach.security.models import AuditEntry
from carereach.security.roles import MATRIX, Capability, Role
from tests.audience import factories as audience
from tests.consent import factories
from tests.consent.conftest import SentNotices

pytestmark = pytest.mark.django_db

PHONE = "+14155550101"
EMAIL = "ana@clinic.example"
PATIENT_PHONE = "+14155550177"
# A 1x1 transparent PNG: enough to pass the signature checks.
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
    )
).decode()
SIGNATURE = "data:image/png;base64," + PNG


@pytest.fixture
def west() -> Territory:
    return territory_create(code="W1", name="West", actor=None)


@pytest.fixture
def hcp(west: Territory) -> Contact:
    return audience.contact(
        kind="hcp",
        first_name="Ana",
        last_name="Pedersen",
        territory="W1",
        phone=PHONE,
        email=EMAIL,
    )


@pytest.fixture
def elsewhere() -> Contact:
    territory_create(code="E1", name="East", actor=None)
    return audience.contact(kind="hcp", first_name="Gus", last_name="Gerhardt", territory="E1")


@pytest.fixture
def rep(users: dict[Role, User], west: Territory) -> User:
    territory_assign_rep(territory=west, rep=users[Role.FIELD_REP], actor=None)
    return users[Role.FIELD_REP]


@pytest.fixture
def podcast() -> Program:
    return factories.program("podcast")


@pytest.fixture
def promo() -> Program:
    return factories.program("promo", type="marketing", channels=["sms"], keywords=["PROMO"])


@pytest.fixture
def newsletter() -> Program:
    return factories.program("newsletter", channels=["email"], keywords=["NEWS"])


def _address(contact: Contact, kind: str) -> str:
    if kind == "phone":
        return f"phone:{contact.phones.get().pk}"
    return f"email:{contact.emails.get().pk}"


def _grant(contact: Contact, program: Program, address: str = PHONE) -> None:
    consent_record(
        contact=contact,
        address=address,
        channels=[c for c in program.channels if (c == "email") == ("@" in address)],
        programs=[program],
        action="grant",
        method="in_person",
        actor=None,
        evidence={"typed_name": "Ana Pedersen", "signature": SIGNATURE},
    )


# -- who may see what --------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_pages_follow_the_matrix(
    role: Role,
    signed_in: Callable[[Role], Client],
    rep: User,
    hcp: Contact,
    podcast: Program,
) -> None:
    client = signed_in(role)
    pages = {
        f"/consent/contacts/{hcp.pk}/": Capability.VIEW_CONSENT,
        f"/consent/contacts/{hcp.pk}/proof/": Capability.VIEW_CONSENT,
        f"/consent/contacts/{hcp.pk}/proof.json": Capability.VIEW_CONSENT,
        f"/consent/capture/{hcp.pk}/": Capability.CAPTURE_CONSENT,
        f"/consent/revoke/{hcp.pk}/": Capability.CAPTURE_CONSENT,
    }
    for url, capability in pages.items():
        response = client.get(url)
        expected = 200 if capability in MATRIX[role] else 403
        assert response.status_code == expected, f"{role} {url}"


def test_anonymous_is_sent_to_sign_in(client: Client, hcp: Contact) -> None:
    for url in (
        f"/consent/contacts/{hcp.pk}/",
        f"/consent/contacts/{hcp.pk}/proof/",
        f"/consent/contacts/{hcp.pk}/proof.json",
        f"/consent/capture/{hcp.pk}/",
        f"/consent/revoke/{hcp.pk}/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/signin/?next=")
    assert client.post(f"/consent/capture/{hcp.pk}/", {}).status_code == 302
    assert not ConsentEntry.objects.exists()


def test_rep_gets_404_outside_their_territory(
    signed_in: Callable[[Role], Client], rep: User, elsewhere: Contact, podcast: Program
) -> None:
    client = signed_in(Role.FIELD_REP)
    for url in (
        f"/consent/contacts/{elsewhere.pk}/",
        f"/consent/contacts/{elsewhere.pk}/proof/",
        f"/consent/capture/{elsewhere.pk}/",
        f"/consent/revoke/{elsewhere.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(f"/consent/revoke/{elsewhere.pk}/", {"reason": "x"})
    assert response.status_code == 404
    assert signed_in(Role.ADMIN).get(f"/consent/contacts/{elsewhere.pk}/").status_code == 200


# -- the timeline ------------------------------------------------------------------------------


def test_contact_page_loads_the_timeline_and_it_shows_state_and_history(
    signed_in: Callable[[Role], Client], rep: User, hcp: Contact, podcast: Program
) -> None:
    _grant(hcp, podcast)
    client = signed_in(Role.FIELD_REP)
    detail = client.get(f"/audience/contacts/{hcp.pk}/").content.decode()
    assert f'hx-get="/consent/contacts/{hcp.pk}/"' in detail

    fragment = client.get(f"/consent/contacts/{hcp.pk}/", headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "<html" not in html
    assert "Record consent" in html
    assert "Record revocation" in html
    assert PHONE in html  # an HCP's number is directory data
    assert "Podcast program" in html
    assert "Text message" in html
    assert "Voice call" in html
    assert "Yes" in html
    assert "typed name “Ana Pedersen”" in html
    assert "signature" in html
    page = client.get(f"/consent/contacts/{hcp.pk}/")
    assert b"<html" in page.content


def test_timeline_without_capture_has_no_record_buttons(
    signed_in: Callable[[Role], Client], hcp: Contact
) -> None:
    html = signed_in(Role.COMPLIANCE).get(f"/consent/contacts/{hcp.pk}/").content.decode()
    assert "No consent recorded yet." in html
    assert "Record consent" not in html


def test_patient_consent_is_masked_without_phi(
    signed_in: Callable[[Role], Client], west: Territory, podcast: Program
) -> None:
    patient = audience.contact(
        kind="patient", first_name="Lee", last_name="Park", territory="W1", phone=PATIENT_PHONE
    )
    _grant(patient, podcast, PATIENT_PHONE)
    hidden = signed_in(Role.COMPLIANCE).get(f"/consent/contacts/{patient.pk}/").content.decode()
    assert PATIENT_PHONE not in hidden
    assert "Ana Pedersen" not in hidden  # the typed name
    assert "0177" in hidden
    proof = signed_in(Role.COMPLIANCE).get(f"/consent/contacts/{patient.pk}/proof/")
    assert PATIENT_PHONE.encode() not in proof.content
    assert SIGNATURE.encode() not in proof.content
    refused = signed_in(Role.COMPLIANCE).get(f"/consent/contacts/{patient.pk}/proof.json")
    assert refused.status_code == 403
    shown = signed_in(Role.CARE_COORDINATOR).get(f"/consent/contacts/{patient.pk}/")
    assert PATIENT_PHONE.encode() in shown.content
    assert AuditEntry.objects.filter(
        object_type="consent_timeline", object_id=str(patient.pk), action="read"
    ).exists()


# -- capture -----------------------------------------------------------------------------------


def test_capture_page_offers_the_contacts_addresses_and_active_programs(
    signed_in: Callable[[Role], Client],
    rep: User,
    hcp: Contact,
    podcast: Program,
    newsletter: Program,
) -> None:
    factories.program("closed", keywords=["CLOSED"], active=False)
    html = signed_in(Role.FIELD_REP).get(f"/consent/capture/{hcp.pk}/").content.decode()
    assert _address(hcp, "phone") in html
    assert _address(hcp, "email") in html
    assert PHONE in html
    assert EMAIL in html
    assert "Podcast program" in html
    assert "Newsletter program" in html
    assert "Closed program" not in html
    assert "Disclosure, version v1" in html
    assert "Consent is not a condition of purchase" in html
    assert " checked" not in html.split('name="programs"', 1)[1].split(">", 1)[0]
    assert "consent/consent.js" in html


def test_capture_writes_grants_with_evidence_and_a_receipt(
    signed_in: Callable[[Role], Client],
    rep: User,
    hcp: Contact,
    podcast: Program,
    promo: Program,
    sent_notices: SentNotices,
) -> None:
    client = signed_in(Role.FIELD_REP)
    response = client.post(
        f"/consent/capture/{hcp.pk}/",
        {
            "address": _address(hcp, "phone"),
            "programs": ["podcast", "promo"],
            "signature": SIGNATURE,
            "typed_name": "",
        },
        headers={"User-Agent": "TabletBrowser/1.0"},
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    entries = list(ConsentEntry.objects.order_by("program__code", "channel"))
    assert [(e.program.code, e.channel) for e in entries if e.program] == [
        ("podcast", "sms"),
        ("podcast", "voice"),
        ("promo", "sms"),
    ]
    for entry in entries:
        assert entry.action == "grant"
        assert entry.method == "in_person"
        assert entry.address == PHONE
        assert entry.captured_by == rep
        assert entry.disclosure_version == "v1"
        assert entry.evidence["signature"] == SIGNATURE
        assert entry.evidence["ip"] == "10.1.2.3"
        assert entry.evidence["user_agent"] == "TabletBrowser/1.0"
        assert "Reply STOP to opt out" in entry.evidence["receipt"]
        assert "Podcast program" in entry.evidence["receipt"]
    assert consent_check(address=PHONE, channel="sms", program=promo).allowed

    # The receipt goes to the person by text, once, listing what they agreed to and how to stop.
    assert len(sent_notices.calls) == 1
    notice = sent_notices.calls[0]
    assert (notice.kind, notice.channel, notice.address) == ("capture_receipt", "sms", PHONE)
    assert notice.contact_id == hcp.pk
    assert notice.body == entries[0].evidence["receipt"]
    assert "Podcast program: text messages and calls, up to 4 msgs/mo." in notice.body
    assert "Promo program: text messages, up to 4 msgs/mo." in notice.body
    assert "Consent is not a condition of purchase." in notice.body
    assert "Reply STOP to opt out, HELP for help." in notice.body
    assert notice.key == f"receipt:{entries[0].evidence['capture']}"
    assert notice.program_id in {podcast.pk, promo.pk}

    receipt = client.get(response["Location"])
    assert receipt.status_code == 200
    assert b"Reply STOP to opt out" in receipt.content
    assert b"Promo program" in receipt.content
    assert b"Sent to the person by text message" in receipt.content
    client.get(response["Location"])
    assert len(sent_notices.calls) == 1  # showing the receipt again sends nothing
    other = client.get(f"/consent/capture/{hcp.pk}/receipt/0000000000000000/")
    assert other.status_code == 404


def test_capture_by_typed_name_to_an_email_address(
    signed_in: Callable[[Role], Client],
    rep: User,
    hcp: Contact,
    newsletter: Program,
    sent_notices: SentNotices,
) -> None:
    response = signed_in(Role.FIELD_REP).post(
        f"/consent/capture/{hcp.pk}/",
        {"address": _address(hcp, "email"), "programs": ["newsletter"], "typed_name": "Ana P"},
    )
    assert response.status_code == 302
    entry = ConsentEntry.objects.get()
    assert (entry.address, entry.channel, entry.evidence["typed_name"]) == (EMAIL, "email", "Ana P")
    assert "signature" not in entry.evidence
    assert "unsubscribe link" in entry.evidence["receipt"]
    [notice] = sent_notices.calls
    assert (notice.kind, notice.channel, notice.address) == ("capture_receipt", "email", EMAIL)
    assert notice.subject == "Your consent record"
    assert notice.body.startswith(entry.evidence["receipt"])
    assert "Newsletter program: e-mails, up to 4 msgs/mo." in notice.body
    assert "Change or stop at any time: http://" in notice.body
    assert notice.program_id == newsletter.pk


def test_capture_on_a_landline_sends_the_receipt_by_email_or_says_it_could_not(
    signed_in: Callable[[Role], Client],
    west: Territory,
    podcast: Program,
    sent_notices: SentNotices,
) -> None:
    landline = "+442079460000"
    with_email = audience.contact(
        kind="hcp", last_name="Okafor", territory="W1", phone=landline, email="ok@clinic.example"
    )
    client = signed_in(Role.ADMIN)
    response = client.post(
        f"/consent/capture/{with_email.pk}/",
        {"address": _address(with_email, "phone"), "programs": ["podcast"], "typed_name": "O"},
    )
    assert response.status_code == 302
    assert [e.channel for e in ConsentEntry.objects.all()] == ["voice"]
    [notice] = sent_notices.calls
    assert (notice.channel, notice.address) == ("email", "ok@clinic.example")
    assert "Podcast program: calls" in notice.body
    assert "To stop calls, say so on any call or contact help@example.org." in notice.body
    page = client.get(response["Location"]).content.decode()
    assert "to the contact&#x27;s first e-mail address" in page

    sent_notices.clear()
    without = audience.contact(kind="hcp", last_name="Ng", territory="W1", phone="+33142685300")
    response = client.post(
        f"/consent/capture/{without.pk}/",
        {"address": _address(without, "phone"), "programs": ["podcast"], "typed_name": "N"},
    )
    assert response.status_code == 302
    assert sent_notices.calls == []
    assert (
        "Not sent: the number takes no texts" in client.get(response["Location"]).content.decode()
    )


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, {"address", "programs", "signature"}),
        ({"address": "phone:999999", "programs": ["podcast"], "typed_name": "A"}, {"address"}),
        ({"address": "PHONE", "programs": ["nope"], "typed_name": "A"}, {"programs"}),
        ({"address": "EMAIL", "programs": ["promo"], "typed_name": "A"}, {"programs"}),
        ({"address": "PHONE", "programs": ["podcast"]}, {"signature"}),
        (
            {"address": "PHONE", "programs": ["podcast"], "signature": "data:image/png;base64,xx"},
            {"signature"},
        ),
        (
            {"address": "PHONE", "programs": ["podcast"], "signature": "javascript:alert(1)"},
            {"signature"},
        ),
    ],
)
def test_capture_errors_show_by_their_field_and_write_nothing(
    signed_in: Callable[[Role], Client],
    rep: User,
    hcp: Contact,
    podcast: Program,
    promo: Program,
    data: dict[str, object],
    fields: set[str],
) -> None:
    placeholders = {"PHONE": _address(hcp, "phone"), "EMAIL": _address(hcp, "email")}
    data = {k: placeholders.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    response = signed_in(Role.FIELD_REP).post(f"/consent/capture/{hcp.pk}/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was written." in html
    for field in fields:
        assert f'href="#{field}-field"' in html, field
    assert response.context["form"].errors.keys() == fields
    assert not ConsentEntry.objects.exists()


def test_capture_of_a_mixed_selection_is_all_or_nothing(
    signed_in: Callable[[Role], Client],
    rep: User,
    hcp: Contact,
    podcast: Program,
    promo: Program,
    monkeypatch: pytest.MonkeyPatch,
    sent_notices: SentNotices,
) -> None:
    """A failure on the second program leaves no entry from the first, and sends nothing."""
    real = consent_record
    calls = []

    def second_fails(**kwargs: object) -> object:
        calls.append(kwargs)
        if len(calls) == 2:
            raise ValidationError("Program promo is closed.", field="programs")
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("carereach.consent.services.consent_record", second_fails)
    response = signed_in(Role.FIELD_REP).post(
        f"/consent/capture/{hcp.pk}/",
        {"address": _address(hcp, "phone"), "programs": ["podcast", "promo"], "typed_name": "A"},
    )
    assert response.status_code == 400
    assert "Program promo is closed." in response.content.decode()
    assert len(calls) == 2
    assert not ConsentEntry.objects.exists()
    assert not ConsentState.objects.exists()
    assert sent_notices.calls == []  # no receipt for what was not recorded


# -- revocation --------------------------------------------------------------------------------


def test_revoke_needs_a_reason(
    signed_in: Callable[[Role], Client], rep: User, hcp: Contact, podcast: Program
) -> None:
    _grant(hcp, podcast)
    response = signed_in(Role.FIELD_REP).post(
        f"/consent/revoke/{hcp.pk}/",
        {"address": _address(hcp, "phone"), "channels": ["sms", "voice"], "scope": "all"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"reason"}
    assert 'href="#reason-field"' in response.content.decode()
    assert ConsentEntry.objects.filter(action="revoke").count() == 0


def test_revoke_all_programs_on_a_phone_covers_texts_and_calls(
    signed_in: Callable[[Role], Client], rep: User, hcp: Contact, podcast: Program
) -> None:
    _grant(hcp, podcast)
    _grant(hcp, podcast, EMAIL)
    client = signed_in(Role.FIELD_REP)
    form = client.get(f"/consent/revoke/{hcp.pk}/").context["form"]
    assert set(form.initial["channels"]) >= {"sms", "voice"}
    assert form["scope"].value() == "all"
    response = client.post(
        f"/consent/revoke/{hcp.pk}/",
        {
            "address": _address(hcp, "phone"),
            "channels": ["sms", "voice", "email"],  # e-mail does not apply to a phone
            "scope": "all",
            "reason": "Called the help line: stop everything",
        },
    )
    assert response.status_code == 302
    revokes = ConsentEntry.objects.filter(action="revoke")
    assert {(e.channel, e.program_id, e.method) for e in revokes} == {
        ("sms", None, "call_center"),
        ("voice", None, "call_center"),
    }
    assert revokes.first().reason == "Called the help line: stop everything"  # type: ignore[union-attr]
    assert not consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert not consent_check(address=PHONE, channel="voice", program=podcast).allowed
    assert consent_check(address=EMAIL, channel="email", program=podcast).allowed


def test_revoke_chosen_programs_only(
    signed_in: Callable[[Role], Client],
    rep: User,
    hcp: Contact,
    podcast: Program,
    promo: Program,
) -> None:
    _grant(hcp, podcast)
    consent_record(
        contact=hcp,
        address=PHONE,
        channels=["sms"],
        programs=[promo],
        action="grant",
        method="in_person",
        actor=None,
        evidence={"typed_name": "Ana"},
    )
    client = signed_in(Role.FIELD_REP)
    missing = client.post(
        f"/consent/revoke/{hcp.pk}/",
        {"address": _address(hcp, "phone"), "channels": ["sms"], "scope": "some", "reason": "x"},
    )
    assert missing.context["form"].errors.keys() == {"programs"}
    response = client.post(
        f"/consent/revoke/{hcp.pk}/",
        {
            "address": _address(hcp, "phone"),
            "channels": ["sms"],
            "scope": "some",
            "programs": ["promo"],
            "reason": "Asked at a visit to stop promotional texts only",
        },
    )
    assert response.status_code == 302
    assert not consent_check(address=PHONE, channel="sms", program=promo).allowed
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert consent_check(address=PHONE, channel="voice", program=podcast).allowed


def test_revoke_on_an_email_address_needs_the_email_channel(
    signed_in: Callable[[Role], Client], rep: User, hcp: Contact, podcast: Program
) -> None:
    response = signed_in(Role.FIELD_REP).post(
        f"/consent/revoke/{hcp.pk}/",
        {"address": _address(hcp, "email"), "channels": ["sms"], "scope": "all", "reason": "x"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"channels"}


# -- proof -------------------------------------------------------------------------------------


def test_proof_page_shows_every_entry_with_its_evidence_and_prints(
    signed_in: Callable[[Role], Client], hcp: Contact, podcast: Program
) -> None:
    _grant(hcp, podcast)
    consent_record(
        contact=hcp,
        address=PHONE,
        channels=["sms"],
        programs=[None],
        action="revoke",
        method="reply",
        actor=None,
        evidence={"inbound_message_id": "SM123"},
        reason="STOP",
    )
    client = signed_in(Role.COMPLIANCE)
    response = client.get(f"/consent/contacts/{hcp.pk}/proof/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="proof-entry"') == 3
    assert f'<img class="signature-image" src="{SIGNATURE}"' in html
    assert "Ana Pedersen" in html
    assert "SM123" in html
    assert "all programs" in html
    assert "Disclosure version" in html
    assert f"/consent/contacts/{hcp.pk}/proof.json" in html
    assert AuditEntry.objects.filter(object_type="consent_proof", action="read").exists()

    download = client.get(f"/consent/contacts/{hcp.pk}/proof.json")
    assert download.status_code == 200
    assert "attachment" in download["Content-Disposition"]
    data = json.loads(download.content)
    assert data["contact_id"] == hcp.pk
    assert len(data["history"]) == 3
    assert data["history"][0]["evidence"]["signature"] == SIGNATURE
    assert {s["channel"]: s["allowed_now"] for s in data["current"]} == {
        "sms": False,
        "voice": True,
    }


def test_a_forged_signature_is_not_shown_as_an_image(
    signed_in: Callable[[Role], Client], hcp: Contact, podcast: Program
) -> None:
    consent_record(
        contact=hcp,
        address=PHONE,
        channels=["sms"],
        programs=[podcast],
        action="grant",
        method="api",
        actor=None,
        evidence={"signature": 'data:text/html,<script>alert(1)</script>"'},
    )
    html = signed_in(Role.ADMIN).get(f"/consent/contacts/{hcp.pk}/proof/").content.decode()
    assert 'class="signature-image"' not in html
    assert "<script>alert(1)" not in html
    assert "unreadable" in html
