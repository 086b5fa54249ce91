"""The policy engine and quiet hours, as pure functions: every rule, every reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carereach.messaging.policy.decide import Action, Candidate, Limits, SkipReason, decide
from carereach.messaging.policy.quiet_hours import US_ZONES, allowed_at, next_allowed

NY = ZoneInfo("America/New_York")
LIMITS = Limits()


def at_ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


BASE = Candidate(
    contact_id=1,
    channel="sms",
    address="+14155550101",
    program_type="informational",
    time_zone="America/New_York",
    state="NY",
    line_type="mobile",
    consent="granted",
)
NOON = at_ny(2026, 11, 23, 12)


def test_daytime_with_consent_sends_now() -> None:
    decision = decide(BASE, now=NOON, limits=LIMITS)
    assert decision.action == Action.SEND
    assert decision.due_at == NOON


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"contact_status": "deceased"}, SkipReason.CONTACT_INACTIVE),
        ({"address": ""}, SkipReason.NO_ADDRESS),
        ({"line_type": "landline"}, SkipReason.LANDLINE),
        ({"confidential_channel": "email"}, SkipReason.CONFIDENTIAL),
        ({"confidential_address": "+14155550999"}, SkipReason.CONFIDENTIAL),
        ({"suppressed": True}, SkipReason.SUPPRESSED),
        ({"consent": "none"}, SkipReason.NO_CONSENT),
        ({"consent": "pending"}, SkipReason.CONSENT_PENDING),
        ({"consent": "revoked"}, SkipReason.CONSENT_REVOKED),
        ({"consent": "expired"}, SkipReason.CONSENT_EXPIRED),
        ({"content_problem": "Version 3 was withdrawn."}, SkipReason.CONTENT_UNAVAILABLE),
        ({"eligible": False}, SkipReason.INELIGIBLE),
        ({"promotional": True, "sender_kind": "long_code"}, SkipReason.SENDER_TYPE),
        ({"promotional": True, "sender_kind": "toll_free"}, SkipReason.SENDER_TYPE),
        ({"program_type": "marketing", "sent_week": 3}, SkipReason.FREQUENCY_CAP),
        ({"program_type": "healthcare_exempt", "exempt_day": 1}, SkipReason.EXEMPT_LIMIT),
        ({"program_type": "healthcare_exempt", "exempt_week": 3}, SkipReason.EXEMPT_LIMIT),
        ({"program_type": "healthcare_exempt", "length": 161}, SkipReason.EXEMPT_TOO_LONG),
    ],
)
def test_each_rule_skips_with_its_reason(change: dict[str, object], reason: SkipReason) -> None:
    decision = decide(replace(BASE, **change), now=NOON, limits=LIMITS)  # type: ignore[arg-type]
    assert decision.action == Action.SKIP
    assert decision.code == reason
    assert decision.text


def test_landlines_still_get_calls_and_promotion_goes_on_short_codes() -> None:
    assert decide(replace(BASE, channel="voice", line_type="landline"), now=NOON, limits=LIMITS)
    promo = replace(BASE, promotional=True, sender_kind="short_code")
    assert decide(promo, now=NOON, limits=LIMITS).action == Action.SEND


def test_exempt_and_transactional_need_no_prior_consent_but_an_opt_out_stops_them() -> None:
    for kind in ("healthcare_exempt", "transactional"):
        fresh = replace(BASE, program_type=kind, consent="none")
        assert decide(fresh, now=NOON, limits=LIMITS).action == Action.SEND
        stopped = replace(fresh, consent="revoked")
        assert decide(stopped, now=NOON, limits=LIMITS).code == SkipReason.CONSENT_REVOKED


def test_clinical_lane_bypasses_marketing_caps_but_not_consent() -> None:
    capped = replace(BASE, program_type="marketing", sent_week=9, bypass_caps=True)
    assert decide(capped, now=NOON, limits=LIMITS).action == Action.SEND
    revoked = replace(capped, consent="revoked")
    assert decide(revoked, now=NOON, limits=LIMITS).action == Action.SKIP


def test_caps_are_the_operators() -> None:
    limits = Limits(caps_per_week={"marketing": 1, "informational": 5})
    assert decide(replace(BASE, sent_week=4), now=NOON, limits=limits).action == Action.SEND
    assert decide(replace(BASE, sent_week=5), now=NOON, limits=limits).action == Action.SKIP


def test_a_late_evening_text_is_held_until_eight_local() -> None:
    decision = decide(BASE, now=at_ny(2026, 11, 23, 21, 30), limits=LIMITS)
    assert decision.action == Action.HOLD
    assert decision.due_at == at_ny(2026, 11, 24, 8)
    assert decision.code == "quiet_hours"


def test_email_is_not_held_for_quiet_hours() -> None:
    email = replace(BASE, channel="email", address="a@example.org")
    assert decide(email, now=at_ny(2026, 11, 23, 23), limits=LIMITS).action == Action.SEND


def test_a_hold_past_the_expiry_is_a_skip() -> None:
    now = at_ny(2026, 11, 23, 22)
    decision = decide(BASE, now=now, limits=LIMITS, expires_at=now + timedelta(hours=2))
    assert decision.code == SkipReason.EXPIRED


@pytest.mark.parametrize(("state", "allowed"), [("FL", False), ("MD", False), ("GA", True)])
def test_stricter_states_end_at_eight(state: str, allowed: bool) -> None:
    half_past_eight = at_ny(2026, 11, 23, 20, 30)
    assert allowed_at(half_past_eight, time_zone="America/New_York", state=state) is allowed


def test_spring_forward_holds_until_eight_local_daylight_time() -> None:
    # 2026-03-08: clocks go from 02:00 EST to 03:00 EDT. 01:30 EST is 06:30 UTC.
    before = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)
    due = next_allowed(before, time_zone="America/New_York")
    assert due == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert due.astimezone(NY).hour == 8


def test_fall_back_holds_until_eight_local_standard_time() -> None:
    before = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the hour repeats
    due = next_allowed(before, time_zone="America/New_York")
    assert due == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert due.astimezone(NY).hour == 8


def test_unknown_zone_uses_the_window_legal_everywhere() -> None:
    # 10:00 in New York is 05:00 in Honolulu: too early somewhere.
    assert not allowed_at(at_ny(2026, 11, 23, 10), time_zone="")
    due = next_allowed(at_ny(2026, 11, 23, 10), time_zone="")
    for name in US_ZONES:
        local = due.astimezone(ZoneInfo(name)).time()
        assert 8 <= local.hour < 21, name
    assert due.astimezone(ZoneInfo("Pacific/Honolulu")).hour == 8
    assert (
        decide(
            replace(BASE, time_zone="Not/AZone"), now=at_ny(2026, 11, 23, 10), limits=LIMITS
        ).action
        == Action.HOLD
    )


@given(
    st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(2028, 12, 31),  # noqa: DTZ001 - and adds the zone itself
        timezones=st.just(UTC),
    ),
    st.sampled_from([*US_ZONES, "", "Europe/Madrid"]),
    st.sampled_from(["", "FL", "CA"]),
)
def test_next_allowed_is_allowed_and_nothing_earlier_was(
    at: datetime, zone: str, state: str
) -> None:
    due = next_allowed(at, time_zone=zone, state=state)
    assert due >= at
    assert allowed_at(due, time_zone=zone, state=state)
    if due > at:  # the minute before the answer was still quiet
        assert not allowed_at(max(at, due - timedelta(minutes=1)), time_zone=zone, state=state)
