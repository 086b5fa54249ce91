"""Console pages: the dashboard with its charts and suppressed figures, the drill-down to
messages (not for analysts), CSV downloads, consent growth; and who may open what."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from carereach.audience.models import Territory
from carereach.consent.models import ConsentEntry
from carereach.consent.services import consent_record
from carereach.security.models import AuditEntry
from carereach.security.roles import Role
from tests.analytics.factories import World
from tests.audience import factories as audience

pytestmark = pytest.mark.django_db

SignedIn = Callable[[Role], Client]


def test_analyst_sees_aggregates_with_charts_and_no_drill_down(
    world: World, signed_in: SignedIn
) -> None:
    page = signed_in(Role.ANALYST).get(f"/analytics/?campaign={world.a.pk}&group=campaign")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<svg") >= 2
    assert "<script" not in html.split("</header>")[1]
    assert 'data-testid="cell-' + str(world.a.pk) + '-failed"' in html
    assert "&lt;11" in html  # the five failures and two opt-outs
    assert "/analytics/messages/" not in html
    assert "83.3%" in html
    assert "66.4-92.7%" in html
    assert signed_in(Role.ANALYST).get("/analytics/messages/?stage=sent").status_code == 403


def test_marketer_drills_down_from_a_figure_to_its_messages(
    world: World, signed_in: SignedIn
) -> None:
    client = signed_in(Role.MARKETER)
    html = client.get(f"/analytics/?group=campaign&campaign={world.a.pk}").content.decode()
    link = (
        f"/analytics/messages/?campaign={world.a.pk}&amp;group=campaign"
        f"&amp;key={world.a.pk}&amp;stage=clicked"
    )
    assert link in html
    page = client.get(link.replace("&amp;", "&"))
    assert page.status_code == 200
    shown = page.content.decode()
    clicked = {m.pk for m in world.messages_a[:12]}
    for message in world.messages_a:
        assert (f'data-testid="drill-message-{message.pk}"' in shown) == (message.pk in clicked)


def test_drill_down_by_period_and_bad_stage(world: World, signed_in: SignedIn) -> None:
    client = signed_in(Role.MARKETER)
    page = client.get("/analytics/messages/?group=day&key=2026-03-02&stage=failed")
    shown = page.content.decode()
    assert sum(f'drill-message-{m.pk}"' in shown for m in world.messages_a) == 5
    assert (
        client.get("/analytics/messages/?group=day&key=2026-03-03&stage=failed").content.count(
            b"drill-message-"
        )
        == 0
    )
    bad = client.get("/analytics/messages/?stage=teleported")
    assert bad.status_code == 400
    assert b"Unknown stage" in bad.content


def test_a_rep_sees_only_their_territory_in_a_drill_down(
    world: World, make_user: Callable[..., User]
) -> None:
    # The drill-down lists messages, scoped like every contact list: a rep with no territory
    # sees none of them; a rep whose territory holds person 3 sees that one message.
    client = Client()
    client.force_login(make_user(Role.FIELD_REP, "fred"))
    assert client.get("/analytics/").status_code == 403
    page = client.get("/analytics/messages/?stage=sent")
    assert page.status_code == 200
    assert b"drill-message-" not in page.content
    territory = Territory.objects.create(code="west", name="West")
    territory.reps.add(User.objects.get(username="fred"))
    person = world.people_a[3]
    person.territory = territory
    person.save()
    shown = client.get("/analytics/messages/?stage=sent").content.decode()
    assert shown.count('data-testid="drill-message-') == 1
    assert f'drill-message-{world.messages_a[3].pk}"' in shown


def test_bad_filters_are_shown_by_the_form(world: World, signed_in: SignedIn) -> None:
    page = signed_in(Role.ANALYST).get("/analytics/?start=2026-02-30")
    assert page.status_code == 400
    assert b"start: expected a date" in page.content


def test_csv_download_is_suppressed_and_audited(world: World, signed_in: SignedIn) -> None:
    response = signed_in(Role.ANALYST).get("/analytics/funnel.csv?group=campaign")
    assert response["Content-Type"].startswith("text/csv")
    rows = {r["label"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["Tiny"]["sent"] == "<11"
    assert rows["Tiny"]["delivered_rate"] == ""
    assert rows["Flu shots"]["opted_out"] == "<11"
    assert AuditEntry.objects.filter(action="export", object_type="analytics_report").exists()


def test_consent_growth_by_method_and_rep(world: World, signed_in: SignedIn, rep: User) -> None:
    for i in range(12):
        phone = f"+1415555{1000 + i}"
        person = audience.contact(kind="hcp", last_name=f"P{i}", phone=phone)
        consent_record(
            contact=person,
            address=phone,
            channels=["sms"],
            programs=[world.program],
            action="grant",
            method="in_person",
            evidence={"typed_name": "Dana Doe"},
            actor=rep,
        )
        if i < 3:
            consent_record(
                contact=person,
                address=phone,
                channels=["sms"],
                programs=[world.program],
                action="revoke",
                method="reply",
                actor=None,
            )
    assert ConsentEntry.objects.count() == 15
    client = signed_in(Role.ANALYST)
    html = client.get("/analytics/consent/?group=method").content.decode()
    assert "In person" in html
    assert ">12<" in html
    assert "&lt;11" in html
    by_rep = client.get("/api/v1/analytics/consent?group=rep")
    assert by_rep.status_code == 401  # the API wants a key, not a session
    text = client.get("/analytics/consent.csv?group=rep").content.decode()
    rows = {r["label"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["rita"]["grants"] == "12"
    assert rows["rita"]["revocations"] == "<11"
    assert rows["rita"]["net"] == ""


@pytest.mark.parametrize(
    "url", ["/analytics/", "/analytics/consent/", "/analytics/funnel.csv", "/analytics/messages/"]
)
def test_anonymous_goes_to_sign_in(url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert "/signin/" in response["Location"]


@pytest.mark.parametrize("role", [Role.FIELD_REP, Role.CARE_COORDINATOR])
def test_roles_without_analytics_get_403(world: World, signed_in: SignedIn, role: Role) -> None:
    for url in ("/analytics/", "/analytics/consent/", "/analytics/funnel.csv"):
        assert signed_in(role).get(url).status_code == 403
