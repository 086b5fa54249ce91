"""The consent ledger: append-only entries, live state equal to a replay, and the rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase as HypothesisTestCase

from carereach.audience.models import Contact, Phone
from carereach.consent import ledger
from carereach.consent.models import ConsentEntry, ConsentState, Program
from carereach.consent.selectors import consent_check, consented_q
from carereach.consent.services import consent_record, consent_void_reassigned
from carereach.errors import ValidationError
from tests.audience import factories as audience
from tests.consent import factories

pytestmark = pytest.mark.django_db

PHONE = "+14155550101"
OTHER = "+14155550102"


@pytest.fixture
def person() -> Contact:
    return audience.contact(
        kind="hcp", last_name="Ruiz", phone=PHONE, phone2=OTHER, email="ruiz@example.org"
    )


def grant(person: Contact, program: Program, **kw: object) -> None:
    consent_record(
        contact=person,
        address=kw.pop("address", PHONE),
        channels=kw.pop("channels", ["sms"]),
        programs=[program],
        action="grant",
        method=kw.pop("method", "verbal"),
        actor=None,
        **kw,
    )


def revoke(person: Contact, programs: list[Program | None], **kw: object) -> None:
    consent_record(
        contact=person,
        address=kw.pop("address", PHONE),
        channels=kw.pop("channels", ["sms"]),
        programs=programs,
        action="revoke",
        method=kw.pop("method", "reply"),
        actor=None,
        **kw,
    )


def test_grant_then_revoke_then_regrant(person: Contact) -> None:
    podcast = factories.program()
    assert consent_check(address=PHONE, channel="sms", program=podcast).reason == "no_consent"
    grant(person, podcast)
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed
    revoke(person, [podcast])
    assert consent_check(address=PHONE, channel="sms", program=podcast).reason == "consent_revoked"
    grant(person, podcast)
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert ConsentEntry.objects.count() == 3


def test_consent_does_not_follow_the_person_to_another_number(person: Contact) -> None:
    podcast = factories.program()
    grant(person, podcast)
    assert not consent_check(address=OTHER, channel="sms", program=podcast).allowed
    assert not consent_check(address=PHONE, channel="voice", program=podcast).allowed


def test_revoke_all_programs_on_an_address(person: Contact) -> None:
    podcast, dosing = factories.program("podcast"), factories.program("dosing")
    grant(person, podcast)
    grant(person, dosing)
    grant(person, podcast, address=OTHER)
    revoke(person, [None])
    assert not consent_check(address=PHONE, channel="sms", program=podcast).allowed
    assert not consent_check(address=PHONE, channel="sms", program=dosing).allowed
    assert consent_check(address=OTHER, channel="sms", program=podcast).allowed


def test_expiry(person: Contact) -> None:
    podcast = factories.program()
    expires = timezone.now() + timedelta(days=30)
    grant(person, podcast, expires_at=expires)
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed
    later = expires + timedelta(seconds=1)
    assert consent_check(address=PHONE, channel="sms", program=podcast, now=later).reason == (
        "consent_expired"
    )
    with pytest.raises(ValidationError, match="expiry is in the past"):
        grant(person, podcast, expires_at=timezone.now() - timedelta(days=1))


def test_revocation_wins_a_tie(person: Contact) -> None:
    podcast = factories.program()
    at = timezone.now() - timedelta(hours=1)
    revoke(person, [podcast], occurred_at=at)
    grant(person, podcast, occurred_at=at)
    assert consent_check(address=PHONE, channel="sms", program=podcast).reason == "consent_revoked"


def test_backdated_entry_is_folded_in_order(person: Contact) -> None:
    podcast = factories.program()
    now = timezone.now()
    grant(person, podcast, occurred_at=now - timedelta(days=1))
    # An import brings a revocation that happened before the grant: the grant still stands.
    revoke(person, [podcast], occurred_at=now - timedelta(days=10))
    assert consent_check(address=PHONE, channel="sms", program=podcast).allowed


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"address": "+14155559999"}, "address"),
        ({"channels": ["fax"]}, "channels"),
        ({"channels": ["letter"]}, "address"),
        ({"occurred_at": timezone.now() + timedelta(days=1)}, "occurred_at"),
    ],
)
def test_bad_input_writes_nothing(person: Contact, kwargs: dict[str, object], field: str) -> None:
    podcast = factories.program()
    with pytest.raises(ValidationError) as error:
        grant(person, podcast, **kwargs)
    assert error.value.field == field
    assert ConsentEntry.objects.count() == 0
    assert ConsentState.objects.count() == 0


def test_program_must_use_the_channel(person: Contact) -> None:
    sms_only = factories.program("smsonly", channels=["sms"])
    with pytest.raises(ValidationError, match="does not use email"):
        grant(person, sms_only, address="ruiz@example.org", channels=["email"])


def test_marketing_needs_written_evidence(person: Contact) -> None:
    promo = factories.program("promo", type="marketing")
    with pytest.raises(ValidationError, match="verbal cannot provide it"):
        grant(person, promo, method="verbal")
    with pytest.raises(ValidationError, match="needs evidence"):
        grant(person, promo, method="import")
    grant(person, promo, method="import", evidence={"source_file": "signed-forms-2026-03.zip"})
    grant(person, promo, method="in_person", evidence={"typed_name": "Ana Ruiz"})
    assert consent_check(address=PHONE, channel="sms", program=promo).allowed


def test_only_revocations_cover_every_program(person: Contact) -> None:
    with pytest.raises(ValidationError, match="Only a revocation"):
        consent_record(
            contact=person,
            address=PHONE,
            channels=["sms"],
            programs=[None],
            action="grant",
            method="verbal",
            actor=None,
        )


def test_reassigned_number_voids_older_consent(person: Contact) -> None:
    podcast = factories.program()
    grant(person, podcast, occurred_at=timezone.now() - timedelta(days=400))
    grant(person, podcast, address=OTHER)
    voided = consent_void_reassigned(
        disconnects=[
            (PHONE, timezone.now() - timedelta(days=100)),
            (OTHER, timezone.now() - timedelta(days=100)),
        ],
        actor=None,
    )
    assert voided == 1
    assert consent_check(address=PHONE, channel="sms", program=podcast).reason == "consent_revoked"
    assert consent_check(address=OTHER, channel="sms", program=podcast).allowed
    assert ConsentEntry.objects.filter(method="reassigned").count() == 1


def test_ledger_entries_are_never_changed_by_later_acts(person: Contact) -> None:
    podcast = factories.program()
    grant(person, podcast)
    first = ConsentEntry.objects.values().get()
    revoke(person, [podcast])
    assert ConsentEntry.objects.values().get(pk=first["id"]) == first


def test_set_based_check_for_a_batch(person: Contact) -> None:
    podcast = factories.program()
    grant(person, podcast)
    phones = Phone.objects.filter(consented_q(program=podcast, channel="sms", address_ref="e164"))
    assert list(phones.values_list("e164", flat=True)) == [PHONE]


# --- the state table always equals a replay of the ledger ---------------------------------

ACTIONS = st.sampled_from(["grant", "pending", "revoke", "revoke_all"])
STEP = st.tuples(
    ACTIONS,
    st.sampled_from([PHONE, OTHER]),
    st.sampled_from(["sms", "voice"]),
    st.integers(min_value=0, max_value=2),  # which program
    st.integers(min_value=0, max_value=30),  # days ago (backdated entries arrive out of order)
    st.booleans(),  # with an expiry
)


class LedgerReplayProperty(HypothesisTestCase):
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(STEP, min_size=1, max_size=12))
    def test_state_equals_replay(self, steps: list[tuple[str, str, str, int, int, bool]]) -> None:
        person = audience.contact(kind="hcp", last_name="P", phone=PHONE, phone2=OTHER)
        programs = [factories.program(f"p{i}") for i in range(3)]
        now = timezone.now()
        for action, address, channel, which, days_ago, expiring in steps:
            consent_record(
                contact=person,
                address=address,
                channels=[channel],
                programs=[None if action == "revoke_all" else programs[which]],
                action="revoke" if action == "revoke_all" else action,
                method="verbal",
                actor=None,
                occurred_at=now - timedelta(days=days_ago),
                expires_at=now + timedelta(days=5) if expiring and action == "grant" else None,
            )
        replayed = ledger.replay(
            ledger.Event(
                e.pk,
                e.contact_id,
                e.address,
                e.channel,
                e.program_id,
                e.action,
                e.occurred_at,
                e.expires_at,
            )
            for e in ConsentEntry.objects.all()
        )
        live = {
            (s.address, s.channel, s.program_id): (s.status, s.granted_at, s.expires_at)
            for s in ConsentState.objects.all()
        }
        expected = {k: (v.status, v.granted_at, v.expires_at) for k, v in replayed.items()}
        assert live == expected


def test_pure_replay_orders_by_time_and_revocation_wins() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        ledger.Event(2, 1, PHONE, "sms", 7, "revoke", t),
        ledger.Event(1, 1, PHONE, "sms", 7, "grant", t),
        ledger.Event(3, 1, PHONE, "sms", 7, "grant", t - timedelta(days=1)),
    ]
    state = ledger.replay(events)[(PHONE, "sms", 7)]
    assert state.status == "revoked"
    assert ledger.allowed(state, t)[1] == "consent_revoked"
    assert connection.vendor in {"sqlite", "postgresql"}
