"""Experiments: a fixed split into a hold-out control and variants (the same in Python and in
SQL), results against the control with the z-test, and plain words when data is short."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import QuerySet
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from carereach.analytics.experiments import CONTROL, arm_of, arms_layout, bucket, seed_for
from carereach.analytics.models import Conversion, Experiment
from carereach.analytics.stats import two_proportion_test, wilson
from carereach.audience.models import Contact
from carereach.audience.segments.compiler import segment_filter, validate_segment
from carereach.audience.segments.errors import SegmentSyntaxError
from carereach.audience.segments.fields import default_contact_schema
from carereach.security.roles import Role
from tests.analytics.factories import T0

pytestmark = pytest.mark.django_db

Api = Callable[[Role], Client]


def _body(**fields: Any) -> dict[str, Any]:
    return {
        "code": "flu-timing",
        "name": "Morning or evening",
        "query": "kind = hcp",
        "holdout_percent": 20,
        "arms": [{"code": "a", "note": "9am"}, {"code": "b", "note": "6pm"}],
        "conversion_kind": "appointment_attended",
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(days=30)).isoformat(),
    } | fields


def _post(client: Client, body: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/experiments", data=json.dumps(body), content_type="application/json"
    )


def _people(n: int) -> QuerySet[Contact]:
    Contact.objects.bulk_create(
        [Contact(kind="hcp", created_at=T0, updated_at=T0) for _ in range(n)]
    )
    return Contact.objects.all()


def test_layout_gives_every_bucket_one_arm() -> None:
    arms = arms_layout(20, [("a", 1), ("b", 3)])
    assert [(a.code, a.low, a.high) for a in arms] == [
        (CONTROL, 0, 20),
        ("a", 20, 40),
        ("b", 40, 100),
    ]
    assert [(a.code, a.low, a.high) for a in arms_layout(0, [("a", 1)])] == [("a", 0, 100)]
    for bad in ((60, [("a", 1)]), (10, []), (10, [("a", 0)]), (10, [("control", 1)])):
        with pytest.raises(ValueError):  # noqa: PT011 - the messages are checked through the API
            arms_layout(*bad)


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=1, max_value=10**4))
def test_bucket_is_in_range(contact_id: int, experiment_id: int) -> None:
    assert 0 <= bucket(contact_id, seed_for(experiment_id)) < 100


def test_sql_split_matches_python_and_is_balanced(api: Api) -> None:
    people = _people(400)
    created = _post(api(Role.MARKETER), _body())
    assert created.status_code == 201, created.json()
    experiment = Experiment.objects.get(code="flu-timing")
    arms = arms_layout(20, [("a", 1), ("b", 1)])
    seed = seed_for(experiment.pk)
    schema = default_contact_schema()
    sizes = {}
    for arm in ("control", "a", "b"):
        members = set(
            segment_filter(people, f'variant("flu-timing", "{arm}")', schema).values_list(
                "pk", flat=True
            )
        )
        expected = {p.pk for p in people if arm_of(p.pk, seed, arms) == arm}
        assert members == expected
        sizes[arm] = len(members)
    assert sum(sizes.values()) == 400
    assert 50 <= sizes["control"] <= 110
    assert 130 <= sizes["a"] <= 210


def test_results_compare_each_variant_with_the_control(api: Api) -> None:
    people = list(_people(1000))
    _post(api(Role.MARKETER), _body())
    experiment = Experiment.objects.get(code="flu-timing")
    arms = arms_layout(20, [("a", 1), ("b", 1)])
    seed = seed_for(experiment.pk)
    by_arm: dict[str, list[Contact]] = {"control": [], "a": [], "b": []}
    for person in people:
        by_arm[arm_of(person.pk, seed, arms)].append(person)
    share = {"control": 0.1, "a": 0.3, "b": 0.12}
    converted = {}
    for arm, members in by_arm.items():
        chosen = members[: int(len(members) * share[arm])]
        converted[arm] = len(chosen)
        Conversion.objects.bulk_create(
            [
                Conversion(
                    contact=p,
                    kind="appointment_attended",
                    occurred_at=T0 + timedelta(days=3),
                    window_days=7,
                    recorded_at=T0,
                )
                for p in chosen
            ]
        )
    # Outside the window or of another kind: not counted.
    Conversion.objects.create(
        contact=by_arm["control"][-1],
        kind="appointment_attended",
        occurred_at=T0 + timedelta(days=31),
        window_days=7,
        recorded_at=T0,
    )
    result = api(Role.ANALYST).get("/api/v1/experiments/flu-timing").json()
    arms_out = {arm["code"]: arm for arm in result["arms"]}
    for arm, members in by_arm.items():
        assert arms_out[arm]["people"] == len(members)
        assert arms_out[arm]["converted"] == converted[arm]
        interval = wilson(converted[arm], len(members))
        assert interval is not None
        assert arms_out[arm]["rate_low"] == pytest.approx(interval.low)
    assert arms_out["control"]["against_control"] is None
    a = arms_out["a"]["against_control"]
    expected = two_proportion_test(
        converted["control"], len(by_arm["control"]), converted["a"], len(by_arm["a"])
    )
    assert a["p_value"] == pytest.approx(expected.p_value)
    assert a["enough_data"] is True
    assert a["verdict"].startswith("The variant's rate is higher")
    b = arms_out["b"]["against_control"]
    assert b["verdict"].startswith("No clear difference")
    assert arms_out["a"]["segment"] == 'variant("flu-timing", "a")'


def test_small_experiments_say_there_is_not_enough_data(api: Api, signed_in: Any) -> None:
    _people(40)
    _post(api(Role.MARKETER), _body())
    result = api(Role.ANALYST).get("/api/v1/experiments/flu-timing").json()
    for arm in result["arms"]:
        assert arm["people_shown"] in ("<11",) or arm["people"] >= 11
        assert arm["converted_shown"] == "<11"
        assert arm["rate"] is None
    verdict = result["arms"][1]["against_control"]
    assert verdict["enough_data"] is False
    assert verdict["verdict"].startswith("Not enough data")
    page = signed_in(Role.ANALYST).get("/analytics/experiments/")
    assert page.status_code == 200
    assert b"Not enough data yet" in page.content


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"holdout_percent": 60}, "holdout_percent"),
        ({"arms": [{"code": "control"}]}, "arms"),
        ({"arms": []}, "arms"),
        ({"arms": [{"code": "a", "weight": 0}]}, "arms"),
        ({"query": "kind = "}, "query"),
        ({"conversion_kind": "nap"}, "conversion_kind"),
        ({"ends_at": T0.isoformat()}, "ends_at"),
        ({"code": "Not A Slug"}, "code"),
    ],
)
def test_bad_experiments_are_refused_by_field(api: Api, fields: dict[str, Any], field: str) -> None:
    response = _post(api(Role.MARKETER), _body(**fields))
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert not Experiment.objects.exists()


def test_duplicate_code_conflicts_and_roles_are_checked(api: Api) -> None:
    assert _post(api(Role.ANALYST), _body()).status_code == 403
    assert _post(api(Role.MARKETER), _body()).status_code == 201
    assert _post(api(Role.MARKETER), _body()).status_code == 409
    assert api(Role.FIELD_REP).get("/api/v1/experiments/flu-timing").status_code == 403
    assert api(Role.ANALYST).get("/api/v1/experiments/nope").status_code == 404


def test_variant_predicate_errors(api: Api) -> None:
    _post(api(Role.MARKETER), _body())
    schema = default_contact_schema()
    with pytest.raises(SegmentSyntaxError, match='no experiment "nope"'):
        validate_segment('variant("nope", "a")', schema=schema)
    with pytest.raises(SegmentSyntaxError, match="variant\\(\\) needs"):
        validate_segment('variant("flu-timing")', schema=schema)
    response = api(Role.MARKETER).post(
        "/api/v1/segments/count",
        data=json.dumps({"query": 'variant("flu-timing", "zzz")'}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert 'has no arm "zzz"' in response.json()["message"]
