"""The inbox: replies from the console, and a person deciding what an unclear text meant."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from carereach.audience.models import Contact, Territory
from carereach.consent.models import Program
from carereach.consent.selectors import consent_check
from carereach.messaging.models import InboundMessage, Lane, Message
from carereach.messaging.runtime import worker_tick
from carereach.messaging.services.ingest import sandbox_text_in
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.messaging import factories as messaging

pytestmark = pytest.mark.django_db

PHONE = messaging.PHONE
SENDER = messaging.SENDER


@pytest.fixture
def program(texting: Program) -> Program:
    return texting


def _texts(body: str) -> InboundMessage:
    sandbox_text_in(from_number=PHONE, to=SENDER, body=body)
    worker_tick("w1")
    return InboundMessage.objects.order_by("-id").first()  # type: ignore[return-value]


def allowed(program: Program) -> bool:
    return consent_check(address=PHONE, channel="sms", program=program).allowed


def test_an_unclear_text_waits_for_review_and_can_be_undone(
    program: Program, signed_in: Callable[[Role], Client]
) -> None:
    inbound = _texts("stop lol")
    assert inbound.needs_review
    assert not allowed(program)  # an opt-out until someone decides
    client = signed_in(Role.CARE_COORDINATOR)
    page = client.get("/inbox/", {"review": "1"})
    assert [item["inbound"].pk for item in page.context["items"]] == [inbound.pk]
    refused = client.post(f"/inbox/{inbound.pk}/", {"action": "reply", "body": "Sorry!"})
    assert refused.status_code == 400
    assert "waits for review" in refused.context["error"]

    done = client.post(f"/inbox/{inbound.pk}/", {"action": "not_opt_out"})
    assert done.status_code == 302
    assert allowed(program)
    inbound.refresh_from_db()
    assert (inbound.needs_review, inbound.reviewed_by) == (False, "care_coordinator-user")
    assert AuditEntry.objects.filter(object_type="inbound_review").count() == 1
    again = client.post(f"/inbox/{inbound.pk}/", {"action": "not_opt_out"})
    assert again.status_code == 400  # reviewed once


def test_keeping_it_as_an_opt_out_leaves_consent_revoked_and_replies_refused(
    program: Program, signed_in: Callable[[Role], Client]
) -> None:
    inbound = _texts("Make it stop")
    client = signed_in(Role.ADMIN)
    client.post(f"/inbox/{inbound.pk}/", {"action": "keep_opt_out"})
    assert not allowed(program)
    refused = client.post(f"/inbox/{inbound.pk}/", {"action": "reply", "body": "Why?"})
    assert refused.status_code == 400
    assert "opted out" in refused.context["error"]
    assert not Message.objects.filter(origin="inbox").exists()


def test_a_reply_from_the_inbox_reaches_the_phone(
    program: Program, signed_in: Callable[[Role], Client]
) -> None:
    inbound = _texts("Is the episode out yet?")
    assert inbound.category == ""
    client = signed_in(Role.CARE_COORDINATOR)
    page = client.get(f"/inbox/{inbound.pk}/")
    assert "Is the episode out yet?" in page.content.decode()
    response = client.post(
        f"/inbox/{inbound.pk}/", {"action": "reply", "body": "Yes, since Monday."}
    )
    assert response.status_code == 302
    reply = Message.objects.get(origin="inbox")
    assert (reply.lane, reply.address, reply.sender) == (Lane.CLINICAL, PHONE, SENDER)
    worker_tick("w1")
    thread = client.get(f"/inbox/{inbound.pk}/").context["thread"]
    assert [item.body for item in thread] == ["Is the episode out yet?", "Yes, since Monday."]
    empty = client.post(f"/inbox/{inbound.pk}/", {"action": "reply", "body": "  "})
    assert empty.status_code == 400


def test_scoping_reps_analysts_and_unknown_numbers(
    program: Program, signed_in: Callable[[Role], Client]
) -> None:
    inbound = _texts("hello?")
    Contact.objects.filter(pk=inbound.contact_id).update(
        territory=Territory.objects.create(code="E9", name="East")
    )
    assert signed_in(Role.FIELD_REP).get(f"/inbox/{inbound.pk}/").status_code == 404
    assert signed_in(Role.ANALYST).get("/inbox/").status_code == 403
    sandbox_text_in(from_number="+14155550177", to=SENDER, body="who is this?")
    worker_tick("w1")
    stranger = InboundMessage.objects.get(from_number="+14155550177")
    assert stranger.contact_id is None
    assert signed_in(Role.ADMIN).get(f"/inbox/{stranger.pk}/").status_code == 200
    assert signed_in(Role.FIELD_REP).get(f"/inbox/{stranger.pk}/").status_code == 404
