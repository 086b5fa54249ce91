"""Builders for campaign tests: programs, approved content and contacts through real services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth.models import User

from carereach.audience.models import Contact
from carereach.campaigns.models import Campaign
from carereach.campaigns.services.editing import CampaignInput, campaign_create
from carereach.consent.models import Program
from carereach.consent.services import consent_record
from carereach.content.models import ContentVersion
from carereach.security.roles import Role
from tests.audience import factories as audience
from tests.content import factories as content
from tests.messaging import factories as messaging

SENDER = "+18005550100"
TEXT = "Heart Matters: hi {{ first_name }}, episode 12 is out: {{ tracked_link }}"
PHONES = {
    "ny": "+12125550101",
    "la": "+14155550102",
    "hawaii": "+18085550103",
    "stranger": "+12125550104",
    "stopped": "+12125550105",
}
ZONES = {
    "ny": "America/New_York",
    "la": "America/Los_Angeles",
    "hawaii": "Pacific/Honolulu",
    "stranger": "America/New_York",
    "stopped": "America/New_York",
}


def program(code: str = "cardio", **overrides: Any) -> Program:
    fields: dict[str, Any] = {"sender_numbers": [SENDER], "name": "Heart Matters"} | overrides
    return content.program(code, **fields)


def approved_version(
    program: Program,
    *,
    author: User,
    reviewer: User,
    code: str = "episode-12",
    text: str = TEXT,
    bodies: list[Any] | None = None,
    **version: Any,
) -> ContentVersion:
    item = content.item(
        actor=author, code=code, program=program, bodies=bodies or [content.sms(text)], **version
    )
    return content.approve(content.first_version(item), author=author, reviewer=reviewer)


def person(name: str, program: Program | None, **fields: str) -> Contact:
    phone = PHONES[name]
    values = {"time_zone": ZONES[name], "first_name": name.title()} | fields
    if program is None:
        return audience.contact(kind="hcp", last_name="Doe", phone=phone, **values)
    return messaging.consented(phone, program, last_name="Doe", **values)


def revoke(contact: Contact, phone: str, program: Program) -> None:
    consent_record(
        contact=contact,
        address=phone,
        channels=["sms"],
        programs=[program],
        action="revoke",
        method="call_center",
        actor=None,
        reason="asked on the phone",
    )


def people(program: Program) -> dict[str, Contact]:
    made = {name: person(name, program) for name in ("ny", "la", "hawaii")}
    made["stranger"] = person("stranger", None)
    made["stopped"] = person("stopped", program)
    revoke(made["stopped"], PHONES["stopped"], program)
    return made


def campaign(
    *,
    actor: User,
    program: Program,
    version: ContentVersion,
    query: str = "kind = hcp",
    **fields: Any,
) -> Campaign:
    values: dict[str, Any] = {
        "name": "Episode 12",
        "program": program,
        "content_version": version,
        "channel": "sms",
        "query": query,
    } | fields
    return campaign_create(data=CampaignInput(**values), actor=actor)


# Monday 2026-11-23 17:00 UTC: noon in New York, 09:00 in Los Angeles, 07:00 in Honolulu
# (quiet hours there until 08:00, 18:00 UTC).
NOON_NY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


class Clock:
    """Stands in for `django.utils.timezone.now`: fixed until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class World:
    marketer: User
    reviewer: User
    program: Program
    version: ContentVersion
    people: dict[str, Contact] = field(default_factory=dict)


def world_make(users: dict[Role, User]) -> World:
    """An informational podcast program, its approved SMS episode, and HCPs: consented in New
    York, Los Angeles and Honolulu; one never consented; one who opted out."""
    made = program()
    version = approved_version(made, author=users[Role.MARKETER], reviewer=users[Role.COMPLIANCE])
    return World(
        marketer=users[Role.MARKETER],
        reviewer=users[Role.COMPLIANCE],
        program=made,
        version=version,
        people=people(made),
    )
