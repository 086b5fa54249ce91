"""Funnels and rates against the hand-counted world (tests/analytics/factories.py), through the
REST API and the selectors, with small-cell suppression and the attribution of conversions."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from carereach.analytics.selectors import Filters, funnel_rows, funnel_tables
from carereach.security.roles import Role
from tests.analytics import factories
from tests.analytics.factories import SENT, World

pytestmark = pytest.mark.django_db

Api = Callable[[Role], Client]


def _convert(client: Client, world: World, people: range, **fields: Any) -> list[Any]:
    answers = []
    for i in people:
        body = {
            "contact": world.people_a[i].pk,
            "kind": "appointment_attended",
            "occurred_at": (SENT + timedelta(days=2)).isoformat(),
        } | fields
        response = client.post(
            "/api/v1/conversions", data=json.dumps(body), content_type="application/json"
        )
        answers.append(response)
    return answers


def _stages(row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {stage["stage"]: stage for stage in row["stages"]}


def test_campaign_funnel_matches_the_hand_count(world: World, api: Api) -> None:
    for response in _convert(api(Role.MARKETER), world, range(11)):
        assert response.status_code == 201, response.json()
    body = api(Role.ANALYST).get(f"/api/v1/analytics/funnel?campaign={world.a.pk}").json()
    assert body["small_cell_threshold"] == 11
    (row,) = body["rows"]
    stages = _stages(row)
    counts = {code: stage["count"] for code, stage in stages.items()}
    assert counts == {
        "sent": 30,
        "delivered": 25,
        "failed": None,  # 5 people: suppressed
        "clicked": 12,  # people's clicks only; a second click by one person counts once
        "replied": 11,
        "converted": 11,
        "opted_out": None,  # 2 people
    }
    assert stages["failed"]["shown"] == "<11"
    assert stages["failed"]["rate"] is None
    assert stages["opted_out"]["shown"] == "<11"
    assert stages["opted_out"]["rate"] is None
    # Rates and Wilson 95% intervals, worked by hand (and matching statsmodels' "wilson").
    expected = {
        "delivered": (25 / 30, 0.6644, 0.9266),
        "clicked": (12 / 30, 0.2459, 0.5768),
        "replied": (11 / 30, 0.2187, 0.5449),
        "converted": (11 / 30, 0.2187, 0.5449),
    }
    for code, (share, low, high) in expected.items():
        assert stages[code]["rate"] == pytest.approx(share)
        assert stages[code]["rate_low"] == pytest.approx(low, abs=5e-5)
        assert stages[code]["rate_high"] == pytest.approx(high, abs=5e-5)
        assert stages[code]["base"] == "sent"
    assert row["mean_seconds_to_first_click"] == pytest.approx(20 * 60, abs=1)


def test_every_cell_of_a_small_campaign_is_suppressed(world: World, api: Api) -> None:
    body = api(Role.ANALYST).get(f"/api/v1/analytics/funnel?campaign={world.b.pk}").json()
    (row,) = body["rows"]
    assert all(s["shown"] == "<11" and s["count"] is None for s in row["stages"])
    assert all(s["rate"] is None for s in row["stages"])
    assert row["mean_seconds_to_first_click"] is None


def test_grouped_by_campaign_channel_content_and_rep(world: World) -> None:
    by_campaign = {r.label: r for r in funnel_rows(filters=Filters(), group="campaign")}
    assert set(by_campaign) == {"Flu shots", "Tiny"}
    assert by_campaign["Flu shots"].key == str(world.a.pk)
    assert by_campaign["Tiny"].stages["sent"].messages == 8
    (sms,) = funnel_rows(filters=Filters(), group="channel")
    assert (sms.key, sms.stages["sent"].messages, sms.stages["sent"].people) == ("sms", 38, 38)
    (flu,) = funnel_rows(filters=Filters(), group="content")
    assert (flu.label, flu.stages["delivered"].messages) == ("Flu shots", 33)
    by_rep = {r.label: r for r in funnel_rows(filters=Filters(), group="rep")}
    assert by_rep["rita"].stages["sent"].people == 15
    assert by_rep["rita"].stages["clicked"].people == 12
    assert by_rep["No rep"].stages["sent"].people == 23
    (day,) = funnel_rows(filters=Filters(), group="day")
    assert day.key == "2026-03-02"
    (week,) = funnel_rows(filters=Filters(), group="week")
    assert week.key == "2026-03-02"  # a Monday
    (month,) = funnel_rows(filters=Filters(), group="month")
    assert month.key == "2026-03-01"


def test_time_period_filters_the_messages(world: World, api: Api) -> None:
    client = api(Role.ANALYST)
    before = client.get("/api/v1/analytics/funnel?end=2026-03-01").json()["rows"][0]
    assert _stages(before)["sent"]["shown"] == "<11"
    on_the_day = client.get("/api/v1/analytics/funnel?start=2026-03-02&end=2026-03-02").json()
    assert _stages(on_the_day["rows"][0])["sent"]["count"] == 38


def test_csv_is_suppressed_like_the_screen(world: World, api: Api) -> None:
    response = api(Role.ANALYST).get(
        f"/api/v1/analytics/funnel.csv?campaign={world.a.pk}&group=campaign"
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    assert rows[0]["sent"] == "30"
    assert rows[0]["failed"] == "<11"
    assert rows[0]["failed_rate"] == ""
    assert rows[0]["delivered_rate"] == "0.8333"
    assert rows[0]["clicked_rate_low"] == "0.2459"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("group=colour", "group"),
        ("start=2026-13-01", "start"),
        ("start=2026-03-02&end=2026-03-01", "end"),
        ("channel=fax", "channel"),
        ("campaign=abc", "campaign"),
    ],
)
def test_bad_parameters_are_refused_by_field(
    world: World, api: Api, query: str, field: str
) -> None:
    response = api(Role.ANALYST).get(f"/api/v1/analytics/funnel?{query}")
    assert response.status_code == 400
    assert response.json()["field"] == field


@pytest.mark.parametrize("role", [Role.FIELD_REP, Role.CARE_COORDINATOR])
def test_roles_without_analytics_are_refused(world: World, api: Api, role: Role) -> None:
    assert api(role).get("/api/v1/analytics/funnel").status_code == 403
    assert api(role).get("/api/v1/analytics/consent").status_code == 403


def test_anonymous_is_refused() -> None:
    assert Client().get("/api/v1/analytics/funnel").status_code == 401


# -- conversions and attribution ---------------------------------------------------------------


def test_conversion_is_credited_to_the_last_message_in_the_window(world: World, api: Api) -> None:
    client = api(Role.MARKETER)
    person = world.people_a[0]
    later = factories.text(world.b, person, at=SENT + timedelta(days=1))
    (inside,) = _convert(client, world, range(1))
    assert inside.status_code == 201
    assert inside.json()["message"] == later.pk  # the later of the two messages
    assert inside.json()["window_days"] == 7
    assert later.events.filter(kind="converted").count() == 1


def test_conversion_outside_the_window_is_not_credited(world: World, api: Api) -> None:
    client = api(Role.MARKETER)
    late = SENT + timedelta(days=7, minutes=1)
    (outside,) = _convert(client, world, range(1), occurred_at=late.isoformat())
    assert outside.status_code == 201
    assert outside.json()["message"] is None
    (wider,) = _convert(client, world, range(1), occurred_at=late.isoformat(), window_days=8)
    assert wider.json()["message"] == world.messages_a[0].pk
    (before,) = _convert(
        client, world, range(1), occurred_at=(SENT - timedelta(hours=1)).isoformat()
    )
    assert before.json()["message"] is None


def test_undelivered_messages_get_no_credit(world: World, api: Api) -> None:
    world.messages_a[27].status = "undelivered"
    world.messages_a[27].save()
    (answer,) = _convert(api(Role.MARKETER), world, range(27, 28))
    assert answer.json()["message"] is None


def test_conversion_default_window_comes_from_settings(
    world: World, api: Api, settings: Any
) -> None:
    settings.ATTRIBUTION_WINDOW_DAYS = 1
    (answer,) = _convert(api(Role.MARKETER), world, range(1))
    assert answer.json()["message"] is None
    assert answer.json()["window_days"] == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "bought_a_boat"}, "kind"),
        ({"occurred_at": "2099-01-01T00:00:00Z"}, "occurred_at"),
        ({"value": "-1"}, "value"),
        ({"window_days": 0}, "window_days"),
        ({"window_days": 91}, "window_days"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
    ],
)
def test_bad_conversions_are_refused_by_field(
    world: World, api: Api, fields: dict[str, Any], field: str
) -> None:
    (answer,) = _convert(api(Role.MARKETER), world, range(1), **fields)
    assert answer.status_code == 400, answer.json()
    assert answer.json()["field"] == field


def test_a_repeated_reference_is_a_conflict_and_writes_nothing(world: World, api: Api) -> None:
    client = api(Role.MARKETER)
    (first,) = _convert(client, world, range(1), reference="ehr-1")
    (again,) = _convert(client, world, range(1), reference="ehr-1")
    assert (first.status_code, again.status_code) == (201, 409)
    assert world.messages_a[0].events.filter(kind="converted").count() == 1


def test_conversions_need_edit_contacts_and_a_visible_contact(world: World, api: Api) -> None:
    (analyst,) = _convert(api(Role.ANALYST), world, range(1))
    assert analyst.status_code == 403
    (rep,) = _convert(api(Role.FIELD_REP), world, range(1))  # not in the rep's territory
    assert rep.status_code == 404


def test_several_groupings_in_one_statement_match_one_at_a_time(world: World) -> None:
    groups = ["total", "campaign", "day", "channel", "rep", "content", "version", "program"]
    with CaptureQueriesContext(connection) as queries:
        together = funnel_tables(filters=Filters(), groups=groups)
    assert sum("WITH scoped" in q["sql"] for q in queries) == 1
    for group in groups:
        alone = funnel_rows(filters=Filters(), group=group)
        assert [(r.key, r.label, r.stages) for r in together[group]] == [
            (r.key, r.label, r.stages) for r in alone
        ]
